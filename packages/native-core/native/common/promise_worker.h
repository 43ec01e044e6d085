// Off-thread work that settles a Promise. Run() executes on a libuv worker thread and must not touch
// N-API; it reports failure by throwing NativeError. Result() runs back on the JS thread.
//
//   auto* worker = new MyWorker(env, ...);   // copy inputs, take shared_ptrs and references here
//   worker->Queue();                         // the worker deletes itself once settled
//   return worker->Promise();
#pragma once

#include <napi.h>

#include <optional>

#include "common/js_errors.h"

namespace vmi {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* resource_name)
      : Napi::AsyncWorker(env, resource_name), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

 private:
  void Execute() final {
    try {
      Run();
    } catch (const NativeError& error) {
      error_ = error;
      SetError(error.what());
    } catch (const std::bad_alloc&) {
      error_ = NativeError(code::kOutOfMemory, "native allocation failed");
      SetError("native allocation failed");
    } catch (const std::exception& error) {
      error_ = NativeError(code::kInternal, error.what());
      SetError(error.what());
    }
  }

  void OnOK() final {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Result(env));
    } catch (...) {
      deferred_.Reject(CurrentExceptionToJs(env).Value());
    }
  }

  void OnError(const Napi::Error& error) final {
    if (error_) {
      deferred_.Reject(ToJsError(Env(), *error_).Value());
    } else {
      deferred_.Reject(error.Value());
    }
  }

  Napi::Promise::Deferred deferred_;
  std::optional<NativeError> error_;
};

}  // namespace vmi
