#include <cstring>
#include <new>

#include "common/js_errors.h"

namespace vmi {

std::string ErrnoText(int err) {
  char buf[128];
  // GNU strerror_r returns the message pointer, which may or may not be buf.
  const char* text = strerror_r(err, buf, sizeof buf);
  return std::string(text) + " (errno " + std::to_string(err) + ")";
}

Napi::Error ToJsError(Napi::Env env, const char* error_code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, error_code));
  return error;
}

Napi::Error ToJsError(Napi::Env env, const NativeError& native) {
  Napi::Error error = ToJsError(env, native.code(), native.what());
  if (!native.details().empty()) {
    Napi::Object details = Napi::Object::New(env);
    for (const auto& [key, value] : native.details()) details.Set(key, Napi::BigInt::New(env, value));
    error.Set("details", details);
  }
  return error;
}

Napi::Error CurrentExceptionToJs(Napi::Env env) {
  try {
    throw;
  } catch (const Napi::Error& error) {
    return error;
  } catch (const NativeError& error) {
    return ToJsError(env, error);
  } catch (const std::bad_alloc&) {
    return ToJsError(env, code::kOutOfMemory, "native allocation failed");
  } catch (const std::exception& error) {
    return ToJsError(env, code::kInternal, error.what());
  } catch (...) {
    return ToJsError(env, code::kInternal, "unknown native exception");
  }
}

void Export(Napi::Env env, Napi::Object exports, const char* name, BindingFn fn) {
  exports.Set(name, Napi::Function::New(
                        env,
                        [fn](const Napi::CallbackInfo& info) -> Napi::Value {
                          try {
                            return fn(info);
                          } catch (...) {
                            CurrentExceptionToJs(info.Env()).ThrowAsJavaScriptException();
                            return info.Env().Undefined();
                          }
                        },
                        name));
}

}  // namespace vmi
