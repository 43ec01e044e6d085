#include "common/fault_guard.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>

#include <cstring>
#include <mutex>

namespace vmi {

namespace {

thread_local sigjmp_buf* t_recovery = nullptr;
struct sigaction g_previous;
std::once_flag g_installed;

void ChainToPrevious(int sig, siginfo_t* info, void* context) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) {
      g_previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (g_previous.sa_handler == SIG_IGN) {
    return;
  } else if (g_previous.sa_handler != SIG_DFL) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default action: restore it and let the fault happen again on return.
  signal(sig, SIG_DFL);
}

void OnSigbus(int sig, siginfo_t* info, void* context) {
  sigjmp_buf* recovery = t_recovery;
  if (recovery != nullptr) {
    t_recovery = nullptr;
    siglongjmp(*recovery, 1);
  }
  ChainToPrevious(sig, info, context);
}

void Install() {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = OnSigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, &g_previous);
}

struct CopyArgs {
  void* dst;
  const void* src;
  size_t length;
};

struct EqualsArgs {
  const void* a;
  const void* b;
  size_t length;
  bool equal;
};

}  // namespace

bool RunFaultGuarded(void (*fn)(void*), void* context) {
  std::call_once(g_installed, Install);
  sigjmp_buf recovery;
  // Touch the thread-local before arming so the handler never triggers its lazy allocation.
  t_recovery = nullptr;
  // The signal mask is not saved here (saving it is a system call, paid on every guarded access and
  // costing as much as copying tens of KiB); only the rare fault path restores it: the handler runs
  // with SIGBUS blocked, and a jump out of it leaves it blocked until unblocked below.
  if (sigsetjmp(recovery, 0) != 0) {
    sigset_t bus;
    sigemptyset(&bus);
    sigaddset(&bus, SIGBUS);
    pthread_sigmask(SIG_UNBLOCK, &bus, nullptr);
    return false;
  }
  t_recovery = &recovery;
  try {
    fn(context);
  } catch (...) {
    // The jump buffer dies with this frame: a later fault must not jump into it.
    t_recovery = nullptr;
    throw;
  }
  t_recovery = nullptr;
  return true;
}

bool GuardedMemcpy(void* dst, const void* src, size_t length) {
  CopyArgs args{dst, src, length};
  return RunFaultGuarded(
      [](void* p) {
        auto* a = static_cast<CopyArgs*>(p);
        std::memcpy(a->dst, a->src, a->length);
      },
      &args);
}

bool GuardedEquals(const void* a, const void* b, size_t length, bool* equal) {
  EqualsArgs args{a, b, length, false};
  bool ok = RunFaultGuarded(
      [](void* p) {
        auto* e = static_cast<EqualsArgs*>(p);
        e->equal = std::memcmp(e->a, e->b, e->length) == 0;
      },
      &args);
  *equal = args.equal;
  return ok;
}

}  // namespace vmi
