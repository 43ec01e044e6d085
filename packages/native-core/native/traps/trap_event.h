#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vmi::traps {

// Bumped whenever a field changes meaning; the facade refuses versions it does not know.
constexpr uint32_t kTrapEventVersion = 1;
constexpr uint64_t kUnknown = UINT64_MAX;

enum class EventKind : uint8_t {
  kWrite = 0,              // a guest write to a watched range
  kProtectionLost = 1,     // the backend stopped trapping (watchdog released, link lost)
  kProtectionRestored = 2, // trapping is armed again after a loss
};

struct TrapEvent {
  uint32_t version = kTrapEventVersion;
  EventKind kind = EventKind::kWrite;
  uint8_t backend = 0;      // 0 gdbstub, 1 uffd
  uint64_t seq = 0;
  uint32_t watch_id = 0;    // 0 when no watch applies
  uint64_t address = 0;     // first changed byte: virtual (gdbstub) or guest-physical (uffd)
  uint64_t phys = kUnknown; // guest-physical address of that byte
  uint64_t hit_address = 0; // the address the mechanism reported (watch base / fault address)
  std::vector<uint8_t> old_bytes;
  std::vector<uint8_t> new_bytes;
  uint64_t rip = kUnknown;
  uint64_t cr3 = kUnknown;
  int32_t vcpu = -1;
  uint64_t stop_ns = 0;     // CLOCK_MONOTONIC when the stop or fault was seen
  uint64_t resume_ns = 0;   // CLOCK_MONOTONIC when the vCPU was let go (0: still held or not applicable)
  uint64_t deliver_ns = 0;  // CLOCK_MONOTONIC when handed to JavaScript
  bool merged = false;      // several writes folded into one diff
  bool held = false;        // the vCPU waits for Release(seq)
  std::string detail;
};

uint64_t MonotonicNs();

}  // namespace vmi::traps
