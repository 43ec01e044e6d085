#include "event_sink.h"

#include <time.h>

namespace vmi::traps {

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

EventSink::EventSink(size_t capacity, std::function<void()> schedule)
    : capacity_(capacity == 0 ? 1 : capacity), schedule_(std::move(schedule)) {}

uint64_t EventSink::NextSeq() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_seq_++;
}

bool EventSink::Push(TrapEvent&& event) {
  bool need_schedule = false;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (shut_down_) return false;
    if (queue_.size() >= capacity_) {
      ++backpressure_waits_;
      space_.wait(lock, [&] { return shut_down_ || queue_.size() < capacity_; });
      if (shut_down_) return false;
    }
    if (event.seq == 0) event.seq = next_seq_++;
    queue_.push_back(std::move(event));
    ++queued_;
    if (!delivery_pending_) {
      delivery_pending_ = true;
      need_schedule = true;
    }
  }
  if (need_schedule) schedule_();
  return true;
}

void EventSink::Drain(size_t max, std::deque<TrapEvent>* out) {
  bool reschedule = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t now = MonotonicNs();
    while (!queue_.empty() && out->size() < max) {
      queue_.front().deliver_ns = now;
      out->push_back(std::move(queue_.front()));
      queue_.pop_front();
      ++delivered_;
    }
    delivery_pending_ = !queue_.empty() && !shut_down_;
    reschedule = delivery_pending_;
  }
  space_.notify_all();
  if (reschedule) schedule_();
}

void EventSink::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
  }
  space_.notify_all();
}

bool EventSink::IsShutDown() {
  std::lock_guard<std::mutex> lock(mu_);
  return shut_down_;
}

uint64_t EventSink::queued() {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_;
}
uint64_t EventSink::delivered() {
  std::lock_guard<std::mutex> lock(mu_);
  return delivered_;
}
uint64_t EventSink::backpressure_waits() {
  std::lock_guard<std::mutex> lock(mu_);
  return backpressure_waits_;
}
size_t EventSink::depth() {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

}  // namespace vmi::traps
