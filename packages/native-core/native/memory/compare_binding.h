#pragma once

#include <napi.h>

namespace vmi {

void RegisterCompare(Napi::Env env, Napi::Object exports);

}  // namespace vmi
