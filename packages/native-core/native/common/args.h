// Argument readers for binding functions. The facade validates and resolves defaults before calling,
// so these only defend against misuse: a wrong type is a BAD_ARGUMENT error, never a crash.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace vmi::args {

Napi::Value At(const Napi::CallbackInfo& info, size_t index, const char* name);
// A bigint that fits in 64 bits without loss.
uint64_t U64(const Napi::Value& value, const char* name);
uint64_t U64(const Napi::CallbackInfo& info, size_t index, const char* name);
// A non-negative integral number up to 2^53.
uint64_t Count(const Napi::Value& value, const char* name);
uint64_t Count(const Napi::CallbackInfo& info, size_t index, const char* name);
bool Bool(const Napi::CallbackInfo& info, size_t index, const char* name);
std::string Str(const Napi::CallbackInfo& info, size_t index, const char* name);
Napi::Array Array(const Napi::CallbackInfo& info, size_t index, const char* name);
Napi::Object Object(const Napi::Value& value, const char* name);
Napi::Buffer<uint8_t> Bytes(const Napi::Value& value, const char* name);
bool IsNull(const Napi::CallbackInfo& info, size_t index);

}  // namespace vmi::args
