// Turning native failures into JavaScript errors with a stable `code` (and optional `details`), and
// exporting binding functions so that no C++ exception escapes into N-API.
#pragma once

#include <napi.h>

#include "common/native_error.h"

namespace vmi {

// A JS Error whose `code` is the native code; the facade rethrows it as a VmiError with a JS stack.
Napi::Error ToJsError(Napi::Env env, const NativeError& error);
Napi::Error ToJsError(Napi::Env env, const char* error_code, const std::string& message);

// Converts whatever the current exception is into a JS Error (used in catch (...) blocks).
Napi::Error CurrentExceptionToJs(Napi::Env env);

using BindingFn = Napi::Value (*)(const Napi::CallbackInfo& info);

// Sets exports[name] to a function that runs `fn` and turns any exception into a thrown JS Error.
void Export(Napi::Env env, Napi::Object exports, const char* name, BindingFn fn);

}  // namespace vmi
