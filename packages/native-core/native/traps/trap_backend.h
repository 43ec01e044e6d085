// The trap engine's backend interface. Every way of trapping guest writes (QEMU's gdbstub, a
// userfaultfd inside QEMU, later Xen vm_event or KVM introspection) is one entry in the driver
// table below: probe + setup produce a TrapBackend whose operations (watch, unwatch, arm,
// release, close) the engine drives without knowing which mechanism is behind them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "trap_event.h"

namespace vmi::traps {

class EventSink;
class GenerationWriter;

// Stable failure classes; the JS layer maps each to a VMI_ERR_NATIVE_TRAP_* code.
enum class TrapStatus : uint8_t {
  kOk,
  kUnavailable,     // backend cannot run here (probe failed, connection refused, no descriptor)
  kProtocol,        // the peer broke the protocol (malformed or unexpected reply)
  kRejected,        // the peer refused the request (Enn, EINVAL from an ioctl)
  kInvalidArgument, // a resolved argument is out of range for this backend
  kNotFound,        // unknown watch id or event sequence number
  kClosed,          // the backend is closed or its link is gone
  kTimeout,         // the peer did not answer in time
  kIo,              // an OS call failed
};

struct Status {
  TrapStatus code = TrapStatus::kOk;
  std::string detail;
  bool ok() const { return code == TrapStatus::kOk; }
  static Status Ok() { return {}; }
  static Status Error(TrapStatus c, std::string d) { return {c, std::move(d)}; }
};

const char* TrapStatusName(TrapStatus code);

// Guest-physical range backed by a RAM file at file_offset.
struct RamRange {
  uint64_t phys = 0;
  uint64_t file_offset = 0;
  uint64_t length = 0;
};

enum class HoldMode : uint8_t { kMonitor, kEnforce };

// Resolved configuration: the TypeScript facade validates and fills every default.
struct BackendConfig {
  std::string backend;          // "gdbstub" | "uffd"
  HoldMode mode = HoldMode::kMonitor;
  // gdbstub
  std::string host;
  uint16_t port = 0;
  std::string unix_path;        // non-empty: connect to this UNIX socket instead of host:port
  uint32_t connect_timeout_ms = 0;
  uint32_t reply_timeout_ms = 0;
  // guest RAM (shadow copies, new bytes, restores)
  std::string ram_path;
  std::vector<RamRange> ram_layout;  // empty: taken from the userfaultfd layout (uffd backend)
  // uffd
  std::string uffd_socket;      // UNIX socket of the QEMU preload shim
  uint32_t reprotect_window_us = 0;
  uint32_t watchdog_ms = 0;
  // events
  uint32_t queue_capacity = 0;
  uint32_t batch_max = 0;
  // write generations for readers in other processes; empty: none
  std::string generation_path;
  uint32_t generation_slots = 0;
};

// One contiguous watched range. For the gdbstub the address is virtual; for physical backends
// only phys matters.
struct WatchSpec {
  uint32_t id = 0;
  uint64_t virt = 0;
  uint64_t phys = 0;
  uint32_t length = 0;
};

struct ProbeResult {
  bool available = false;
  std::string detail;
};

struct Counters {
  uint64_t stops = 0;              // stops (gdbstub) or faults (uffd) seen
  uint64_t resumes = 0;            // times the guest was let go
  uint64_t queued = 0;             // events put into the queue
  uint64_t delivered = 0;          // events handed to JavaScript
  uint64_t backpressure_waits = 0; // times the guest was held because the queue was full
  uint64_t held = 0;               // events now held for release (enforce mode)
  uint64_t protocol_errors = 0;    // malformed packets or unexpected replies, skipped
  uint64_t unmatched_stops = 0;    // stops that matched no watch (resumed, no event)
  uint64_t watchdog_releases = 0;  // protection dropped because handling stalled
  uint64_t rearms = 0;             // protection restored after a release
  uint64_t watches = 0;            // ranges currently watched
  uint64_t armed = 0;              // mechanisms armed: QEMU watchpoints (gdbstub) or protected pages (uffd)
};

class TrapBackend {
 public:
  virtual ~TrapBackend() = default;
  // Operations may block the calling thread (never the JS thread: the binding runs them on a
  // worker) until the backend's own thread has applied them.
  virtual Status Watch(const WatchSpec& spec) = 0;
  virtual Status Unwatch(uint32_t id) = 0;
  virtual Status Arm() = 0;  // re-apply every watch (after a peer dropped them)
  virtual Status Release(uint64_t seq, bool restore) = 0;
  virtual Status Close() = 0;  // detach; the guest keeps running
  virtual Counters GetCounters() = 0;
  virtual std::string Describe() = 0;  // e.g. features negotiated, layout received
};

struct BackendOps {
  const char* name;
  ProbeResult (*probe)(const BackendConfig& config);
  Status (*setup)(const BackendConfig& config, EventSink* sink, std::unique_ptr<TrapBackend>* out);
};

extern const BackendOps kGdbBackendOps;
extern const BackendOps kUffdBackendOps;

// The driver table: every backend compiled in.
const BackendOps* FindBackend(const std::string& name);
const std::vector<const BackendOps*>& AllBackends();

}  // namespace vmi::traps
