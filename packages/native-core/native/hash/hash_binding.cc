#include "hash/hash_binding.h"

#include "common/args.h"
#include "common/js_errors.h"
#include "common/promise_worker.h"
#include "hash/sha256.h"
#include "memory/memory_handle.h"

namespace vmi {

namespace {

Napi::Value DigestBuffer(Napi::Env env, const Digest& digest) { return Napi::Buffer<uint8_t>::Copy(env, digest.data(), digest.size()); }

// Hashes a caller's buffer off the event loop; the reference keeps it alive until the worker is done.
class BufferHashWorker : public PromiseWorker {
 public:
  BufferHashWorker(Napi::Env env, Napi::Buffer<uint8_t> data)
      : PromiseWorker(env, "vmi:sha256"), data_(data.Data()), length_(data.Length()), ref_(Napi::Persistent(data)) {}

 protected:
  void Run() override {
    Sha256 hash;
    hash.Update(data_, length_);
    digest_ = hash.Finish();
  }
  Napi::Value Result(Napi::Env env) override { return DigestBuffer(env, digest_); }

 private:
  const uint8_t* data_;
  size_t length_;
  Napi::Reference<Napi::Buffer<uint8_t>> ref_;
  Digest digest_{};
};

struct PhysRange {
  uint64_t phys;
  uint64_t length;
};

// One digest over the concatenation of guest-physical ranges, read straight from the mapping.
class PhysHashWorker : public PromiseWorker {
 public:
  PhysHashWorker(Napi::Env env, std::shared_ptr<GuestMemory> memory, std::vector<PhysRange> ranges)
      : PromiseWorker(env, "vmi:hashPhys"), memory_(std::move(memory)), ranges_(std::move(ranges)) {}

 protected:
  void Run() override {
    Sha256 hash;
    for (const PhysRange& range : ranges_) {
      auto pieces = memory_->Resolve(range.phys, range.length);
      memory_->EnsureBacked(pieces);
      for (const auto& piece : pieces) {
        if (!hash.UpdateGuarded(piece.host, piece.length)) {
          throw NativeError(code::kFileTruncated, "guest RAM file shrank while hashing").With("address", range.phys);
        }
      }
    }
    digest_ = hash.Finish();
  }
  Napi::Value Result(Napi::Env env) override { return DigestBuffer(env, digest_); }

 private:
  std::shared_ptr<GuestMemory> memory_;
  std::vector<PhysRange> ranges_;
  Digest digest_{};
};

Napi::Value Sha256Async(const Napi::CallbackInfo& info) {
  auto* worker = new BufferHashWorker(info.Env(), args::Bytes(args::At(info, 0, "data"), "data"));
  worker->Queue();
  return worker->Promise();
}

Napi::Value Sha256Sync(const Napi::CallbackInfo& info) {
  auto data = args::Bytes(args::At(info, 0, "data"), "data");
  Sha256 hash;
  hash.Update(data.Data(), data.Length());
  return DigestBuffer(info.Env(), hash.Finish());
}

Napi::Value HashPhys(const Napi::CallbackInfo& info) {
  auto memory = UnwrapHandle<GuestMemory>(args::At(info, 0, "memory"), kGuestMemoryHandle);
  Napi::Array list = args::Array(info, 1, "ranges");
  std::vector<PhysRange> ranges;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Object r = args::Object(list.Get(i), "range");
    ranges.push_back(PhysRange{args::U64(r.Get("phys"), "phys"), args::Count(r.Get("length"), "length")});
  }
  auto* worker = new PhysHashWorker(info.Env(), std::move(memory), std::move(ranges));
  worker->Queue();
  return worker->Promise();
}

}  // namespace

void RegisterHash(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "hashSha256", Sha256Async);
  Export(env, exports, "hashSha256Sync", Sha256Sync);
  Export(env, exports, "memoryHashPhys", HashPhys);
}

}  // namespace vmi
