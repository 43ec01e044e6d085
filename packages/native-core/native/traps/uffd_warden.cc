#include "uffd_warden.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <new>

namespace vmi::traps {

namespace {

constexpr char kQuit = 'Q';

uint64_t NowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void UnprotectAll(int uffd, uint64_t base, uint64_t length) {
  uffdio_writeprotect wp{};
  wp.range.start = base;
  wp.range.len = length;
  wp.mode = 0;  // clear write-protect and wake every thread waiting on the range
  while (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) != 0 && errno == EINTR) {
  }
}

// Runs in the forked child: only system calls, no allocation (the parent has threads).
[[noreturn]] void WardenMain(int uffd, int control, int notify, uint64_t base, uint64_t length, uint32_t bound_ms, UffdLiveness* live) {
  setsid();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGHUP, SIG_IGN);
  const uint64_t bound = static_cast<uint64_t>(bound_ms) * 1000000ull;
  const int tick_ms = bound_ms / 8 > 0 ? static_cast<int>(bound_ms / 8) : 1;
  uint64_t pending_since = 0;
  uint64_t reads_then = 0;
  for (;;) {
    pollfd ctl{control, POLLIN, 0};
    int r = poll(&ctl, 1, tick_ms);
    if (r < 0 && errno != EINTR) break;
    if (r > 0) {
      char c = 0;
      ssize_t n = read(control, &c, 1);
      if (n == 1 && c == kQuit) _exit(0);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;  // the engine is gone
    }
    // While a release is unacknowledged the engine is known to be stalled; nothing to watch.
    if (live->released_epoch.load() != live->acked_epoch.load()) {
      pending_since = 0;
      continue;
    }
    const uint64_t now = NowNs();
    pollfd q{uffd, POLLIN, 0};
    const bool queued = poll(&q, 1, 0) > 0 && (q.revents & POLLIN) != 0;
    const uint64_t reads = live->reads.load();
    if (!queued || pending_since == 0 || reads != reads_then) {
      // Nothing waiting, or the fault thread made progress since we last looked.
      pending_since = queued ? now : 0;
      reads_then = reads;
    }
    const uint64_t busy = live->busy_since_ns.load();
    uint64_t stalled = 0;
    if (pending_since != 0 && now - pending_since > bound) stalled = now - pending_since;
    if (busy != 0 && now > busy && now - busy > bound) stalled = now - busy;
    if (stalled != 0) {
      UnprotectAll(uffd, base, length);
      live->stall_ns.store(stalled);
      live->released_at_ns.store(now);
      live->released_epoch.fetch_add(1);
      const uint64_t one = 1;
      ssize_t ignored = write(notify, &one, sizeof one);
      (void)ignored;
      pending_since = 0;
    }
  }
  UnprotectAll(uffd, base, length);
  close(uffd);
  _exit(0);
}

}  // namespace

bool SpawnUffdWarden(int uffd, uint64_t base, uint64_t length, uint32_t bound_ms, UffdWarden* out) {
  void* page = mmap(nullptr, sizeof(UffdLiveness), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return false;
  auto* live = new (page) UffdLiveness();
  int fds[2];
  const int notify = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (notify < 0 || pipe2(fds, O_CLOEXEC) != 0) {
    if (notify >= 0) close(notify);
    munmap(page, sizeof(UffdLiveness));
    return false;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    close(notify);
    munmap(page, sizeof(UffdLiveness));
    return false;
  }
  if (pid == 0) {
    int u = fcntl(uffd, F_DUPFD, 100);
    int c = fcntl(fds[0], F_DUPFD, 101);
    int n = fcntl(notify, F_DUPFD, 102);
    if (u < 0 || c < 0 || n < 0) _exit(1);
    dup2(u, 3);
    dup2(c, 4);
    dup2(n, 5);
    syscall(SYS_close_range, 0u, 2u, 0u);
    syscall(SYS_close_range, 6u, ~0u, 0u);
    WardenMain(3, 4, 5, base, length, bound_ms, live);
  }
  close(fds[0]);
  out->pid = pid;
  out->control_fd = fds[1];
  out->notify_fd = notify;
  out->live = live;
  return true;
}

void StopUffdWarden(UffdWarden* warden) {
  if (warden->control_fd >= 0) {
    const char q = kQuit;
    ssize_t ignored = write(warden->control_fd, &q, 1);
    (void)ignored;
    close(warden->control_fd);
    warden->control_fd = -1;
  }
  if (warden->pid > 0) {
    int status = 0;
    while (waitpid(warden->pid, &status, 0) < 0 && errno == EINTR) {
    }
    warden->pid = -1;
  }
  if (warden->notify_fd >= 0) {
    close(warden->notify_fd);
    warden->notify_fd = -1;
  }
  if (warden->live != nullptr) {
    munmap(warden->live, sizeof(UffdLiveness));
    warden->live = nullptr;
  }
}

}  // namespace vmi::traps
