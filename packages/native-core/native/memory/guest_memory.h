// A guest RAM file mapped into this process. Guest-physical addresses go through a layout (regions of
// {guest_phys, file_offset, length}); without one, the file offset is the physical address. Every
// access checks bounds first and runs under the SIGBUS guard, so a file truncated behind the mapping
// gives FILE_TRUNCATED instead of killing the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vmi {

struct LayoutRegion {
  uint64_t guest_phys;
  uint64_t file_offset;
  uint64_t length;
};

class GuestMemory {
 public:
  // Maps `path` (read-write only when `writable`); an empty layout means offset = physical.
  static std::shared_ptr<GuestMemory> Open(const std::string& path, bool writable, std::vector<LayoutRegion> layout);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }
  bool writable() const { return writable_; }
  const std::vector<LayoutRegion>& layout() const { return layout_; }

  void ReadPhys(uint64_t phys, uint8_t* out, size_t length) const;
  void WritePhys(uint64_t phys, const uint8_t* data, size_t length);
  // Reads one little-endian 64-bit value (page-table entries); throws like ReadPhys.
  uint64_t ReadU64(uint64_t phys) const;

  // Splits [phys, phys+length) into host-contiguous pieces, checking that guest RAM backs every byte.
  struct Piece {
    const uint8_t* host;
    size_t length;
  };
  std::vector<Piece> Resolve(uint64_t phys, uint64_t length) const;

  // Fails with FILE_TRUNCATED if the file no longer backs these pieces (a cheap fstat; the SIGBUS guard
  // covers a truncation that races the access itself).
  void EnsureBacked(const std::vector<Piece>& pieces) const;

 private:
  GuestMemory() = default;
  const LayoutRegion* RegionOf(uint64_t phys) const;

  std::string path_;
  int fd_ = -1;
  uint8_t* base_ = nullptr;
  uint64_t file_size_ = 0;
  bool writable_ = false;
  std::vector<LayoutRegion> layout_;  // sorted by guest_phys, non-overlapping
};

}  // namespace vmi
