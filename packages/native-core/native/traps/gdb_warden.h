// The gdbstub warden: a tiny forked process that holds a duplicate of the gdbstub connection and
// does nothing while the engine's process lives. QEMU 7.2 keeps watchpoints (and a stopped vCPU)
// when a client vanishes, so a process that dies with traps armed - SIGKILL, a crash, an exit that
// skips cleanup hooks - would leave the guest frozen at its next watched write. The warden notices
// the death (its control pipe reaches end-of-file, which no signal can prevent) and detaches with
// `D;1`, which removes every watchpoint and lets the vCPU go.
#pragma once

#include <sys/types.h>

namespace vmi::traps {

struct Warden {
  pid_t pid = -1;
  int control_fd = -1;  // write end; closing it without the quit byte triggers the rescue
};

// Forks the warden. The child runs only async-signal-safe system calls (the parent has threads).
bool SpawnGdbWarden(int sock_fd, Warden* out);
// The engine detached cleanly: tell the warden to leave the connection alone, and reap it.
void DismissWarden(Warden* warden);
// The engine could not detach: close the control pipe so the warden detaches, and reap it.
void AbandonToWarden(Warden* warden);

}  // namespace vmi::traps
