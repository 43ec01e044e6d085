// A copy of guest-physical ranges that is never returned torn by a concurrent guest write.
//   rtm   : hardware transactions (rtm_copy.cc)
//   trap  : the write-generation table the trap engine maintains (seqlock-style around the copy)
//   plain : one unguarded copy; the facade brackets it with a guest pause (the pause guard)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/generation_table.h"
#include "memory/guest_memory.h"

namespace vmi {

enum class CopyGuard { kRtm, kTrap, kPlain };

const char* GuardName(CopyGuard guard);

struct CopyRange {
  uint64_t phys;
  uint64_t length;
  uint8_t* dst;  // the caller's buffer, `length` bytes
};

struct CopyRequest {
  std::shared_ptr<GuestMemory> memory;
  std::vector<CopyRange> ranges;
  CopyGuard guard = CopyGuard::kPlain;
  std::shared_ptr<gen::Table> table;  // required for kTrap
  uint32_t max_attempts = 16;
  uint32_t retry_delay_us = 50;  // first back-off; doubles per attempt up to a cap
  // Attempts already made for this copy elsewhere (a first attempt on the JS thread): the back-off
  // schedule continues from there, starting with a back-off before this request's first attempt.
  uint32_t prior_attempts = 0;
};

// The most a copy on the JavaScript thread may move (copyGuardedSync): one attempt over at most this
// many bytes takes tens of microseconds, in the range of the facade's other synchronous reads.
inline constexpr uint64_t kMaxSyncCopyBytes = 1 << 20;

struct CopyOutcome {
  bool completed = false;  // false: every attempt was disturbed; the buffers hold no valid copy
  CopyGuard guard = CopyGuard::kPlain;
  uint32_t attempts = 0;
  uint32_t aborts = 0;
  std::string last_abort;  // why the last attempt was thrown away ("" if none was)
};

// Runs on a worker thread, or on the JS thread for one bounded attempt (copyGuardedSync). Throws
// GUARD_UNAVAILABLE (no RTM, no table, ranges not watched), OUT_OF_RANGE or FILE_TRUNCATED;
// an exhausted retry budget is reported, not thrown, so the facade can fall back to another guard.
CopyOutcome GuardedCopy(const CopyRequest& request);

}  // namespace vmi
