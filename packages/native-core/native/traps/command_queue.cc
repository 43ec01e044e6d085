#include "command_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace vmi::traps {

BackendCommand BackendCommand::Watch(const WatchSpec& spec) {
  BackendCommand c(Kind::kWatch);
  c.spec = spec;
  return c;
}

BackendCommand BackendCommand::Unwatch(uint32_t id) {
  BackendCommand c(Kind::kUnwatch);
  c.id = id;
  return c;
}

BackendCommand BackendCommand::Release(uint64_t seq, bool restore) {
  BackendCommand c(Kind::kRelease);
  c.seq = seq;
  c.restore = restore;
  return c;
}

CommandQueue::~CommandQueue() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status CommandQueue::Open() {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::Error(TrapStatus::kIo, "eventfd failed");
  return Status::Ok();
}

Status CommandQueue::Submit(BackendCommand&& c) {
  std::future<Status> f = c.done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || wake_fd_ < 0) return Status::Error(TrapStatus::kClosed, "trap backend is closed");
    commands_.push_back(std::move(c));
  }
  uint64_t one = 1;
  ssize_t w = write(wake_fd_, &one, sizeof one);
  (void)w;
  return f.get();
}

std::deque<BackendCommand> CommandQueue::Take() {
  uint64_t v;
  ssize_t ignored = read(wake_fd_, &v, sizeof v);
  (void)ignored;
  std::deque<BackendCommand> batch;
  std::lock_guard<std::mutex> lock(mu_);
  batch.swap(commands_);
  return batch;
}

void CommandQueue::FailAll(const std::string& why) {
  std::deque<BackendCommand> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    batch.swap(commands_);
  }
  for (auto& c : batch) c.done.set_value(Status::Error(TrapStatus::kClosed, why));
}

}  // namespace vmi::traps
