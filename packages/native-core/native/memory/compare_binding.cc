// Compares guest-physical ranges with the bytes they should hold, straight from the mapping. The
// scanner's sweep asks only "which protected objects differ from their baseline?": a byte
// comparison answers that at memory speed, where hashing every object each period costs several
// times more and still needs the baselines' hashes to compare against.
#include "memory/compare_binding.h"

#include <cstdint>
#include <vector>

#include "common/args.h"
#include "common/fault_guard.h"
#include "common/js_errors.h"
#include "common/promise_worker.h"
#include "memory/memory_handle.h"

namespace vmi {

namespace {

struct Range {
  uint64_t phys;
  uint64_t length;
  const uint8_t* expected;  // `length` bytes, kept alive by the worker's references
};

// One expected buffer per range; the references keep them alive (and their bytes where they are)
// until the worker has settled.
class PhysDiffWorker : public PromiseWorker {
 public:
  using Kept = std::vector<Napi::Reference<Napi::Buffer<uint8_t>>>;
  PhysDiffWorker(Napi::Env env, std::shared_ptr<GuestMemory> memory, std::vector<Range> ranges, Kept kept)
      : PromiseWorker(env, "vmi:diffPhys"), memory_(std::move(memory)), ranges_(std::move(ranges)), kept_(std::move(kept)) {}

 protected:
  void Run() override {
    for (uint32_t i = 0; i < ranges_.size(); ++i) {
      const Range& range = ranges_[i];
      auto pieces = memory_->Resolve(range.phys, range.length);
      memory_->EnsureBacked(pieces);
      const uint8_t* want = range.expected;
      for (const auto& piece : pieces) {
        bool equal = false;
        if (!GuardedEquals(piece.host, want, piece.length, &equal)) {
          throw NativeError(code::kFileTruncated, "guest RAM file shrank while comparing").With("address", range.phys);
        }
        if (!equal) {
          differing_.push_back(i);
          break;
        }
        want += piece.length;
      }
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, differing_.size());
    for (uint32_t i = 0; i < differing_.size(); ++i) out.Set(i, Napi::Number::New(env, differing_[i]));
    return out;
  }

 private:
  std::shared_ptr<GuestMemory> memory_;
  std::vector<Range> ranges_;
  Kept kept_;
  std::vector<uint32_t> differing_;
};

Napi::Value DiffPhys(const Napi::CallbackInfo& info) {
  auto memory = UnwrapHandle<GuestMemory>(args::At(info, 0, "memory"), kGuestMemoryHandle);
  Napi::Array list = args::Array(info, 1, "ranges");
  Napi::Array expected = args::Array(info, 2, "expected");
  if (expected.Length() != list.Length()) Fail(code::kBadArgument, "expected must hold one buffer per range");
  std::vector<Range> ranges;
  ranges.reserve(list.Length());
  PhysDiffWorker::Kept keep;
  keep.reserve(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Object r = args::Object(list.Get(i), "range");
    auto want = args::Bytes(expected.Get(i), "expected");
    Range range{args::U64(r.Get("phys"), "phys"), args::Count(r.Get("length"), "length"), want.Data()};
    if (want.Length() != range.length) Fail(code::kBadArgument, "an expected buffer's length differs from its range's");
    ranges.push_back(range);
    keep.push_back(Napi::Persistent(want));
  }
  auto* worker = new PhysDiffWorker(info.Env(), std::move(memory), std::move(ranges), std::move(keep));
  worker->Queue();
  return worker->Promise();
}

}  // namespace

void RegisterCompare(Napi::Env env, Napi::Object exports) { Export(env, exports, "memoryDiffPhys", DiffPhys); }

}  // namespace vmi
