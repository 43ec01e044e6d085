// The queue through which JavaScript's calls reach a backend's own I/O thread. Every backend
// changes watches only on that thread (the guest stopped, or the descriptor quiet), so a caller
// enqueues a command, wakes the thread through an eventfd it polls beside its link, and waits for
// the command's status. Commands that arrive together are taken together, so a backend can apply
// them in one stop of the guest.
#pragma once

#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <string>

#include "trap_backend.h"

namespace vmi::traps {

struct BackendCommand {
  enum class Kind { kWatch, kUnwatch, kArm, kRelease, kClose } kind;
  explicit BackendCommand(Kind k) : kind(k) {}
  WatchSpec spec;      // kWatch
  uint32_t id = 0;     // kUnwatch
  uint64_t seq = 0;    // kRelease
  bool restore = false;
  std::promise<Status> done;

  static BackendCommand Watch(const WatchSpec& spec);
  static BackendCommand Unwatch(uint32_t id);
  static BackendCommand Release(uint64_t seq, bool restore);
};

class CommandQueue {
 public:
  CommandQueue() = default;
  CommandQueue(const CommandQueue&) = delete;
  CommandQueue& operator=(const CommandQueue&) = delete;
  ~CommandQueue();

  // Creates the eventfd; the backend's thread polls wake_fd() for POLLIN.
  Status Open();
  int wake_fd() const { return wake_fd_; }

  // From any thread but the backend's: queues the command, wakes the thread and waits for it.
  Status Submit(BackendCommand&& c);
  // On the backend's thread, after poll saw wake_fd() readable: clears the wake-up and takes
  // every command queued so far.
  std::deque<BackendCommand> Take();
  // On the backend's thread as it ends: refuses new commands and fails the queued ones.
  void FailAll(const std::string& why);

 private:
  int wake_fd_ = -1;
  std::mutex mu_;
  std::deque<BackendCommand> commands_;
  bool closed_ = false;
};

}  // namespace vmi::traps
