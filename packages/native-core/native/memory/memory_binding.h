#pragma once

#include <napi.h>

namespace vmi {

void RegisterMemory(Napi::Env env, Napi::Object exports);

}  // namespace vmi
