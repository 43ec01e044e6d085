#include "common/args.h"

#include <cmath>

#include "common/native_error.h"

namespace vmi::args {

namespace {
[[noreturn]] void Bad(const char* name, const char* expected) {
  Fail(code::kBadArgument, std::string(name) + " must be " + expected);
}
}  // namespace

Napi::Value At(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length()) Bad(name, "given");
  return info[index];
}

uint64_t U64(const Napi::Value& value, const char* name) {
  if (!value.IsBigInt()) Bad(name, "a bigint");
  bool lossless = false;
  uint64_t out = value.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) Bad(name, "a bigint in [0, 2^64)");
  return out;
}

uint64_t U64(const Napi::CallbackInfo& info, size_t index, const char* name) { return U64(At(info, index, name), name); }

uint64_t Count(const Napi::Value& value, const char* name) {
  if (!value.IsNumber()) Bad(name, "a number");
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < 0 || d > 9007199254740991.0 || std::floor(d) != d) Bad(name, "a non-negative safe integer");
  return static_cast<uint64_t>(d);
}

uint64_t Count(const Napi::CallbackInfo& info, size_t index, const char* name) { return Count(At(info, index, name), name); }

bool Bool(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = At(info, index, name);
  if (!value.IsBoolean()) Bad(name, "a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::string Str(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = At(info, index, name);
  if (!value.IsString()) Bad(name, "a string");
  return value.As<Napi::String>().Utf8Value();
}

Napi::Array Array(const Napi::CallbackInfo& info, size_t index, const char* name) {
  Napi::Value value = At(info, index, name);
  if (!value.IsArray()) Bad(name, "an array");
  return value.As<Napi::Array>();
}

Napi::Object Object(const Napi::Value& value, const char* name) {
  if (!value.IsObject()) Bad(name, "an object");
  return value.As<Napi::Object>();
}

Napi::Buffer<uint8_t> Bytes(const Napi::Value& value, const char* name) {
  if (!value.IsBuffer()) Bad(name, "a Buffer or Uint8Array");
  return value.As<Napi::Buffer<uint8_t>>();
}

bool IsNull(const Napi::CallbackInfo& info, size_t index) { return index >= info.Length() || info[index].IsNull() || info[index].IsUndefined(); }

}  // namespace vmi::args
