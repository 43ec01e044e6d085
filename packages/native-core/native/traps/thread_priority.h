// The threads that answer a stopped vCPU run ahead of ordinary work: every microsecond they wait
// for a CPU, the guest waits too. Best effort (a lower nice value needs CAP_SYS_NICE); real-time
// scheduling is deliberately not used, so a busy handler can never starve the vCPU it serves.
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace vmi::traps {

inline void RaiseThreadPriority() {
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  (void)setpriority(PRIO_PROCESS, tid, -10);
}

}  // namespace vmi::traps
