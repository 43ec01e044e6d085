// The userfaultfd write-protect backend: physical page traps inside QEMU's own guest-RAM mapping.
//
// The preload shim in QEMU (shim/vmi_uffd_shim.c) creates a userfaultfd registered in
// write-protect mode over the guest RAM mapping and hands it over with the layout. This backend
// write-protects exactly the host pages behind the protected guest-physical ranges, so a guest
// store through any virtual alias (kernel image, direct map, a fresh vmap) faults in QEMU's vCPU
// thread. The fault thread un-protects the page with wake (the store completes), protects it again
// after a short window, and diffs the page against its shadow copies: each event carries the exact
// changed bytes; several stores inside one window show as one net change, flagged merged.
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "common/uffd_constants.h"
#include "command_queue.h"
#include "event_sink.h"
#include "generation_writer.h"
#include "thread_priority.h"
#include "ram_view.h"
#include "../../shim/uffd_handover.h"
#include "trap_backend.h"
#include "uffd_warden.h"

namespace vmi::traps {

namespace {

constexpr uint64_t kPage = 4096;

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Receives the shim's hand-over: the message and, when it succeeded, the descriptor.
Status ReceiveHandover(const BackendConfig& config, vmi_uffd_handover* msg, int* uffd, int* conn_out) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (config.uffd_socket.size() >= sizeof addr.sun_path) return Status::Error(TrapStatus::kInvalidArgument, "socket path too long");
  std::memcpy(addr.sun_path, config.uffd_socket.c_str(), config.uffd_socket.size() + 1);
  const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(config.connect_timeout_ms) * 1000000ull;
  int conn = -1;
  for (;;) {
    conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (conn < 0) return Status::Error(TrapStatus::kIo, Errno("socket"));
    if (connect(conn, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
    const int err = errno;
    close(conn);
    conn = -1;
    if ((err != ENOENT && err != ECONNREFUSED) || MonotonicNs() >= deadline) {
      return Status::Error(TrapStatus::kUnavailable, "no userfaultfd shim at " + config.uffd_socket + ": " + std::strerror(err));
    }
    usleep(20000);
  }
  pollfd p{conn, POLLIN, 0};
  const int left_ms = static_cast<int>(std::max<int64_t>(1, static_cast<int64_t>(deadline - std::min(deadline, MonotonicNs())) / 1000000));
  if (poll(&p, 1, left_ms) <= 0) {
    close(conn);
    return Status::Error(TrapStatus::kTimeout, "the shim did not hand over a descriptor in time");
  }
  iovec iov{msg, sizeof *msg};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  int fd = -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    }
  }
  auto fail = [&](TrapStatus code, const std::string& why) {
    if (fd >= 0) close(fd);
    close(conn);
    return Status::Error(code, why);
  };
  if (n != static_cast<ssize_t>(sizeof *msg) || (mh.msg_flags & MSG_CTRUNC) != 0) {
    return fail(TrapStatus::kProtocol, "short or truncated hand-over message");
  }
  if (std::memcmp(msg->magic, VMI_UFFD_MAGIC, sizeof msg->magic) != 0 || msg->version != VMI_UFFD_VERSION) {
    return fail(TrapStatus::kProtocol, "hand-over message has a wrong magic or version");
  }
  msg->detail[sizeof msg->detail - 1] = '\0';
  if (msg->status != 0) return fail(TrapStatus::kUnavailable, std::string("the shim could not arm physical traps: ") + msg->detail);
  if (fd < 0) return fail(TrapStatus::kProtocol, "hand-over message without a descriptor");
  if (msg->nranges == 0 || msg->nranges > VMI_UFFD_MAX_RANGES || msg->length == 0 || msg->host_base % kPage != 0 ||
      msg->length % kPage != 0) {
    return fail(TrapStatus::kProtocol, "hand-over layout is malformed");
  }
  for (uint32_t i = 0; i < msg->nranges; ++i) {
    const vmi_uffd_range& r = msg->ranges[i];
    if (r.length == 0 || r.host_offset > msg->length || r.length > msg->length - r.host_offset || r.phys % kPage != 0 ||
        r.host_offset % kPage != 0) {
      return fail(TrapStatus::kProtocol, "hand-over range lies outside the mapping");
    }
  }
  if ((msg->features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM) == 0) {
    return fail(TrapStatus::kUnavailable, "the kernel did not grant write-protect of shared memory");
  }
  // The descriptor must not block the fault thread's reads.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  *uffd = fd;
  *conn_out = conn;
  return Status::Ok();
}

class UffdBackend final : public TrapBackend {
 public:
  UffdBackend(const BackendConfig& config, EventSink* sink) : config_(config), sink_(sink) {}
  ~UffdBackend() override { Close(); }

  Status Start() {
    Status s = ReceiveHandover(config_, &handover_, &uffd_, &conn_);
    if (!s.ok()) return s;
    // Guest-physical -> RAM file offset, from the layout the shim reported unless the caller knows better.
    std::vector<RamRange> layout = config_.ram_layout;
    if (layout.empty()) {
      for (uint32_t i = 0; i < handover_.nranges; ++i) {
        const auto& r = handover_.ranges[i];
        layout.push_back({r.phys, handover_.file_offset + r.host_offset, r.length});
      }
    }
    s = ram_.Open(config_.ram_path, layout, false);
    if (!s.ok()) return s;
    if (!config_.generation_path.empty()) {
      s = gens_.Open(config_.generation_path, config_.generation_slots);
      if (!s.ok()) return s;
    }
    s = commands_.Open();
    if (!s.ok()) return s;
    if (!SpawnUffdWarden(uffd_, handover_.host_base, handover_.length, config_.watchdog_ms, &warden_)) {
      return Status::Error(TrapStatus::kIo, "cannot start the userfaultfd warden");
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "qemu pid %u, RAM at 0x%llx (+0x%llx), %u range(s), features 0x%llx", handover_.qemu_pid,
                  static_cast<unsigned long long>(handover_.host_base), static_cast<unsigned long long>(handover_.length),
                  handover_.nranges, static_cast<unsigned long long>(handover_.features));
    describe_ = buf;
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  Status Watch(const WatchSpec& spec) override { return commands_.Submit(Command::Watch(spec)); }
  Status Unwatch(uint32_t id) override { return commands_.Submit(Command::Unwatch(id)); }
  Status Arm() override { return commands_.Submit(Command(Command::Kind::kArm)); }
  Status Release(uint64_t seq, bool) override {
    return Status::Error(TrapStatus::kNotFound, "the uffd backend holds no vCPU (event " + std::to_string(seq) + ")");
  }
  Status Close() override {
    std::lock_guard<std::mutex> lock(close_mu_);
    if (thread_.joinable()) {
      commands_.Submit(Command(Command::Kind::kClose));
      thread_.join();
    }
    if (uffd_ >= 0) {
      UnprotectRange(handover_.host_base, handover_.length);
      close(uffd_);
      uffd_ = -1;
    }
    StopUffdWarden(&warden_);
    if (conn_ >= 0) {
      close(conn_);
      conn_ = -1;
    }
    return Status::Ok();
  }

  Counters GetCounters() override {
    Counters c;
    c.stops = faults_.load();
    c.resumes = resumes_.load();
    c.queued = sink_->queued();
    c.delivered = sink_->delivered();
    c.backpressure_waits = sink_->backpressure_waits();
    c.protocol_errors = protocol_errors_.load();
    c.unmatched_stops = unmatched_.load();
    c.watchdog_releases = releases_.load();
    c.rearms = rearms_.load();
    c.watches = watch_count_.load();
    c.armed = armed_pages_.load();
    return c;
  }

  std::string Describe() override { return describe_; }

 private:
  using Command = BackendCommand;
  struct Range {
    WatchSpec spec;
    std::vector<uint8_t> shadow;
    int gen_slot = -1;
  };
  struct Page {
    uint32_t refs = 0;
    bool armed = false;
    uint64_t reprotect_at = 0;  // non-zero while the page is open after a fault
    uint64_t fault_ns = 0;
    uint64_t fault_phys = 0;
    uint64_t wake_ns = 0;
    uint32_t faults = 0;
  };

  // --- host pages ---------------------------------------------------------------------------
  bool HostOf(uint64_t phys, uint64_t* host) const {
    for (uint32_t i = 0; i < handover_.nranges; ++i) {
      const auto& r = handover_.ranges[i];
      if (phys >= r.phys && phys - r.phys < r.length) {
        *host = handover_.host_base + r.host_offset + (phys - r.phys);
        return true;
      }
    }
    return false;
  }
  bool PhysOf(uint64_t host, uint64_t* phys) const {
    if (host < handover_.host_base || host - handover_.host_base >= handover_.length) return false;
    const uint64_t off = host - handover_.host_base;
    for (uint32_t i = 0; i < handover_.nranges; ++i) {
      const auto& r = handover_.ranges[i];
      if (off >= r.host_offset && off - r.host_offset < r.length) {
        *phys = r.phys + (off - r.host_offset);
        return true;
      }
    }
    return false;
  }

  bool ProtectPage(uint64_t phys_page, bool on) {
    armed_changed_ = true;
    uint64_t host;
    if (!HostOf(phys_page, &host)) return false;
    uffdio_writeprotect wp{};
    wp.range.start = host;
    wp.range.len = kPage;
    wp.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
    int rc;
    do {
      rc = ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp);
    } while (rc != 0 && errno == EINTR);
    return rc == 0;
  }

  void UnprotectRange(uint64_t host, uint64_t len) {
    uffdio_writeprotect wp{};
    wp.range.start = host;
    wp.range.len = len;
    wp.mode = 0;
    while (ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp) != 0 && errno == EINTR) {
    }
  }

  // --- the fault thread ---------------------------------------------------------------------
  void Loop() {
    RaiseThreadPriority();
    for (;;) {
      CheckWatchdog();
      uint64_t next = 0;
      for (auto& [p, page] : pages_) {
        if (page.reprotect_at != 0 && (next == 0 || page.reprotect_at < next)) next = page.reprotect_at;
      }
      // ppoll waits to the nanosecond: a sub-millisecond window is slept, never spun (a spinning
      // handler would take the CPU the released vCPU thread needs to finish its store).
      int64_t wait_ns = -1;
      if (next != 0) {
        const uint64_t now = MonotonicNs();
        wait_ns = next <= now ? 0 : static_cast<int64_t>(next - now);
      }
      if (released_) wait_ns = wait_ns < 0 ? 20000000 : std::min<int64_t>(wait_ns, 20000000);  // retry re-arming
      timespec ts{};
      if (wait_ns >= 0) {
        ts.tv_sec = wait_ns / 1000000000;
        ts.tv_nsec = wait_ns % 1000000000;
      }
      pollfd fds[3] = {{uffd_, POLLIN, 0}, {commands_.wake_fd(), POLLIN, 0}, {warden_.notify_fd, POLLIN, 0}};
      int r = ppoll(fds, 3, wait_ns < 0 ? nullptr : &ts, nullptr);
      if (r > 0 && fds[2].revents != 0) {
        uint64_t v;
        ssize_t ignored = read(warden_.notify_fd, &v, sizeof v);
        (void)ignored;
      }
      if (r < 0 && errno != EINTR) break;
      if (r > 0 && (fds[0].revents & (POLLERR | POLLHUP)) != 0) break;
      if (r > 0 && (fds[0].revents & POLLIN) != 0) ReadFaults();
      CloseWindows(false);
      if (r > 0 && fds[1].revents != 0 && !RunCommands()) break;
      CountArmed();
    }
    commands_.FailAll("trap backend is closed");
  }

  // Pages change state one by one on faults and in bulk on commands and watchdog events; the
  // count is only taken when something changed.
  void CountArmed() {
    if (!armed_changed_) return;
    armed_changed_ = false;
    uint64_t n = 0;
    for (const auto& [p, page] : pages_) n += page.armed ? 1 : 0;
    armed_pages_ = n;
  }

  void ReadFaults() {
    uffd_msg msgs[16];
    for (;;) {
      ssize_t n = read(uffd_, msgs, sizeof msgs);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      warden_.live->reads.fetch_add(1);
      for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof(uffd_msg)); ++i) {
        if (msgs[i].event != UFFD_EVENT_PAGEFAULT) {
          ++protocol_errors_;
          continue;
        }
        HandleFault(msgs[i].arg.pagefault.address);
      }
    }
  }

  void HandleFault(uint64_t host_addr) {
    const uint64_t now = MonotonicNs();
    warden_.live->busy_since_ns.store(now);
    ++faults_;
    uint64_t phys = 0;
    if (!PhysOf(host_addr, &phys)) {
      // Not a guest-RAM byte we know: never leave the thread waiting.
      ++unmatched_;
      UnprotectRange(host_addr & ~(kPage - 1), kPage);
      warden_.live->busy_since_ns.store(0);
      return;
    }
    const uint64_t page_phys = phys & ~(kPage - 1);
    auto it = pages_.find(page_phys);
    if (it == pages_.end() || !it->second.armed) {
      ++unmatched_;
      ProtectPage(page_phys, false);
    } else {
      Page& page = it->second;
      // Readers of the generation table learn of the write before the store lands.
      if (gens_.is_open()) gens_.Bump(page_phys, kPage);
      page.armed = false;
      page.fault_ns = now;
      page.fault_phys = phys;
      page.faults = 1;
      ProtectPage(page_phys, false);  // un-protect with wake: the store completes now
      page.wake_ns = MonotonicNs();
      page.reprotect_at = MonotonicNs() + static_cast<uint64_t>(config_.reprotect_window_us) * 1000ull;
    }
    ++resumes_;
    warden_.live->busy_since_ns.store(0);
  }

  // Re-protects pages whose window has passed (all of them when `all`), then reports what changed.
  void CloseWindows(bool all) {
    const uint64_t now = MonotonicNs();
    for (auto& [page_phys, page] : pages_) {
      if (page.reprotect_at == 0 || (!all && page.reprotect_at > now)) continue;
      page.reprotect_at = 0;
      if (page.refs > 0 && !released_) {
        page.armed = ProtectPage(page_phys, true);
      }
      if (gens_.is_open()) gens_.Bump(page_phys, kPage);
      // A window that stayed open well past its length (this thread was not scheduled) may have
      // let several guest stores through: their net change is reported, flagged as merged.
      const uint64_t nominal = static_cast<uint64_t>(config_.reprotect_window_us) * 1000ull;
      const bool overran = now - page.wake_ns > std::max<uint64_t>(4 * nominal, 1000000ull);
      ReportChanges(page_phys, kPage, page.fault_ns, page.wake_ns, page.fault_phys, overran, "");
    }
  }

  // Diffs every watched range overlapping [phys, phys+len) against its shadow and queues one event
  // per changed range; the shadow takes the new contents.
  void ReportChanges(uint64_t phys, uint64_t len, uint64_t stop_ns, uint64_t resume_ns, uint64_t hit_phys, bool force_merged,
                     const char* detail) {
    for (auto& [id, range] : ranges_) {
      const uint64_t a = std::max(phys, range.spec.phys);
      const uint64_t b = std::min(phys + len, range.spec.phys + range.spec.length);
      if (a >= b) continue;
      const size_t off = static_cast<size_t>(a - range.spec.phys);
      const size_t n = static_cast<size_t>(b - a);
      std::vector<uint8_t> now(n);
      if (!ram_.Read(a, now.data(), n)) continue;
      size_t first = 0;
      while (first < n && now[first] == range.shadow[off + first]) ++first;
      if (first == n) continue;  // the store hit other bytes of the page, or rewrote the same value
      size_t last = n;
      while (last > first && now[last - 1] == range.shadow[off + last - 1]) --last;
      TrapEvent ev;
      ev.kind = EventKind::kWrite;
      ev.backend = 1;
      ev.watch_id = range.spec.id;
      ev.address = a + first;
      ev.phys = a + first;
      ev.hit_address = hit_phys;
      ev.old_bytes.assign(range.shadow.begin() + static_cast<long>(off + first), range.shadow.begin() + static_cast<long>(off + last));
      ev.new_bytes.assign(now.begin() + static_cast<long>(first), now.begin() + static_cast<long>(last));
      ev.stop_ns = stop_ns;
      ev.resume_ns = resume_ns;
      // A span wider than one 8-byte store means several writes were folded into this diff.
      ev.merged = force_merged || last - first > 8;
      ev.detail = detail;
      std::copy(now.begin() + static_cast<long>(first), now.begin() + static_cast<long>(last),
                range.shadow.begin() + static_cast<long>(off + first));
      // A full queue blocks here; the warden notices the stall if the guest then waits too long.
      sink_->Push(std::move(ev));
    }
  }

  // The warden released protection: report it once, then re-arm as soon as the consumer keeps up.
  void CheckWatchdog() {
    UffdLiveness* live = warden_.live;
    const uint64_t epoch = live->released_epoch.load();
    if (epoch != live->acked_epoch.load()) {
      released_ = true;
      armed_changed_ = true;
      ++releases_;
      for (auto& [p, page] : pages_) {
        page.armed = false;
        page.reprotect_at = 0;
      }
      TrapEvent ev;
      ev.kind = EventKind::kProtectionLost;
      ev.backend = 1;
      ev.stop_ns = live->released_at_ns.load();
      ev.detail = "watchdog released protection after the fault handler stalled for " +
                  std::to_string(live->stall_ns.load() / 1000000) + " ms";
      live->acked_epoch.store(epoch);
      sink_->Push(std::move(ev));
    }
    if (released_ && sink_->depth() <= std::max<size_t>(1, config_.queue_capacity / 2)) Rearm("re-armed after a watchdog release");
  }

  void Rearm(const char* why) {
    // Writes while unprotected were not trapped, but their net effect is still in memory.
    for (auto& [id, range] : ranges_) {
      const uint64_t now = MonotonicNs();
      ReportChanges(range.spec.phys, range.spec.length, now, now, range.spec.phys, true, "changed while unprotected");
    }
    for (auto& [page_phys, page] : pages_) page.armed = page.refs > 0 && ProtectPage(page_phys, true);
    if (released_) {
      released_ = false;
      ++rearms_;
      TrapEvent ev;
      ev.kind = EventKind::kProtectionRestored;
      ev.backend = 1;
      ev.stop_ns = MonotonicNs();
      ev.detail = why;
      sink_->Push(std::move(ev));
    }
  }

  bool RunCommands() {
    std::deque<Command> batch = commands_.Take();
    bool keep = true;
    for (auto& c : batch) {
      switch (c.kind) {
        case Command::Kind::kWatch: c.done.set_value(ApplyWatch(c.spec)); break;
        case Command::Kind::kUnwatch: c.done.set_value(ApplyUnwatch(c.id)); break;
        case Command::Kind::kArm:
          Rearm("re-armed on request");
          c.done.set_value(Status::Ok());
          break;
        case Command::Kind::kRelease:  // Release() answers without queueing: nothing is ever held
          c.done.set_value(Status::Error(TrapStatus::kNotFound, "the uffd backend holds no vCPU"));
          break;
        case Command::Kind::kClose:
          CloseWindows(true);
          keep = false;
          c.done.set_value(Status::Ok());
          break;
      }
    }
    return keep;
  }

  Status ApplyWatch(const WatchSpec& spec) {
    if (ranges_.count(spec.id) != 0) return Status::Error(TrapStatus::kInvalidArgument, "watch id already in use");
    if (spec.length == 0) return Status::Error(TrapStatus::kInvalidArgument, "empty watch range");
    uint64_t host;
    if (!HostOf(spec.phys, &host) || !HostOf(spec.phys + spec.length - 1, &host)) {
      return Status::Error(TrapStatus::kInvalidArgument, "watched range lies outside the registered guest RAM");
    }
    Range r;
    r.spec = spec;
    r.shadow.resize(spec.length);
    if (!ram_.Read(spec.phys, r.shadow.data(), spec.length)) {
      return Status::Error(TrapStatus::kInvalidArgument, "watched range lies outside the RAM file");
    }
    const uint64_t first = spec.phys & ~(kPage - 1);
    const uint64_t last = (spec.phys + spec.length - 1) & ~(kPage - 1);
    for (uint64_t p = first; p <= last; p += kPage) {
      Page& page = pages_[p];
      if (page.refs++ == 0 && !released_) {
        page.armed = ProtectPage(p, true);
        if (!page.armed) {
          const int err = errno;
          for (uint64_t q = first; q <= p; q += kPage) {
            if (--pages_[q].refs == 0) {
              ProtectPage(q, false);
              pages_.erase(q);
            }
          }
          return Status::Error(TrapStatus::kRejected, std::string("UFFDIO_WRITEPROTECT: ") + std::strerror(err));
        }
      }
    }
    if (gens_.is_open()) r.gen_slot = gens_.Claim(spec.phys, spec.length);
    ranges_.emplace(spec.id, std::move(r));
    watch_count_ = ranges_.size();
    return Status::Ok();
  }

  Status ApplyUnwatch(uint32_t id) {
    auto it = ranges_.find(id);
    if (it == ranges_.end()) return Status::Error(TrapStatus::kNotFound, "no watch with id " + std::to_string(id));
    const WatchSpec spec = it->second.spec;
    if (it->second.gen_slot >= 0) gens_.Free(it->second.gen_slot);
    ranges_.erase(it);
    const uint64_t first = spec.phys & ~(kPage - 1);
    const uint64_t last = (spec.phys + spec.length - 1) & ~(kPage - 1);
    for (uint64_t p = first; p <= last; p += kPage) {
      auto pit = pages_.find(p);
      if (pit == pages_.end()) continue;
      if (--pit->second.refs == 0) {
        ProtectPage(p, false);
        pages_.erase(pit);
      }
    }
    watch_count_ = ranges_.size();
    return Status::Ok();
  }

  BackendConfig config_;
  EventSink* sink_;
  vmi_uffd_handover handover_{};
  RamView ram_;
  GenerationWriter gens_;
  UffdWarden warden_;
  int uffd_ = -1;
  int conn_ = -1;
  std::thread thread_;
  std::mutex close_mu_;
  CommandQueue commands_;
  std::string describe_;

  // fault thread state
  std::map<uint32_t, Range> ranges_;
  std::map<uint64_t, Page> pages_;
  bool released_ = false;
  bool armed_changed_ = false;

  std::atomic<uint64_t> faults_{0};
  std::atomic<uint64_t> resumes_{0};
  std::atomic<uint64_t> protocol_errors_{0};
  std::atomic<uint64_t> unmatched_{0};
  std::atomic<uint64_t> releases_{0};
  std::atomic<uint64_t> rearms_{0};
  std::atomic<uint64_t> watch_count_{0};
  std::atomic<uint64_t> armed_pages_{0};
};

ProbeResult ProbeUffd(const BackendConfig& config) {
  ProbeResult r;
  if (config.uffd_socket.empty()) {
    r.detail = "no userfaultfd shim socket configured";
    return r;
  }
  r.available = access("/dev/userfaultfd", F_OK) == 0 || access("/proc/sys/vm/unprivileged_userfaultfd", F_OK) == 0;
  r.detail = r.available ? "userfaultfd shim at " + config.uffd_socket : "this kernel has no userfaultfd";
  return r;
}

Status SetupUffd(const BackendConfig& config, EventSink* sink, std::unique_ptr<TrapBackend>* out) {
  auto backend = std::make_unique<UffdBackend>(config, sink);
  Status s = backend->Start();
  if (!s.ok()) return s;
  *out = std::move(backend);
  return Status::Ok();
}

}  // namespace

extern const BackendOps kUffdBackendOps = {"uffd", ProbeUffd, SetupUffd};

}  // namespace vmi::traps
