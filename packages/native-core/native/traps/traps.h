// Entry point of the trap engine's bindings (gdbstub and userfaultfd backends).
#pragma once

#include <napi.h>

namespace vmi {

void RegisterTraps(Napi::Env env, Napi::Object exports);

}  // namespace vmi
