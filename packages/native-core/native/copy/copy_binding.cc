#include "copy/copy_binding.h"

#include "common/args.h"
#include "common/js_errors.h"
#include "common/promise_worker.h"
#include "copy/generation_handle.h"
#include "copy/guarded_copy.h"
#include "memory/memory_handle.h"

namespace vmi {

namespace {

CopyGuard ParseGuard(const std::string& name) {
  if (name == "rtm") return CopyGuard::kRtm;
  if (name == "trap") return CopyGuard::kTrap;
  if (name == "plain") return CopyGuard::kPlain;
  Fail(code::kBadArgument, "guard must be rtm, trap or plain");
}

// [completed, guard, attempts, aborts, lastAbort | null]: an array, because building an object
// property by property from C++ (a name lookup and a shape transition each) cost more than half of
// a small copy's whole call; the facade turns it into an object.
Napi::Value OutcomeToJs(Napi::Env env, const CopyOutcome& outcome) {
  Napi::Array out = Napi::Array::New(env, 5);
  out.Set(0u, Napi::Boolean::New(env, outcome.completed));
  out.Set(1u, Napi::String::New(env, GuardName(outcome.guard)));
  out.Set(2u, Napi::Number::New(env, outcome.attempts));
  out.Set(3u, Napi::Number::New(env, outcome.aborts));
  out.Set(4u, outcome.last_abort.empty() ? env.Null() : Napi::String::New(env, outcome.last_abort));
  return out;
}

// The copy runs on a worker thread into Buffers the facade allocated; references keep them alive.
class CopyWorker : public PromiseWorker {
 public:
  CopyWorker(Napi::Env env, CopyRequest request, std::vector<Napi::Reference<Napi::Buffer<uint8_t>>> buffers)
      : PromiseWorker(env, "vmi:guardedCopy"), request_(std::move(request)), buffers_(std::move(buffers)) {}

 protected:
  void Run() override { outcome_ = GuardedCopy(request_); }
  Napi::Value Result(Napi::Env env) override { return OutcomeToJs(env, outcome_); }

 private:
  CopyRequest request_;
  std::vector<Napi::Reference<Napi::Buffer<uint8_t>>> buffers_;
  CopyOutcome outcome_;
};

// Arguments shared by both entry points: (memory, ranges, buffers, guard, table | null, ...).
// `refs` (when given) receives a reference per buffer for work that outlives the call.
CopyRequest RequestOf(const Napi::CallbackInfo& info, uint64_t* total, std::vector<Napi::Reference<Napi::Buffer<uint8_t>>>* refs) {
  CopyRequest request;
  request.memory = UnwrapHandle<GuestMemory>(args::At(info, 0, "memory"), kGuestMemoryHandle);
  Napi::Array ranges = args::Array(info, 1, "ranges");
  Napi::Array dsts = args::Array(info, 2, "buffers");
  if (ranges.Length() != dsts.Length()) Fail(code::kBadArgument, "one buffer per range is required");
  *total = 0;
  for (uint32_t i = 0; i < ranges.Length(); ++i) {
    Napi::Object r = args::Object(ranges.Get(i), "range");
    auto buffer = args::Bytes(dsts.Get(i), "buffer");
    uint64_t length = args::Count(r.Get("length"), "length");
    if (buffer.Length() != length) Fail(code::kBadArgument, "buffer length must equal its range's length");
    request.ranges.push_back(CopyRange{args::U64(r.Get("phys"), "phys"), length, buffer.Data()});
    *total += length;
    if (refs != nullptr) refs->push_back(Napi::Persistent(buffer));
  }
  request.guard = ParseGuard(args::Str(info, 3, "guard"));
  if (!args::IsNull(info, 4)) request.table = UnwrapHandle<gen::Table>(info[4], kGenerationTableHandle);
  return request;
}

// copyGuarded(memory, ranges, buffers, guard, table | null, maxAttempts, retryDelayUs, priorAttempts)
Napi::Value Copy(const Napi::CallbackInfo& info) {
  uint64_t total = 0;
  std::vector<Napi::Reference<Napi::Buffer<uint8_t>>> refs;
  CopyRequest request = RequestOf(info, &total, &refs);
  uint64_t attempts = args::Count(info, 5, "maxAttempts");
  uint64_t delay = args::Count(info, 6, "retryDelayUs");
  uint64_t prior = args::Count(info, 7, "priorAttempts");
  if (attempts == 0 || attempts > 1'000'000) Fail(code::kBadArgument, "maxAttempts out of range");
  if (delay > 1'000'000) Fail(code::kBadArgument, "retryDelayUs out of range");
  if (prior > 1'000'000) Fail(code::kBadArgument, "priorAttempts out of range");
  request.max_attempts = static_cast<uint32_t>(attempts);
  request.retry_delay_us = static_cast<uint32_t>(delay);
  request.prior_attempts = static_cast<uint32_t>(prior);
  auto* worker = new CopyWorker(info.Env(), std::move(request), std::move(refs));
  worker->Queue();
  return worker->Promise();
}

// copyGuardedSync(memory, ranges, buffers, guard, table | null): one attempt on the calling (JS)
// thread. This blocks the event loop, so it is bounded here, whatever the caller asks: at most
// kMaxSyncCopyBytes in all and a single attempt with no back-off sleep, i.e. one pass over the bytes
// (plus one verifying pass for the trap guard; for rtm, a bounded number of transaction retries per
// chunk). That is tens of microseconds, less than handing the copy to a worker thread costs on a
// machine where waking a sleeping thread takes tens of microseconds each way. Guest RAM is shared
// memory, so touching it does not wait for a disk. A disturbed attempt is reported (completed=false)
// and the facade continues on a worker thread with copyGuarded.
Napi::Value CopySync(const Napi::CallbackInfo& info) {
  uint64_t total = 0;
  CopyRequest request = RequestOf(info, &total, nullptr);
  if (total > kMaxSyncCopyBytes) Fail(code::kBadArgument, "a copy on the calling thread is limited to 1 MiB");
  request.max_attempts = 1;
  request.retry_delay_us = 0;
  return OutcomeToJs(info.Env(), GuardedCopy(request));
}

}  // namespace

void RegisterCopy(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "copyGuarded", Copy);
  Export(env, exports, "copyGuardedSync", CopySync);
  RegisterGeneration(env, exports);
}

}  // namespace vmi
