// Bindings of the write-generation table: readers (the trap guard) open it; the writer side (create,
// set a slot, record a write) serves the trap engine's tests and any process that simulates it.
#include "copy/copy_binding.h"
#include "copy/generation_handle.h"
#include "common/args.h"
#include "common/js_errors.h"

namespace vmi {

namespace {

std::shared_ptr<gen::Table> TableArg(const Napi::CallbackInfo& info) {
  return UnwrapHandle<gen::Table>(args::At(info, 0, "table"), kGenerationTableHandle);
}

uint32_t SlotIndex(const Napi::CallbackInfo& info, size_t index) {
  uint64_t slot = args::Count(info, index, "slot");
  if (slot > UINT32_MAX) Fail(code::kBadArgument, "slot index out of range");
  return static_cast<uint32_t>(slot);
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  uint64_t slots = args::Count(info, 1, "slots");
  if (slots == 0 || slots > gen::kMaxSlots) Fail(code::kBadArgument, "slots out of range");
  auto table = std::make_shared<gen::Table>(gen::Table::Create(args::Str(info, 0, "path"), static_cast<uint32_t>(slots)));
  return WrapHandle(info.Env(), std::move(table), kGenerationTableHandle);
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  auto table = std::make_shared<gen::Table>(gen::Table::Open(args::Str(info, 0, "path"), args::Bool(info, 1, "writable")));
  return WrapHandle(info.Env(), std::move(table), kGenerationTableHandle);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  CloseHandle<gen::Table>(args::At(info, 0, "table"), kGenerationTableHandle);
  return info.Env().Undefined();
}

Napi::Value SetSlot(const Napi::CallbackInfo& info) {
  TableArg(info)->SetSlot(SlotIndex(info, 1), args::U64(info, 2, "physStart"), args::U64(info, 3, "length"));
  return info.Env().Undefined();
}

Napi::Value RecordWrite(const Napi::CallbackInfo& info) {
  uint32_t touched = TableArg(info)->RecordWrite(args::U64(info, 1, "phys"), args::U64(info, 2, "length"));
  return Napi::Number::New(info.Env(), touched);
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  auto table = TableArg(info);
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("slotCount", table->slots());
  out.Set("globalGen", Napi::BigInt::New(env, table->GlobalGen()));
  Napi::Array used = Napi::Array::New(env);
  uint32_t n = 0;
  for (uint32_t i = 0; i < table->slots(); ++i) {
    gen::Slot s = table->ReadSlot(i);
    if (s.length == 0) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", i);
    o.Set("physStart", Napi::BigInt::New(env, s.phys_start));
    o.Set("length", Napi::BigInt::New(env, s.length));
    o.Set("gen", Napi::BigInt::New(env, s.gen));
    used.Set(n++, o);
  }
  out.Set("slots", used);
  return out;
}

}  // namespace

void RegisterGeneration(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "genCreate", Create);
  Export(env, exports, "genOpen", Open);
  Export(env, exports, "genClose", Close);
  Export(env, exports, "genSetSlot", SetSlot);
  Export(env, exports, "genRecordWrite", RecordWrite);
  Export(env, exports, "genRead", Read);
}

}  // namespace vmi
