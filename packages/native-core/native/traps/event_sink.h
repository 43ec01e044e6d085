// Bounded hand-off of trap events from a backend thread to JavaScript. The producer blocks while
// the queue is full: the guest then waits instead of losing an event, and the wait is counted.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "trap_event.h"

namespace vmi::traps {

class EventSink {
 public:
  // `schedule` is called (from the producer thread) when events wait and no delivery is pending;
  // it must arrange for Drain() to run on the JavaScript thread.
  EventSink(size_t capacity, std::function<void()> schedule);

  // Assigns the next sequence number and queues the event, blocking while the queue is full.
  // Returns false (event not queued) only once the sink is shut down.
  bool Push(TrapEvent&& event);
  // Sequence numbers are allocated before an event is complete so a held vCPU can be named.
  uint64_t NextSeq();

  // JavaScript thread: takes up to `max` events, stamps their delivery time, and lets a blocked
  // producer go on. Marks the pending delivery done, rescheduling if more remain.
  void Drain(size_t max, std::deque<TrapEvent>* out);
  // After Shutdown, Push fails at once and a blocked producer returns.
  void Shutdown();
  bool IsShutDown();

  uint64_t queued();
  uint64_t delivered();
  uint64_t backpressure_waits();
  size_t depth();

 private:
  std::mutex mu_;
  std::condition_variable space_;
  std::deque<TrapEvent> queue_;
  size_t capacity_;
  std::function<void()> schedule_;
  bool delivery_pending_ = false;
  bool shut_down_ = false;
  uint64_t next_seq_ = 1;
  uint64_t queued_ = 0;
  uint64_t delivered_ = 0;
  uint64_t backpressure_waits_ = 0;
};

}  // namespace vmi::traps
