// Module init: each area registers its own functions; the TypeScript facade (src/native.ts) declares them.
#include <napi.h>

#include "traps/traps.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  vmi::RegisterTraps(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vmi_native, Init)
