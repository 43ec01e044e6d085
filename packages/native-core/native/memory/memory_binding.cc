#include "memory/memory_binding.h"

#include "common/args.h"
#include "common/js_errors.h"
#include "common/promise_worker.h"
#include "memory/memory_handle.h"
#include "memory/page_walk.h"

namespace vmi {

namespace {

std::shared_ptr<GuestMemory> Memory(const Napi::CallbackInfo& info) { return UnwrapHandle<GuestMemory>(args::At(info, 0, "memory"), kGuestMemoryHandle); }

int Levels(const Napi::CallbackInfo& info, size_t index) {
  uint64_t levels = args::Count(info, index, "levels");
  if (levels != 4 && levels != 5) Fail(code::kBadArgument, "levels must be 4 or 5");
  return static_cast<int>(levels);
}

Napi::Value Open(const Napi::CallbackInfo& info) {
  std::string path = args::Str(info, 0, "path");
  bool writable = args::Bool(info, 1, "writable");
  std::vector<LayoutRegion> layout;
  if (!args::IsNull(info, 2)) {
    Napi::Array regions = args::Array(info, 2, "layout");
    for (uint32_t i = 0; i < regions.Length(); ++i) {
      Napi::Object r = args::Object(regions.Get(i), "layout region");
      layout.push_back(LayoutRegion{args::U64(r.Get("guestPhys"), "guestPhys"), args::U64(r.Get("fileOffset"), "fileOffset"),
                                    args::U64(r.Get("length"), "length")});
    }
  }
  return WrapHandle(info.Env(), GuestMemory::Open(path, writable, std::move(layout)), kGuestMemoryHandle);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  // Work in flight keeps its own reference; the mapping goes away when the last one ends.
  CloseHandle<GuestMemory>(args::At(info, 0, "memory"), kGuestMemoryHandle);
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto mem = Memory(info);
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("path", mem->path());
  out.Set("fileSize", Napi::BigInt::New(env, mem->file_size()));
  out.Set("writable", mem->writable());
  Napi::Array layout = Napi::Array::New(env, mem->layout().size());
  for (size_t i = 0; i < mem->layout().size(); ++i) {
    const LayoutRegion& r = mem->layout()[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("guestPhys", Napi::BigInt::New(env, r.guest_phys));
    o.Set("fileOffset", Napi::BigInt::New(env, r.file_offset));
    o.Set("length", Napi::BigInt::New(env, r.length));
    layout.Set(static_cast<uint32_t>(i), o);
  }
  out.Set("layout", layout);
  return out;
}

Napi::Value ReadPhys(const Napi::CallbackInfo& info) {
  auto mem = Memory(info);
  uint64_t phys = args::U64(info, 1, "phys");
  uint64_t length = args::Count(info, 2, "length");
  auto buffer = Napi::Buffer<uint8_t>::New(info.Env(), length);
  mem->ReadPhys(phys, buffer.Data(), length);
  return buffer;
}

Napi::Value WritePhys(const Napi::CallbackInfo& info) {
  auto mem = Memory(info);
  uint64_t phys = args::U64(info, 1, "phys");
  auto data = args::Bytes(args::At(info, 2, "data"), "data");
  mem->WritePhys(phys, data.Data(), data.Length());
  return info.Env().Undefined();
}

Napi::Value Translate(const Napi::CallbackInfo& info) {
  auto mem = Memory(info);
  Translation t = TranslateVirtual(*mem, args::U64(info, 1, "cr3"), args::U64(info, 2, "va"), Levels(info, 3));
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("phys", Napi::BigInt::New(env, t.phys));
  out.Set("pageSize", Napi::Number::New(env, static_cast<double>(t.page_size)));
  out.Set("writable", t.writable);
  out.Set("user", t.user);
  out.Set("noExecute", t.no_execute);
  return out;
}

Napi::Value ReadVirt(const Napi::CallbackInfo& info) {
  auto mem = Memory(info);
  uint64_t cr3 = args::U64(info, 1, "cr3");
  uint64_t va = args::U64(info, 2, "va");
  uint64_t length = args::Count(info, 3, "length");
  int levels = Levels(info, 4);
  auto buffer = Napi::Buffer<uint8_t>::New(info.Env(), length);
  ReadVirtual(*mem, cr3, va, buffer.Data(), length, levels);
  return buffer;
}

// A read of physical or virtual memory into a Buffer allocated up front, done off the event loop.
class ReadWorker : public PromiseWorker {
 public:
  ReadWorker(Napi::Env env, std::shared_ptr<GuestMemory> memory, bool is_virtual, uint64_t cr3, uint64_t address, uint64_t length, int levels)
      : PromiseWorker(env, "vmi:memoryRead"),
        memory_(std::move(memory)),
        is_virtual_(is_virtual),
        cr3_(cr3),
        address_(address),
        length_(length),
        levels_(levels) {
    auto buffer = Napi::Buffer<uint8_t>::New(env, length);
    data_ = buffer.Data();
    buffer_ = Napi::Persistent(buffer);
  }

 protected:
  void Run() override {
    if (is_virtual_) {
      ReadVirtual(*memory_, cr3_, address_, data_, length_, levels_);
    } else {
      memory_->ReadPhys(address_, data_, length_);
    }
  }
  Napi::Value Result(Napi::Env) override { return buffer_.Value(); }

 private:
  std::shared_ptr<GuestMemory> memory_;
  bool is_virtual_;
  uint64_t cr3_, address_, length_;
  int levels_;
  uint8_t* data_ = nullptr;
  Napi::Reference<Napi::Buffer<uint8_t>> buffer_;
};

Napi::Value ReadPhysAsync(const Napi::CallbackInfo& info) {
  auto mem = Memory(info);
  auto* worker = new ReadWorker(info.Env(), mem, false, 0, args::U64(info, 1, "phys"), args::Count(info, 2, "length"), 4);
  worker->Queue();
  return worker->Promise();
}

Napi::Value ReadVirtAsync(const Napi::CallbackInfo& info) {
  auto mem = Memory(info);
  auto* worker = new ReadWorker(info.Env(), mem, true, args::U64(info, 1, "cr3"), args::U64(info, 2, "va"), args::Count(info, 3, "length"),
                                Levels(info, 4));
  worker->Queue();
  return worker->Promise();
}

}  // namespace

void RegisterMemory(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "memoryOpen", Open);
  Export(env, exports, "memoryClose", Close);
  Export(env, exports, "memoryInfo", Info);
  Export(env, exports, "memoryReadPhys", ReadPhys);
  Export(env, exports, "memoryReadPhysAsync", ReadPhysAsync);
  Export(env, exports, "memoryWritePhys", WritePhys);
  Export(env, exports, "memoryTranslate", Translate);
  Export(env, exports, "memoryReadVirt", ReadVirt);
  Export(env, exports, "memoryReadVirtAsync", ReadVirtAsync);
}

}  // namespace vmi
