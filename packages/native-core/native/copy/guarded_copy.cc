#include "copy/guarded_copy.h"

#include <algorithm>
#include <chrono>
#include <cstring>
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
    // No size check of the file (EnsureBacked): it is a system call per copy, as slow as copying
    // tens of KiB, and every read of guest RAM here runs under the SIGBUS guard, which turns a file
    // cut short under the mapping into FILE_TRUNCATED. (Only a cut inside a page would read that
    // page's tail as zeros; guest RAM files are whole pages.)
    const auto resolved = request.memory->Resolve(range.phys, range.length);
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

void Backoff(const CopyRequest& request, uint32_t attempt) {
  if (request.retry_delay_us == 0) return;
  uint64_t delay = static_cast<uint64_t>(request.retry_delay_us) << std::min<uint32_t>(attempt - 1, 8);
  std::this_thread::sleep_for(std::chrono::microseconds(std::min<uint64_t>(delay, kMaxBackoffUs)));
}

// One attempt of the trap guard. It runs as a whole under the SIGBUS guard (one guard per attempt,
// and no system call inside), so it must not allocate or throw: the snapshots are sized beforehand.
struct TrapAttempt {
  const gen::Table* table;
  const std::vector<uint32_t>* slots;
  const std::vector<CopyPiece>* pieces;
  gen::Snapshot before;
  gen::Snapshot after;
  bool unchanged = false;
};

void RunTrapAttempt(void* context) {
  auto* a = static_cast<TrapAttempt*>(context);
  a->table->TakeGuarded(*a->slots, a->before);
  // Acquire: the copy must not be read ahead of the generations it is judged by.
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  for (const CopyPiece& p : *a->pieces) std::memcpy(p.dst, p.src, p.length);
  // A guest write lands in memory before its stop is reported (and the generation bumped), so also
  // compare the copy with memory again: a write that raced the copy shows up as a difference. Every
  // piece is copied before any is compared, so a copy that passes equals memory at one instant (the
  // end of the copy pass) except for writes the generations report.
  bool unchanged = true;
  for (const CopyPiece& p : *a->pieces) unchanged = unchanged && std::memcmp(p.dst, p.src, p.length) == 0;
  a->unchanged = unchanged;
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  a->table->TakeGuarded(*a->slots, a->after);
}

struct SlotRead {
  const gen::Table* table;
  std::vector<gen::PhysRange> ranges;  // sized to the table's slots before the guarded read
};

void ReadSlotRanges(void* context) {
  auto* read = static_cast<SlotRead*>(context);
  read->table->SlotRangesGuarded(read->ranges);
}

// After a SIGBUS: the table's own size check names the table if it was cut short, else `error_code`.
[[noreturn]] void FailAfterFault(const gen::Table& table, const char* error_code, const char* message) {
  table.GlobalGen();  // throws BAD_GENERATION_TABLE if the table file no longer backs its mapping
  Fail(error_code, message);
}

CopyOutcome CopyWithTrapGuard(const CopyRequest& request, const std::vector<CopyPiece>& pieces) {
  if (!request.table) Fail(code::kGuardUnavailable, "the trap guard needs a write-generation table");
  std::vector<gen::PhysRange> watched;
  for (const CopyRange& r : request.ranges) watched.push_back(gen::PhysRange{r.phys, r.length});
  // The table is read under the SIGBUS guard rather than after a size check (a system call, as slow
  // as copying tens of KiB): a table file cut short while mapped makes this fail, never crash.
  SlotRead read{request.table.get(), std::vector<gen::PhysRange>(request.table->slots())};
  if (!RunFaultGuarded(ReadSlotRanges, &read)) {
    FailAfterFault(*request.table, code::kBadGenerationTable, "generation table file shrank while mapped");
  }
  // Throws GUARD_UNAVAILABLE if a byte of the ranges is watched by no slot: writes there would not trap.
  const std::vector<uint32_t> slots = gen::Table::CoveringSlotsOf(read.ranges, watched);

  TrapAttempt attempt{request.table.get(), &slots, &pieces, {}, {}, false};
  attempt.before.slot_gens.resize(slots.size());
  attempt.after.slot_gens.resize(slots.size());
  CopyOutcome outcome;
  outcome.guard = CopyGuard::kTrap;
  while (outcome.attempts < request.max_attempts) {
    if (outcome.attempts > 0 || request.prior_attempts > 0) Backoff(request, outcome.attempts + request.prior_attempts);
    ++outcome.attempts;
    if (!RunFaultGuarded(RunTrapAttempt, &attempt)) {
      FailAfterFault(*request.table, code::kFileTruncated, "guest RAM file shrank during a copy");
    }
    if (attempt.unchanged && attempt.before == attempt.after) {
      outcome.completed = true;
      return outcome;
    }
    ++outcome.aborts;
    outcome.last_abort = attempt.unchanged ? "a trapped write bumped a watched generation" : "memory changed while copying";
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
