#include "copy/guarded_copy.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/fault_guard.h"
#include "common/native_error.h"
#include "copy/rtm_copy.h"
#include "probe/probe.h"

namespace vmi {

namespace {

constexpr uint32_t kMaxBackoffUs = 10'000;

std::vector<CopyPiece> PiecesOf(const CopyRequest& request) {
  std::vector<CopyPiece> pieces;
  for (const CopyRange& range : request.ranges) {
    uint8_t* dst = range.dst;
    const auto resolved = request.memory->Resolve(range.phys, range.length);
    request.memory->EnsureBacked(resolved);
    for (const auto& piece : resolved) {
      pieces.push_back(CopyPiece{piece.host, dst, piece.length});
      dst += piece.length;
    }
  }
  return pieces;
}

void CopyAll(const std::vector<CopyPiece>& pieces) {
  for (const CopyPiece& p : pieces) {
    if (!GuardedMemcpy(p.dst, p.src, p.length)) Fail(code::kFileTruncated, "guest RAM file shrank during a copy");
  }
}

bool SameAsSource(const std::vector<CopyPiece>& pieces) {
  for (const CopyPiece& p : pieces) {
    bool equal = false;
    if (!GuardedEquals(p.dst, p.src, p.length, &equal)) Fail(code::kFileTruncated, "guest RAM file shrank during a copy");
    if (!equal) return false;
  }
  return true;
}

void Backoff(const CopyRequest& request, uint32_t attempt) {
  if (request.retry_delay_us == 0) return;
  uint64_t delay = static_cast<uint64_t>(request.retry_delay_us) << std::min<uint32_t>(attempt - 1, 8);
  std::this_thread::sleep_for(std::chrono::microseconds(std::min<uint64_t>(delay, kMaxBackoffUs)));
}

CopyOutcome CopyWithTrapGuard(const CopyRequest& request, const std::vector<CopyPiece>& pieces) {
  if (!request.table) Fail(code::kGuardUnavailable, "the trap guard needs a write-generation table");
  std::vector<gen::PhysRange> watched;
  for (const CopyRange& r : request.ranges) watched.push_back(gen::PhysRange{r.phys, r.length});
  // Throws GUARD_UNAVAILABLE if a byte of the ranges is watched by no slot: writes there would not trap.
  const std::vector<uint32_t> slots = request.table->CoveringSlots(watched);

  CopyOutcome outcome;
  outcome.guard = CopyGuard::kTrap;
  while (outcome.attempts < request.max_attempts) {
    ++outcome.attempts;
    const gen::Snapshot before = request.table->Take(slots);
    CopyAll(pieces);
    // A guest write lands in memory before its stop is reported (and the generation bumped), so also
    // compare the copy with memory again: a write that raced the copy shows up as a difference.
    bool unchanged = SameAsSource(pieces);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    const gen::Snapshot after = request.table->Take(slots);
    if (unchanged && before == after) {
      outcome.completed = true;
      return outcome;
    }
    ++outcome.aborts;
    outcome.last_abort = unchanged ? "a trapped write bumped a watched generation" : "memory changed while copying";
    if (outcome.attempts < request.max_attempts) Backoff(request, outcome.attempts);
  }
  return outcome;
}

CopyOutcome CopyWithRtmGuard(const CopyRequest& request, const std::vector<CopyPiece>& pieces) {
  // Executing _xbegin where RTM is absent or disabled raises #UD: never get here without the probe.
  if (!ProbeFeatures().rtm) Fail(code::kGuardUnavailable, "this CPU or kernel does not offer RTM");
  rtm::RtmStats stats = rtm::CopyWithRtm(pieces.data(), pieces.size(), request.max_attempts);
  if (stats.faulted) Fail(code::kFileTruncated, "guest RAM file shrank during a copy");
  CopyOutcome outcome;
  outcome.guard = CopyGuard::kRtm;
  outcome.completed = stats.completed;
  outcome.attempts = stats.attempts;
  outcome.aborts = stats.aborts;
  if (stats.aborts > 0) outcome.last_abort = "transaction aborted (status " + std::to_string(stats.last_abort_status) + ")";
  return outcome;
}

}  // namespace

const char* GuardName(CopyGuard guard) {
  switch (guard) {
    case CopyGuard::kRtm:
      return "rtm";
    case CopyGuard::kTrap:
      return "trap";
    case CopyGuard::kPlain:
      return "plain";
  }
  return "plain";
}

CopyOutcome GuardedCopy(const CopyRequest& request) {
  if (request.max_attempts == 0) Fail(code::kBadArgument, "maxAttempts must be at least 1");
  const std::vector<CopyPiece> pieces = PiecesOf(request);
  switch (request.guard) {
    case CopyGuard::kRtm:
      return CopyWithRtmGuard(request, pieces);
    case CopyGuard::kTrap:
      return CopyWithTrapGuard(request, pieces);
    case CopyGuard::kPlain: {
      CopyAll(pieces);
      CopyOutcome outcome;
      outcome.completed = true;
      outcome.guard = CopyGuard::kPlain;
      outcome.attempts = 1;
      return outcome;
    }
  }
  Fail(code::kBadArgument, "unknown guard");
}

}  // namespace vmi
