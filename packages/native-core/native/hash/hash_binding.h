#pragma once

#include <napi.h>

namespace vmi {

void RegisterHash(Napi::Env env, Napi::Object exports);

}  // namespace vmi
