// N-API bindings of the trap engine. The facade (src/traps/) validates and resolves everything;
// this file converts resolved values, runs backend operations off the JS thread and delivers event
// batches through a thread-safe function.
#include "traps/traps.h"

#include <algorithm>
#include <memory>
#include <mutex>

#include "common/args.h"
#include "common/handles.h"
#include "common/js_errors.h"
#include "common/promise_worker.h"
#include "traps/event_sink.h"
#include "traps/rsp_codec.h"
#include "traps/trap_backend.h"
#include "traps/trap_codes.h"

namespace vmi {

namespace {

using traps::BackendConfig;
using traps::Status;
using traps::TrapEvent;

struct Engine {
  std::unique_ptr<traps::EventSink> sink;
  std::unique_ptr<traps::TrapBackend> backend;
  Napi::ThreadSafeFunction tsfn;
  uint32_t batch_max = 256;
  napi_env env = nullptr;
  std::mutex mu;
  bool closed = false;
  bool hook_installed = false;

  ~Engine() { Shutdown(); }

  // Stops delivery first (a producer blocked on a full queue returns), then detaches.
  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (closed) return;
      closed = true;
    }
    if (sink) sink->Shutdown();
    if (backend) backend->Close();
  }
};

const HandleKind kEngineKind{{0x7a1c5e0d9b3f4a21ull, 0x8e6d2c4b1a0f9e37ull}, "trap engine"};

void ThrowStatus(const Status& s) {
  if (!s.ok()) throw NativeError(traps::StatusCode(s.code), s.detail);
}

void CleanupHook(void* arg) {
  // The environment is going away: detach so the guest is never left frozen. The weak pointer
  // keeps this safe when the engine was closed (and freed) first.
  auto* weak = static_cast<std::weak_ptr<Engine>*>(arg);
  if (auto engine = weak->lock()) engine->Shutdown();
  delete weak;
}

const char* KindName(traps::EventKind k) {
  switch (k) {
    case traps::EventKind::kWrite: return "write";
    case traps::EventKind::kProtectionLost: return "protection-lost";
    case traps::EventKind::kProtectionRestored: return "protection-restored";
  }
  return "write";
}

Napi::Value OptionalU64(Napi::Env env, uint64_t v) {
  return v == traps::kUnknown ? env.Null() : Napi::BigInt::New(env, v).As<Napi::Value>();
}

Napi::Object EventToJs(Napi::Env env, const TrapEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", Napi::Number::New(env, e.version));
  o.Set("kind", Napi::String::New(env, KindName(e.kind)));
  o.Set("backend", Napi::String::New(env, e.backend == 0 ? "gdbstub" : "uffd"));
  o.Set("seq", Napi::BigInt::New(env, e.seq));
  o.Set("watchId", Napi::Number::New(env, e.watch_id));
  o.Set("address", Napi::BigInt::New(env, e.address));
  o.Set("phys", OptionalU64(env, e.phys));
  o.Set("hitAddress", Napi::BigInt::New(env, e.hit_address));
  o.Set("oldBytes", Napi::Buffer<uint8_t>::Copy(env, e.old_bytes.data(), e.old_bytes.size()));
  o.Set("newBytes", Napi::Buffer<uint8_t>::Copy(env, e.new_bytes.data(), e.new_bytes.size()));
  o.Set("rip", OptionalU64(env, e.rip));
  o.Set("cr3", OptionalU64(env, e.cr3));
  o.Set("vcpu", e.vcpu < 0 ? env.Null() : Napi::Number::New(env, e.vcpu).As<Napi::Value>());
  o.Set("stopNs", Napi::BigInt::New(env, e.stop_ns));
  o.Set("resumeNs", e.resume_ns == 0 ? env.Null() : Napi::BigInt::New(env, e.resume_ns).As<Napi::Value>());
  o.Set("deliverNs", Napi::BigInt::New(env, e.deliver_ns));
  o.Set("merged", Napi::Boolean::New(env, e.merged));
  o.Set("held", Napi::Boolean::New(env, e.held));
  o.Set("detail", Napi::String::New(env, e.detail));
  return o;
}

BackendConfig ReadConfig(const Napi::Object& c) {
  BackendConfig cfg;
  auto str = [&](const char* k) { return c.Get(k).As<Napi::String>().Utf8Value(); };
  auto num = [&](const char* k) { return static_cast<uint32_t>(args::Count(c.Get(k), k)); };
  cfg.backend = str("backend");
  cfg.mode = str("mode") == "enforce" ? traps::HoldMode::kEnforce : traps::HoldMode::kMonitor;
  cfg.host = str("host");
  cfg.port = static_cast<uint16_t>(num("port"));
  cfg.unix_path = str("unixPath");
  cfg.connect_timeout_ms = num("connectTimeoutMs");
  cfg.reply_timeout_ms = num("replyTimeoutMs");
  cfg.ram_path = str("ramPath");
  Napi::Array layout = args::Object(c.Get("ramLayout"), "ramLayout").As<Napi::Array>();
  for (uint32_t i = 0; i < layout.Length(); ++i) {
    Napi::Object r = args::Object(layout.Get(i), "ramLayout[]");
    cfg.ram_layout.push_back({args::U64(r.Get("phys"), "phys"), args::U64(r.Get("fileOffset"), "fileOffset"),
                              args::U64(r.Get("length"), "length")});
  }
  cfg.uffd_socket = str("uffdSocket");
  cfg.reprotect_window_us = num("reprotectWindowUs");
  cfg.watchdog_ms = num("watchdogMs");
  cfg.queue_capacity = num("queueCapacity");
  cfg.batch_max = num("batchMax");
  cfg.generation_path = str("generationPath");
  cfg.generation_slots = num("generationSlots");
  return cfg;
}

class OpenWorker : public PromiseWorker {
 public:
  OpenWorker(Napi::Env env, std::shared_ptr<Engine> engine, BackendConfig config)
      : PromiseWorker(env, "vmi.traps.open"), engine_(std::move(engine)), config_(std::move(config)) {}

 protected:
  void Run() override {
    const traps::BackendOps* ops = traps::FindBackend(config_.backend);
    if (ops == nullptr) Fail(code::kBadArgument, "unknown trap backend " + config_.backend);
    traps::ProbeResult probe = ops->probe(config_);
    if (!probe.available) Fail(traps::StatusCode(traps::TrapStatus::kUnavailable), probe.detail);
    ThrowStatus(ops->setup(config_, engine_->sink.get(), &engine_->backend));
  }
  Napi::Value Result(Napi::Env env) override {
    auto* weak = new std::weak_ptr<Engine>(engine_);
    napi_add_env_cleanup_hook(env, CleanupHook, weak);
    engine_->hook_installed = true;
    return WrapHandle(env, engine_, kEngineKind);
  }

 private:
  std::shared_ptr<Engine> engine_;
  BackendConfig config_;
};

// Runs one blocking backend operation on a worker thread.
template <typename Fn>
class OpWorker : public PromiseWorker {
 public:
  OpWorker(Napi::Env env, std::shared_ptr<Engine> engine, Fn fn)
      : PromiseWorker(env, "vmi.traps.op"), engine_(std::move(engine)), fn_(std::move(fn)) {}

 protected:
  void Run() override { ThrowStatus(fn_(*engine_->backend)); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<Engine> engine_;
  Fn fn_;
};

template <typename Fn>
Napi::Value QueueOp(Napi::Env env, std::shared_ptr<Engine> engine, Fn fn) {
  auto* w = new OpWorker<Fn>(env, std::move(engine), std::move(fn));
  w->Queue();
  return w->Promise();
}

std::shared_ptr<Engine> EngineArg(const Napi::CallbackInfo& info) {
  auto engine = UnwrapHandle<Engine>(args::At(info, 0, "engine"), kEngineKind);
  if (!engine->backend) Fail(code::kClosed, "trap engine is not open");
  return engine;
}

// trapsOpen(config, onEvents): Promise<handle>
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BackendConfig cfg = ReadConfig(args::Object(args::At(info, 0, "config"), "config"));
  Napi::Value cb = args::At(info, 1, "onEvents");
  if (!cb.IsFunction()) Fail(code::kBadArgument, "onEvents must be a function");
  auto engine = std::make_shared<Engine>();
  engine->env = env;
  engine->batch_max = cfg.batch_max == 0 ? 256 : cfg.batch_max;
  engine->tsfn = Napi::ThreadSafeFunction::New(env, cb.As<Napi::Function>(), "vmi.traps.events", 0, 1);
  Engine* raw = engine.get();
  std::weak_ptr<Engine> weak = engine;
  engine->sink = std::make_unique<traps::EventSink>(cfg.queue_capacity, [raw, weak]() {
    raw->tsfn.NonBlockingCall([weak](Napi::Env env, Napi::Function js) {
      auto e = weak.lock();
      if (!e) return;
      std::deque<TrapEvent> batch;
      e->sink->Drain(e->batch_max, &batch);
      if (batch.empty()) return;
      Napi::Array arr = Napi::Array::New(env, batch.size());
      for (size_t i = 0; i < batch.size(); ++i) arr.Set(static_cast<uint32_t>(i), EventToJs(env, batch[i]));
      js.Call({arr});
    });
  });
  auto* worker = new OpenWorker(env, engine, std::move(cfg));
  worker->Queue();
  return worker->Promise();
}

Napi::Value Watch(const Napi::CallbackInfo& info) {
  auto engine = EngineArg(info);
  traps::WatchSpec spec;
  spec.id = static_cast<uint32_t>(args::Count(info, 1, "id"));
  spec.virt = args::U64(info, 2, "virt");
  spec.phys = args::U64(info, 3, "phys");
  spec.length = static_cast<uint32_t>(args::Count(info, 4, "length"));
  return QueueOp(info.Env(), engine, [spec](traps::TrapBackend& b) { return b.Watch(spec); });
}

Napi::Value Unwatch(const Napi::CallbackInfo& info) {
  auto engine = EngineArg(info);
  uint32_t id = static_cast<uint32_t>(args::Count(info, 1, "id"));
  return QueueOp(info.Env(), engine, [id](traps::TrapBackend& b) { return b.Unwatch(id); });
}

Napi::Value Arm(const Napi::CallbackInfo& info) {
  auto engine = EngineArg(info);
  return QueueOp(info.Env(), engine, [](traps::TrapBackend& b) { return b.Arm(); });
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  auto engine = EngineArg(info);
  uint64_t seq = args::U64(info, 1, "seq");
  bool restore = args::Bool(info, 2, "restore");
  return QueueOp(info.Env(), engine, [seq, restore](traps::TrapBackend& b) { return b.Release(seq, restore); });
}

class CloseWorker : public PromiseWorker {
 public:
  CloseWorker(Napi::Env env, std::shared_ptr<Engine> engine) : PromiseWorker(env, "vmi.traps.close"), engine_(std::move(engine)) {}

 protected:
  void Run() override { engine_->Shutdown(); }
  Napi::Value Result(Napi::Env env) override {
    // Events queued before the close are still delivered; then the function lets the loop go.
    std::deque<TrapEvent> rest;
    engine_->sink->Drain(SIZE_MAX, &rest);
    Napi::Array arr = Napi::Array::New(env, rest.size());
    for (size_t i = 0; i < rest.size(); ++i) arr.Set(static_cast<uint32_t>(i), EventToJs(env, rest[i]));
    engine_->tsfn.Release();
    return arr;
  }

 private:
  std::shared_ptr<Engine> engine_;
};

// trapsClose(handle): Promise<events still queued>
Napi::Value CloseEngine(const Napi::CallbackInfo& info) {
  auto engine = CloseHandle<Engine>(args::At(info, 0, "engine"), kEngineKind);
  if (!engine) return Napi::Array::New(info.Env());
  auto* w = new CloseWorker(info.Env(), engine);
  w->Queue();
  return w->Promise();
}

Napi::Value GetCounters(const Napi::CallbackInfo& info) {
  auto engine = EngineArg(info);
  Napi::Env env = info.Env();
  traps::Counters c = engine->backend->GetCounters();
  Napi::Object o = Napi::Object::New(env);
  auto set = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  set("stops", c.stops);
  set("resumes", c.resumes);
  set("queued", c.queued);
  set("delivered", c.delivered);
  set("backpressureWaits", c.backpressure_waits);
  set("held", c.held);
  set("protocolErrors", c.protocol_errors);
  set("unmatchedStops", c.unmatched_stops);
  set("watchdogReleases", c.watchdog_releases);
  set("rearms", c.rearms);
  set("watches", c.watches);
  set("armed", c.armed);
  set("queueDepth", engine->sink->depth());
  return o;
}

Napi::Value Describe(const Napi::CallbackInfo& info) {
  auto engine = EngineArg(info);
  return Napi::String::New(info.Env(), engine->backend->Describe());
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BackendConfig cfg = ReadConfig(args::Object(args::At(info, 0, "config"), "config"));
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const traps::BackendOps* ops : traps::AllBackends()) {
    traps::ProbeResult r = ops->probe(cfg);
    Napi::Object o = Napi::Object::New(env);
    o.Set("backend", Napi::String::New(env, ops->name));
    o.Set("available", Napi::Boolean::New(env, r.available));
    o.Set("detail", Napi::String::New(env, r.detail));
    out.Set(i++, o);
  }
  return out;
}

// --- test-only entry points: the RSP codec on arbitrary bytes ---------------------------------

Napi::Value RspDecode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> data = args::Bytes(args::At(info, 0, "data"), "data");
  traps::rsp::Decoder decoder(static_cast<size_t>(args::Count(info, 1, "maxPacket")));
  std::vector<traps::rsp::Frame> frames;
  std::vector<traps::rsp::RspError> errors;
  // Feeding in chunks exercises the decoder's state carried across socket reads.
  const size_t chunk = std::max<size_t>(1, static_cast<size_t>(args::Count(info, 2, "chunk")));
  for (size_t off = 0; off < data.Length(); off += chunk) {
    decoder.Feed(data.Data() + off, std::min(chunk, data.Length() - off), &frames, &errors);
  }
  Napi::Array f = Napi::Array::New(env, frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    const char* kind = "packet";
    switch (frames[i].kind) {
      case traps::rsp::Frame::Kind::kAck: kind = "ack"; break;
      case traps::rsp::Frame::Kind::kNack: kind = "nack"; break;
      case traps::rsp::Frame::Kind::kNotification: kind = "notification"; break;
      case traps::rsp::Frame::Kind::kPacket: kind = "packet"; break;
    }
    o.Set("kind", kind);
    o.Set("payload", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(frames[i].payload.data()),
                                                 frames[i].payload.size()));
    std::string binary;
    if (traps::rsp::Unescape(frames[i].payload, &binary)) {
      o.Set("unescaped", env.Null());
    } else {
      o.Set("unescaped", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(binary.data()), binary.size()));
    }
    f.Set(static_cast<uint32_t>(i), o);
  }
  Napi::Array e = Napi::Array::New(env, errors.size());
  for (size_t i = 0; i < errors.size(); ++i) {
    e.Set(static_cast<uint32_t>(i), ToJsError(env, traps::RspCode(errors[i].code), errors[i].detail).Value());
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("frames", f);
  out.Set("errors", e);
  return out;
}

Napi::Value RspEncode(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> data = args::Bytes(args::At(info, 0, "body"), "body");
  std::string packet = traps::rsp::EncodePacket(std::string_view(reinterpret_cast<const char*>(data.Data()), data.Length()));
  return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<const uint8_t*>(packet.data()), packet.size());
}

Napi::Value RspStopReply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<uint8_t> data = args::Bytes(args::At(info, 0, "payload"), "payload");
  traps::rsp::StopReply stop;
  if (auto err = traps::rsp::ParseStopReply(std::string_view(reinterpret_cast<const char*>(data.Data()), data.Length()), &stop)) {
    throw NativeError(traps::RspCode(err->code), err->detail);
  }
  Napi::Object o = Napi::Object::New(env);
  const char* kind = "signal";
  if (stop.kind == traps::rsp::StopReply::Kind::kExited) kind = "exited";
  if (stop.kind == traps::rsp::StopReply::Kind::kTerminated) kind = "terminated";
  if (stop.kind == traps::rsp::StopReply::Kind::kOutput) kind = "output";
  o.Set("kind", kind);
  o.Set("signal", Napi::Number::New(env, stop.signal));
  o.Set("watchAddress", stop.has_watch ? Napi::BigInt::New(env, stop.watch_addr).As<Napi::Value>() : env.Null());
  o.Set("thread", stop.has_thread ? Napi::Number::New(env, static_cast<double>(stop.thread)).As<Napi::Value>() : env.Null());
  return o;
}

}  // namespace

void RegisterTraps(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "trapsProbe", Probe);
  Export(env, exports, "trapsOpen", Open);
  Export(env, exports, "trapsWatch", Watch);
  Export(env, exports, "trapsUnwatch", Unwatch);
  Export(env, exports, "trapsArm", Arm);
  Export(env, exports, "trapsRelease", Release);
  Export(env, exports, "trapsClose", CloseEngine);
  Export(env, exports, "trapsCounters", GetCounters);
  Export(env, exports, "trapsDescribe", Describe);
  Export(env, exports, "rspDecodeForTest", RspDecode);
  Export(env, exports, "rspEncodeForTest", RspEncode);
  Export(env, exports, "rspStopReplyForTest", RspStopReply);
}

}  // namespace vmi
