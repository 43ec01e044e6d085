// Module init: each area registers its own functions; the TypeScript facade (src/native.ts) declares them.
#include <napi.h>

#include "copy/copy_binding.h"
#include "hash/hash_binding.h"
#include "memory/compare_binding.h"
#include "memory/memory_binding.h"
#include "probe/probe_binding.h"
#include "traps/traps.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  vmi::RegisterMemory(env, exports);
  vmi::RegisterHash(env, exports);
  vmi::RegisterCompare(env, exports);
  vmi::RegisterProbe(env, exports);
  vmi::RegisterCopy(env, exports);
  vmi::RegisterTraps(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vmi_native, Init)
