#include "ram_view.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vmi::traps {

RamView::~RamView() {
  if (base_ != nullptr) munmap(base_, size_);
}

Status RamView::Open(const std::string& path, const std::vector<RamRange>& layout, bool writable) {
  const int fd = open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return Status::Error(TrapStatus::kIo, "cannot open guest RAM file: " + std::string(strerror(errno)));
  struct stat st{};
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    close(fd);
    return Status::Error(TrapStatus::kIo, "guest RAM file is empty or unreadable");
  }
  void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return Status::Error(TrapStatus::kIo, "cannot map guest RAM file: " + std::string(strerror(errno)));
  base_ = static_cast<uint8_t*>(p);
  size_ = static_cast<size_t>(st.st_size);
  writable_ = writable;
  layout_ = layout;
  if (layout_.empty()) layout_.push_back({0, 0, size_});
  for (const auto& r : layout_) {
    if (r.file_offset > size_ || r.length > size_ - r.file_offset) {
      return Status::Error(TrapStatus::kInvalidArgument, "RAM layout range lies outside the RAM file");
    }
  }
  return Status::Ok();
}

uint8_t* RamView::Translate(uint64_t phys, size_t len) const {
  if (base_ == nullptr) return nullptr;
  for (const auto& r : layout_) {
    if (phys >= r.phys && phys - r.phys < r.length && len <= r.length - (phys - r.phys)) {
      return base_ + r.file_offset + (phys - r.phys);
    }
  }
  return nullptr;
}

bool RamView::Read(uint64_t phys, uint8_t* out, size_t len) const {
  const uint8_t* p = Translate(phys, len);
  if (p == nullptr) return false;
  std::memcpy(out, p, len);
  return true;
}

bool RamView::Write(uint64_t phys, const uint8_t* data, size_t len) {
  if (!writable_) return false;
  uint8_t* p = Translate(phys, len);
  if (p == nullptr) return false;
  std::memcpy(p, data, len);
  return true;
}

}  // namespace vmi::traps
