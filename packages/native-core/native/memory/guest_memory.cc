#include "memory/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fault_guard.h"
#include "common/native_error.h"

namespace vmi {

namespace {

bool AddOverflows(uint64_t a, uint64_t b) { return a + b < a; }

NativeError OutOfRange(uint64_t phys, const char* what) {
  NativeError error(code::kOutOfRange, std::string(what));
  error.With("address", phys);
  return error;
}

}  // namespace

std::shared_ptr<GuestMemory> GuestMemory::Open(const std::string& path, bool writable, std::vector<LayoutRegion> layout) {
  std::shared_ptr<GuestMemory> mem(new GuestMemory());
  mem->path_ = path;
  mem->writable_ = writable;
  mem->fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (mem->fd_ < 0) Fail(code::kOpenFailed, "cannot open guest RAM file " + path + ": " + ErrnoText(errno));
  struct stat st;
  if (::fstat(mem->fd_, &st) != 0) Fail(code::kOpenFailed, "cannot stat guest RAM file: " + ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) Fail(code::kOpenFailed, "guest RAM is not a regular file: " + path);
  if (st.st_size <= 0) Fail(code::kOpenFailed, "guest RAM file is empty: " + path);
  mem->file_size_ = static_cast<uint64_t>(st.st_size);

  if (layout.empty()) layout.push_back(LayoutRegion{0, 0, mem->file_size_});
  std::sort(layout.begin(), layout.end(), [](const LayoutRegion& a, const LayoutRegion& b) { return a.guest_phys < b.guest_phys; });
  for (size_t i = 0; i < layout.size(); ++i) {
    const LayoutRegion& r = layout[i];
    if (r.length == 0) Fail(code::kBadArgument, "layout region has zero length");
    if (AddOverflows(r.guest_phys, r.length) || AddOverflows(r.file_offset, r.length)) {
      Fail(code::kBadArgument, "layout region wraps around the address space");
    }
    if (r.file_offset + r.length > mem->file_size_) {
      throw NativeError(code::kBadArgument, "layout region extends past the end of the file").With("guestPhys", r.guest_phys);
    }
    if (i > 0 && layout[i - 1].guest_phys + layout[i - 1].length > r.guest_phys) {
      throw NativeError(code::kBadArgument, "layout regions overlap").With("guestPhys", r.guest_phys);
    }
  }
  mem->layout_ = std::move(layout);

  void* base = ::mmap(nullptr, mem->file_size_, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, mem->fd_, 0);
  if (base == MAP_FAILED) Fail(code::kOpenFailed, "cannot map guest RAM file: " + ErrnoText(errno));
  mem->base_ = static_cast<uint8_t*>(base);
  return mem;
}

GuestMemory::~GuestMemory() {
  if (base_ != nullptr) ::munmap(base_, file_size_);
  if (fd_ >= 0) ::close(fd_);
}

void GuestMemory::EnsureBacked(const std::vector<Piece>& pieces) const {
  uint64_t needed = 0;
  for (const Piece& piece : pieces) needed = std::max<uint64_t>(needed, static_cast<uint64_t>(piece.host - base_) + piece.length);
  if (needed == 0) return;
  struct stat st;
  if (::fstat(fd_, &st) != 0) Fail(code::kFileTruncated, "cannot stat guest RAM file: " + ErrnoText(errno));
  if (static_cast<uint64_t>(st.st_size) < needed) {
    throw NativeError(code::kFileTruncated, "guest RAM file shrank below the range")
        .With("needed", needed)
        .With("size", static_cast<uint64_t>(st.st_size));
  }
}

const LayoutRegion* GuestMemory::RegionOf(uint64_t phys) const {
  // Last region starting at or below phys.
  auto it = std::upper_bound(layout_.begin(), layout_.end(), phys, [](uint64_t p, const LayoutRegion& r) { return p < r.guest_phys; });
  if (it == layout_.begin()) return nullptr;
  --it;
  return phys - it->guest_phys < it->length ? &*it : nullptr;
}

std::vector<GuestMemory::Piece> GuestMemory::Resolve(uint64_t phys, uint64_t length) const {
  std::vector<Piece> pieces;
  if (length == 0) return pieces;
  if (AddOverflows(phys, length - 1)) throw OutOfRange(phys, "range wraps around the physical address space");
  uint64_t cursor = phys;
  uint64_t left = length;
  while (left > 0) {
    const LayoutRegion* region = RegionOf(cursor);
    if (region == nullptr) throw OutOfRange(cursor, "no guest RAM at this physical address");
    uint64_t offset_in_region = cursor - region->guest_phys;
    uint64_t take = std::min(left, region->length - offset_in_region);
    pieces.push_back(Piece{base_ + region->file_offset + offset_in_region, static_cast<size_t>(take)});
    cursor += take;
    left -= take;
  }
  return pieces;
}

void GuestMemory::ReadPhys(uint64_t phys, uint8_t* out, size_t length) const {
  std::vector<Piece> pieces = Resolve(phys, length);
  EnsureBacked(pieces);
  for (const Piece& piece : pieces) {
    if (!GuardedMemcpy(out, piece.host, piece.length)) {
      throw NativeError(code::kFileTruncated, "guest RAM file shrank during a read").With("address", phys);
    }
    out += piece.length;
  }
}

void GuestMemory::WritePhys(uint64_t phys, const uint8_t* data, size_t length) {
  if (!writable_) Fail(code::kReadOnly, "guest memory was opened read-only");
  std::vector<Piece> pieces = Resolve(phys, length);
  EnsureBacked(pieces);
  for (const Piece& piece : pieces) {
    if (!GuardedMemcpy(const_cast<uint8_t*>(piece.host), data, piece.length)) {
      throw NativeError(code::kFileTruncated, "guest RAM file shrank during a write").With("address", phys);
    }
    data += piece.length;
  }
}

uint64_t GuestMemory::ReadU64(uint64_t phys) const {
  uint8_t bytes[8];
  ReadPhys(phys, bytes, sizeof bytes);
  uint64_t value;
  std::memcpy(&value, bytes, sizeof value);  // x86-64 guests and hosts are little-endian
  return value;
}

}  // namespace vmi
