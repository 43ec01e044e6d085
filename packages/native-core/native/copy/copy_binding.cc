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

// The copy runs on a worker thread into Buffers the facade allocated; references keep them alive.
class CopyWorker : public PromiseWorker {
 public:
  CopyWorker(Napi::Env env, CopyRequest request, std::vector<Napi::Reference<Napi::Buffer<uint8_t>>> buffers)
      : PromiseWorker(env, "vmi:guardedCopy"), request_(std::move(request)), buffers_(std::move(buffers)) {}

 protected:
  void Run() override { outcome_ = GuardedCopy(request_); }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object out = Napi::Object::New(env);
    out.Set("completed", outcome_.completed);
    out.Set("guard", GuardName(outcome_.guard));
    out.Set("attempts", outcome_.attempts);
    out.Set("aborts", outcome_.aborts);
    out.Set("lastAbort", outcome_.last_abort.empty() ? env.Null() : Napi::String::New(env, outcome_.last_abort));
    return out;
  }

 private:
  CopyRequest request_;
  std::vector<Napi::Reference<Napi::Buffer<uint8_t>>> buffers_;
  CopyOutcome outcome_;
};

// copyGuarded(memory, ranges, buffers, guard, table | null, maxAttempts, retryDelayUs)
Napi::Value Copy(const Napi::CallbackInfo& info) {
  CopyRequest request;
  request.memory = UnwrapHandle<GuestMemory>(args::At(info, 0, "memory"), kGuestMemoryHandle);
  Napi::Array ranges = args::Array(info, 1, "ranges");
  Napi::Array dsts = args::Array(info, 2, "buffers");
  if (ranges.Length() != dsts.Length()) Fail(code::kBadArgument, "one buffer per range is required");
  std::vector<Napi::Reference<Napi::Buffer<uint8_t>>> refs;
  for (uint32_t i = 0; i < ranges.Length(); ++i) {
    Napi::Object r = args::Object(ranges.Get(i), "range");
    auto buffer = args::Bytes(dsts.Get(i), "buffer");
    uint64_t length = args::Count(r.Get("length"), "length");
    if (buffer.Length() != length) Fail(code::kBadArgument, "buffer length must equal its range's length");
    request.ranges.push_back(CopyRange{args::U64(r.Get("phys"), "phys"), length, buffer.Data()});
    refs.push_back(Napi::Persistent(buffer));
  }
  request.guard = ParseGuard(args::Str(info, 3, "guard"));
  if (!args::IsNull(info, 4)) request.table = UnwrapHandle<gen::Table>(info[4], kGenerationTableHandle);
  uint64_t attempts = args::Count(info, 5, "maxAttempts");
  uint64_t delay = args::Count(info, 6, "retryDelayUs");
  if (attempts == 0 || attempts > 1'000'000) Fail(code::kBadArgument, "maxAttempts out of range");
  if (delay > 1'000'000) Fail(code::kBadArgument, "retryDelayUs out of range");
  request.max_attempts = static_cast<uint32_t>(attempts);
  request.retry_delay_us = static_cast<uint32_t>(delay);
  auto* worker = new CopyWorker(info.Env(), std::move(request), std::move(refs));
  worker->Queue();
  return worker->Promise();
}

}  // namespace

void RegisterCopy(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "copyGuarded", Copy);
  RegisterGeneration(env, exports);
}

}  // namespace vmi
