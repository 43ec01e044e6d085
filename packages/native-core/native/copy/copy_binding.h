#pragma once

#include <napi.h>

namespace vmi {

void RegisterCopy(Napi::Env env, Napi::Object exports);
void RegisterGeneration(Napi::Env env, Napi::Object exports);

}  // namespace vmi
