// A mapping of the guest RAM file for shadow copies, new bytes and restores. Guest-physical
// addresses go through the layout (never assumed equal to file offsets).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "trap_backend.h"

namespace vmi::traps {

class RamView {
 public:
  RamView() = default;
  ~RamView();
  RamView(const RamView&) = delete;
  RamView& operator=(const RamView&) = delete;

  // Maps the whole file; writable only when restores are wanted (enforce mode).
  Status Open(const std::string& path, const std::vector<RamRange>& layout, bool writable);
  // Adopts an existing mapping layout (e.g. received from the userfaultfd shim).
  void SetLayout(const std::vector<RamRange>& layout) { layout_ = layout; }
  bool Read(uint64_t phys, uint8_t* out, size_t len) const;
  bool Write(uint64_t phys, const uint8_t* data, size_t len);
  // Host pointer of a guest-physical byte inside this mapping, or nullptr.
  uint8_t* Translate(uint64_t phys, size_t len) const;
  bool is_open() const { return base_ != nullptr; }
  bool writable() const { return writable_; }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  bool writable_ = false;
  std::vector<RamRange> layout_;
};

}  // namespace vmi::traps
