#pragma once

#include <napi.h>

namespace vmi {

void RegisterProbe(Napi::Env env, Napi::Object exports);

}  // namespace vmi
