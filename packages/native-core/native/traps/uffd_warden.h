// Liveness of the userfaultfd backend.
//
// While a write-protect fault is unanswered the faulting vCPU is frozen, and QMP `stop`/`quit`
// hang behind it. The engine's own fault thread cannot be its own watchdog: a SIGSTOP of the
// engine's process stops every thread in it, and a SIGKILL ends them. So the watchdog is a tiny
// forked process, the warden, out of the engine's process group (setsid: a group stop or kill
// misses it), holding a duplicate of the descriptor. That duplicate does not break the rule that
// only the engine's side may hold the descriptor: the rule exists because a holder that never
// answers keeps the guest frozen (QEMU would be such a holder), and the warden always answers:
//
//   * every tick it looks (poll with no wait, never a read) whether a fault is queued: one queued
//     for longer than the bound while the fault thread's read counter did not move means the
//     thread is stalled (stopped, blocked on a full event queue, starved). Looking only per tick
//     keeps the warden asleep during normal faults: it adds no wake-up to a trap;
//   * it reads the fault thread's "busy since" stamp in a shared page: a fault read but not yet
//     answered within the bound is a stall too;
//   * its control pipe reaches end-of-file when the engine's process dies, however it dies.
//
// On a stall it write-unprotects the whole registered range with wake, which lets every blocked
// vCPU go, and bumps `released_epoch`. The engine's thread, once it runs again, sees the epoch,
// reports that protection was lost, diffs its shadows against memory (writes made meanwhile are
// still reported, as merged) and arms the pages again. On the engine's death the warden
// unprotects, closes its duplicate - the last one, so the kernel drops the context and the guest
// runs unprotected - and exits.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace vmi::traps {

// One page shared between the engine and its warden (MAP_SHARED|MAP_ANONYMOUS before fork).
struct UffdLiveness {
  std::atomic<uint64_t> busy_since_ns;   // 0 when the fault thread holds no unanswered fault
  std::atomic<uint64_t> reads;           // read() calls of the fault thread that returned faults
  std::atomic<uint64_t> released_epoch;  // bumped by the warden on each release
  std::atomic<uint64_t> acked_epoch;     // the engine has seen (and reported) that release
  std::atomic<uint64_t> released_at_ns;
  std::atomic<uint64_t> stall_ns;        // how long the stall had lasted when released
};

struct UffdWarden {
  pid_t pid = -1;
  int control_fd = -1;
  int notify_fd = -1;  // eventfd the warden signals after a release (a woken fault leaves no message)
  UffdLiveness* live = nullptr;
};

// Forks the warden for `uffd` covering [base, base + length) in QEMU's address space.
bool SpawnUffdWarden(int uffd, uint64_t base, uint64_t length, uint32_t bound_ms, UffdWarden* out);
// Clean shutdown: the engine unprotected and closes its descriptor itself.
void StopUffdWarden(UffdWarden* warden);

}  // namespace vmi::traps
