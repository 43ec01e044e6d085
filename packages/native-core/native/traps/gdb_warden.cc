#include "gdb_warden.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace vmi::traps {

namespace {

constexpr char kQuit = 'Q';

long NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void WriteAll(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    len -= static_cast<size_t>(n);
  }
}

// Reads for up to `budget_ms`, acknowledging every packet; returns true once a packet whose body
// starts with `want` (or any packet when want is 0) was seen.
bool AwaitPacket(int sock, char want, long budget_ms) {
  const long deadline = NowMs() + budget_ms;
  enum { kIdle, kFirst, kBody, kSum1, kSum2 } state = kIdle;
  bool matched = false;
  for (;;) {
    long left = deadline - NowMs();
    if (left <= 0) return false;
    pollfd p{sock, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[512];
    ssize_t n = read(sock, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    for (ssize_t i = 0; i < n; ++i) {
      const char c = buf[i];
      switch (state) {
        case kIdle:
          if (c == '$') state = kFirst;
          break;
        case kFirst:
          matched = want == 0 || c == want;
          state = c == '#' ? kSum1 : kBody;
          break;
        case kBody:
          if (c == '#') state = kSum1;
          break;
        case kSum1:
          state = kSum2;
          break;
        case kSum2:
          WriteAll(sock, "+", 1);
          state = kIdle;
          if (matched) return true;
          break;
      }
    }
  }
}

[[noreturn]] void WardenMain(int sock, int control) {
  setsid();  // out of the engine's process group: a group stop or kill does not reach the warden
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGHUP, SIG_IGN);
  for (;;) {
    pollfd p{control, POLLIN, 0};
    int r = poll(&p, 1, -1);
    if (r < 0 && errno == EINTR) continue;
    char c = 0;
    ssize_t n = read(control, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n == 1 && c == kQuit) _exit(0);
    if (n == 1) continue;
    break;  // end of file: the engine's process is gone
  }
  // The guest may be running (then any byte stops it and QEMU answers with a stop reply) or
  // already stopped at a watched write (then the byte is ignored and nothing comes back).
  WriteAll(sock, "\x03", 1);
  AwaitPacket(sock, 'T', 300);
  WriteAll(sock, "$D;1#b0", 7);
  AwaitPacket(sock, 0, 1000);
  close(sock);
  _exit(0);
}

}  // namespace

bool SpawnGdbWarden(int sock_fd, Warden* out) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    // Keep only the connection and the read end of the control pipe, at known numbers.
    int sock = fcntl(sock_fd, F_DUPFD, 100);
    int control = fcntl(fds[0], F_DUPFD, 101);
    if (sock < 0 || control < 0) _exit(1);
    dup2(sock, 3);
    dup2(control, 4);
    syscall(SYS_close_range, 0u, 2u, 0u);
    syscall(SYS_close_range, 5u, ~0u, 0u);
    WardenMain(3, 4);
  }
  close(fds[0]);
  out->pid = pid;
  out->control_fd = fds[1];
  return true;
}

namespace {
void Reap(Warden* warden) {
  if (warden->pid > 0) {
    int status = 0;
    while (waitpid(warden->pid, &status, 0) < 0 && errno == EINTR) {
    }
    warden->pid = -1;
  }
}
}  // namespace

void DismissWarden(Warden* warden) {
  if (warden->control_fd >= 0) {
    const char q = kQuit;
    ssize_t ignored = write(warden->control_fd, &q, 1);
    (void)ignored;
    close(warden->control_fd);
    warden->control_fd = -1;
  }
  Reap(warden);
}

void AbandonToWarden(Warden* warden) {
  if (warden->control_fd >= 0) {
    close(warden->control_fd);
    warden->control_fd = -1;
  }
  Reap(warden);
}

}  // namespace vmi::traps
