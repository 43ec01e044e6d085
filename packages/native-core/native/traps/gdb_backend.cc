// The gdbstub backend: write watchpoints through QEMU's GDB remote serial protocol server.
//
// One native I/O thread owns the connection. JavaScript never talks to the socket: operations are
// queued as commands and applied by that thread, which interrupts a running guest first (QEMU
// only accepts packets while the guest is stopped: the first byte sent to a running guest stops
// it and is discarded). On a watch stop the thread records the event, refreshes shadow copies,
// bumps write generations, queues the event (waiting while the queue is full) and only then lets
// the vCPU go - or keeps it stopped until Release() in enforce mode.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
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

#include "command_queue.h"
#include "event_sink.h"
#include "gdb_warden.h"
#include "generation_writer.h"
#include "thread_priority.h"
#include "ram_view.h"
#include "rsp_codec.h"
#include "trap_backend.h"

namespace vmi::traps {

namespace {

constexpr uint64_t kChunk = 4096;  // longest watchpoint QEMU accepts under TCG; chunks never cross a page
constexpr int kRegRip = 0x10;
constexpr int kRegCr3 = 0x1d;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

class GdbBackend final : public TrapBackend {
 public:
  GdbBackend(const BackendConfig& config, EventSink* sink) : config_(config), sink_(sink) {}
  ~GdbBackend() override { Close(); }

  Status Watch(const WatchSpec& spec) override { return commands_.Submit(Command::Watch(spec)); }
  Status Unwatch(uint32_t id) override { return commands_.Submit(Command::Unwatch(id)); }
  Status Arm() override { return commands_.Submit(Command(Command::Kind::kArm)); }
  Status Release(uint64_t seq, bool restore) override { return commands_.Submit(Command::Release(seq, restore)); }
  Status Close() override {
    std::lock_guard<std::mutex> close_lock(close_mu_);
    if (thread_.joinable()) {
      Status s = commands_.Submit(Command(Command::Kind::kClose));
      thread_.join();
      (void)s;
    }
    if (sock_ >= 0) {
      close(sock_);
      sock_ = -1;
    }
    // Without a clean detach (the consumer vanished mid-stop, the link failed) the warden still
    // holds the connection: letting it go without the quit byte makes it detach for us.
    if (detached_) {
      DismissWarden(&warden_);
    } else {
      AbandonToWarden(&warden_);
    }
    return Status::Ok();
  }

  Counters GetCounters() override {
    Counters c;
    c.stops = stops_.load();
    c.resumes = resumes_.load();
    c.queued = sink_->queued();
    c.delivered = sink_->delivered();
    c.backpressure_waits = sink_->backpressure_waits();
    c.held = held_count_.load();
    c.protocol_errors = protocol_errors_.load();
    c.unmatched_stops = unmatched_stops_.load();
    c.watches = watch_count_.load();
    c.armed = watchpoints_.load();
    return c;
  }

  std::string Describe() override { return describe_; }

 private:
  using Command = BackendCommand;

  struct WatchState {
    WatchSpec spec;
    std::vector<uint8_t> shadow;
    std::vector<std::pair<uint64_t, uint64_t>> chunks;  // virtual start, length
    int gen_slot = -1;
  };

  struct Held {
    uint64_t seq = 0;
    uint64_t virt = 0;
    uint64_t phys = 0;
    std::vector<uint8_t> old_bytes;
  };

  // --- link -------------------------------------------------------------------------------
  Status SendRaw(const std::string& raw) {
    const char* p = raw.data();
    size_t left = raw.size();
    while (left > 0) {
      ssize_t n = send(sock_, p, left, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::Error(TrapStatus::kClosed, "gdbstub connection lost while sending");
      p += n;
      left -= static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status SendPacket(const std::string& body, const char* prefix = "") {
    last_packet_ = rsp::EncodePacket(body);
    return SendRaw(prefix + last_packet_);
  }

  // Reads what is available (waiting up to timeout_ms for the first byte), acknowledges packets
  // and moves them to the inbox. A nack makes us resend our last packet.
  Status Pump(int timeout_ms) {
    pollfd p{sock_, POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r < 0) return Status::Error(TrapStatus::kIo, "poll failed: " + std::string(strerror(errno)));
    if (r == 0) return Status::Error(TrapStatus::kTimeout, "gdbstub did not answer in time");
    uint8_t buf[65536];
    ssize_t n;
    do {
      n = recv(sock_, buf, sizeof buf, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return Status::Error(TrapStatus::kClosed, "gdbstub connection closed");
    frames_.clear();
    errors_.clear();
    decoder_.Feed(buf, static_cast<size_t>(n), &frames_, &errors_);
    std::string acks;
    if (pending_ack_) {
      acks.push_back('+');
      pending_ack_ = false;
    }
    for (auto& e : errors_) {
      (void)e;
      ++protocol_errors_;
      acks.push_back('-');  // ask for a retransmission of a damaged packet
    }
    for (auto& f : frames_) {
      switch (f.kind) {
        case rsp::Frame::Kind::kAck:
          break;
        case rsp::Frame::Kind::kNack:
          if (!last_packet_.empty()) acks += last_packet_;
          break;
        case rsp::Frame::Kind::kNotification:
          break;  // no notifications are negotiated; ignore
        case rsp::Frame::Kind::kPacket:
          acks.push_back('+');
          inbox_.push_back(std::move(f.payload));
          break;
      }
    }
    // The ack of the newest packet is held back when the caller will send a packet right away,
    // so both leave in one write (the stop path's "+$c#63").
    if (!acks.empty()) {
      if (defer_ack_ && acks.back() == '+') {
        acks.pop_back();
        pending_ack_ = true;
      }
      if (!acks.empty()) {
        Status s = SendRaw(acks);
        if (!s.ok()) return s;
      }
    }
    return Status::Ok();
  }

  // Waits for the next packet that is not a stop reply; stop replies that arrive meanwhile are
  // kept for the loop (the guest was running: the request was swallowed and must be resent).
  Status AwaitReply(std::string* reply, bool* saw_stop) {
    const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(config_.reply_timeout_ms) * 1000000ull;
    for (;;) {
      while (!inbox_.empty()) {
        std::string pkt = std::move(inbox_.front());
        inbox_.pop_front();
        if (rsp::LooksLikeStopReply(pkt) && pkt[0] != 'O') {
          pending_stops_.push_back(std::move(pkt));
          if (saw_stop != nullptr) *saw_stop = true;
          return Status::Error(TrapStatus::kProtocol, "stop reply instead of an answer");
        }
        if (!pkt.empty() && pkt[0] == 'O' && rsp::LooksLikeStopReply(pkt)) continue;  // console output
        *reply = std::move(pkt);
        return Status::Ok();
      }
      const uint64_t now = MonotonicNs();
      if (now >= deadline) return Status::Error(TrapStatus::kTimeout, "gdbstub did not answer in time");
      Status s = Pump(static_cast<int>((deadline - now) / 1000000ull) + 1);
      if (!s.ok()) return s;
    }
  }

  // A request/answer exchange on a stopped guest. If a stop reply shows the guest was running
  // (QMP `cont` behind our back), the stop is kept and the request is sent again.
  Status Request(const std::string& body, std::string* reply) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      Status s = SendPacket(body);
      if (!s.ok()) return s;
      bool saw_stop = false;
      s = AwaitReply(reply, &saw_stop);
      if (s.ok() || !saw_stop) return s;
      running_ = false;
    }
    return Status::Error(TrapStatus::kProtocol, "gdbstub kept answering with stop replies");
  }

  Status ExpectOk(const std::string& body) {
    std::string reply;
    Status s = Request(body, &reply);
    if (!s.ok()) return s;
    if (auto err = rsp::CheckOk(reply)) {
      return Status::Error(err->code == rsp::RspErrorCode::kErrorReply ? TrapStatus::kRejected : TrapStatus::kProtocol,
                           "'" + body.substr(0, 24) + "' answered '" + reply.substr(0, 16) + "'");
    }
    return Status::Ok();
  }

  Status Resume() {
    std::string prefix;
    if (pending_ack_) {
      prefix = "+";
      pending_ack_ = false;
    }
    Status s = SendPacket("c", prefix.c_str());
    if (!s.ok()) return s;
    running_ = true;
    ++resumes_;
    return Status::Ok();
  }

  Status FlushAck() {
    if (!pending_ack_) return Status::Ok();
    pending_ack_ = false;
    return SendRaw("+");
  }

  // Stops a running guest: one byte, then the stop reply it causes (or the stop already in
  // flight). Watch stops seen here are handled like any other, without resuming.
  Status Interrupt() {
    if (!running_) return Status::Ok();
    Status s = SendRaw("\x03");
    if (!s.ok()) return s;
    const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(config_.reply_timeout_ms) * 1000000ull;
    while (running_) {
      if (!pending_stops_.empty() || !inbox_.empty()) {
        s = ProcessInbox(/*resume=*/false);
        if (!s.ok()) return s;
        continue;
      }
      const uint64_t now = MonotonicNs();
      if (now >= deadline) return Status::Error(TrapStatus::kTimeout, "guest did not stop for the gdbstub");
      s = Pump(static_cast<int>((deadline - now) / 1000000ull) + 1);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  // --- negotiation ------------------------------------------------------------------------
  Status Connect() {
    if (!config_.unix_path.empty()) return ConnectUnix();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(config_.port);
    if (getaddrinfo(config_.host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
      return Status::Error(TrapStatus::kUnavailable, "cannot resolve gdbstub host " + config_.host);
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      freeaddrinfo(res);
      return Status::Error(TrapStatus::kIo, "socket failed");
    }
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0 && errno != EINPROGRESS) {
      close(fd);
      return Status::Error(TrapStatus::kUnavailable, "cannot connect to gdbstub: " + std::string(strerror(errno)));
    }
    if (rc != 0) {
      pollfd p{fd, POLLOUT, 0};
      int r = poll(&p, 1, static_cast<int>(config_.connect_timeout_ms));
      int err = 0;
      socklen_t len = sizeof err;
      if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        close(fd);
        return Status::Error(TrapStatus::kUnavailable,
                             r == 0 ? "gdbstub connection timed out" : "cannot connect to gdbstub: " + std::string(strerror(err)));
      }
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sock_ = fd;
    return Status::Ok();
  }

  // A device model in a sandbox without a network serves its gdbstub on a UNIX socket.
  Status ConnectUnix() {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (config_.unix_path.size() >= sizeof addr.sun_path) {
      return Status::Error(TrapStatus::kInvalidArgument, "gdbstub socket path too long");
    }
    memcpy(addr.sun_path, config_.unix_path.c_str(), config_.unix_path.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::Error(TrapStatus::kIo, "socket failed");
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const int err = errno;
      close(fd);
      return Status::Error(TrapStatus::kUnavailable, "cannot connect to gdbstub socket: " + std::string(strerror(err)));
    }
    sock_ = fd;
    return Status::Ok();
  }

  Status Negotiate() {
    std::string reply;
    // Connecting stops the guest and QEMU may send an unsolicited stop reply; anything that looks
    // like one before the qSupported answer is that and is dropped.
    Status s = SendPacket("qSupported:xmlRegisters=i386");
    if (!s.ok()) return s;
    for (;;) {
      s = AwaitReply(&reply, nullptr);
      if (s.ok()) break;
      if (!pending_stops_.empty()) {
        pending_stops_.clear();
        continue;
      }
      return s;
    }
    describe_ = "qSupported=" + reply;
    // `?` also deletes every watchpoint in QEMU 7.2, which is harmless before any are set.
    s = SendPacket("?");
    if (!s.ok()) return s;
    bool saw_stop = false;
    s = AwaitReply(&reply, &saw_stop);
    if (!saw_stop) return s.ok() ? Status::Error(TrapStatus::kProtocol, "'?' did not answer a stop reply") : s;
    pending_stops_.clear();
    running_ = false;
    // Single-register reads only work once the target description was read.
    std::string xml;
    for (int guard = 0; guard < 64; ++guard) {
      s = Request("qXfer:features:read:target.xml:" + Hex(xml.size()) + ",ffb", &reply);
      if (!s.ok()) return s;
      if (reply.empty() || (reply[0] != 'm' && reply[0] != 'l')) {
        return Status::Error(TrapStatus::kProtocol, "target.xml could not be read");
      }
      std::string chunk;
      if (auto err = rsp::Unescape(std::string_view(reply).substr(1), &chunk)) {
        return Status::Error(TrapStatus::kProtocol, err->detail);
      }
      xml += chunk;
      if (reply[0] == 'l') break;
    }
    uint64_t rip = 0;
    s = Request("p" + Hex(kRegRip), &reply);
    if (!s.ok()) return s;
    if (auto err = rsp::ParseRegisterLE(reply, &rip)) {
      return Status::Error(TrapStatus::kProtocol, std::string("rip is not readable: ") + err->detail);
    }
    describe_ += ";target.xml=" + std::to_string(xml.size()) + " bytes";
    return Status::Ok();
  }

 public:
  Status StartImpl() {
    if (!ram_.is_open()) {
      Status s = ram_.Open(config_.ram_path, config_.ram_layout, false);
      if (!s.ok()) return s;
    }
    if (!config_.generation_path.empty()) {
      Status s = gens_.Open(config_.generation_path, config_.generation_slots);
      if (!s.ok()) return s;
    }
    Status s = commands_.Open();
    if (!s.ok()) return s;
    s = Connect();
    if (!s.ok()) return s;
    s = Negotiate();
    if (!s.ok()) {
      // Never leave the guest stopped by our connection.
      SendRaw("$D;1#b0");
      close(sock_);
      sock_ = -1;
      return s;
    }
    if (!SpawnGdbWarden(sock_, &warden_)) {
      SendRaw("$D;1#b0");
      close(sock_);
      sock_ = -1;
      return Status::Error(TrapStatus::kIo, "cannot start the gdbstub warden");
    }
    s = Resume();
    if (!s.ok()) return s;
    thread_ = std::thread([this] { IoLoop(); });
    return Status::Ok();
  }

 private:
  // --- the I/O thread ----------------------------------------------------------------------
  void IoLoop() {
    RaiseThreadPriority();
    bool link_up = true;
    while (link_up) {
      pollfd fds[2] = {{sock_, POLLIN, 0}, {commands_.wake_fd(), POLLIN, 0}};
      int r = poll(fds, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) break;
      if (fds[0].revents != 0) {
        defer_ack_ = true;
        Status s = Pump(0);
        if (s.ok()) s = ProcessInbox(/*resume=*/true);
        defer_ack_ = false;
        if (s.ok()) s = FlushAck();
        if (!s.ok() && s.code != TrapStatus::kTimeout) {
          LinkLost(s.detail);
          link_up = false;
          break;
        }
      }
      if (fds[1].revents != 0 && !RunCommands()) link_up = false;
    }
    commands_.FailAll("trap backend is closed");
  }

  // Applies every queued command with the guest stopped, then resumes it unless an event is held
  // or the backend closed. Returns false when the loop should end.
  bool RunCommands() {
    std::deque<Command> batch = commands_.Take();
    if (batch.empty()) return true;
    Status stop = Interrupt();
    bool keep_going = true;
    // Watches and unwatches in a row are staged and QEMU's watchpoints synced once for all their
    // pages: protecting a table entry by entry would otherwise re-install the page's shared
    // watchpoint (a z2 and a Z2 round trip) once per entry.
    StagedWatches staged;
    for (auto& c : batch) {
      if (!stop.ok()) {
        c.done.set_value(stop);
        if (c.kind == Command::Kind::kClose) keep_going = false;
        continue;
      }
      if (c.kind == Command::Kind::kWatch) {
        StageWatch(c, staged);
        continue;
      }
      if (c.kind == Command::Kind::kUnwatch) {
        StageUnwatch(c, staged);
        continue;
      }
      SyncStaged(staged);
      switch (c.kind) {
        case Command::Kind::kWatch:
        case Command::Kind::kUnwatch: break;
        case Command::Kind::kArm: c.done.set_value(ApplyArm()); break;
        case Command::Kind::kRelease: c.done.set_value(ApplyRelease(c.seq, c.restore)); break;
        case Command::Kind::kClose:
          c.done.set_value(Detach());
          keep_going = false;
          break;
      }
    }
    SyncStaged(staged);
    if (!stop.ok()) {
      LinkLost(stop.detail);
      return false;
    }
    if (keep_going && !held_ && !running_) {
      Status s = Resume();
      if (!s.ok()) {
        LinkLost(s.detail);
        return false;
      }
    }
    return keep_going;
  }

  void LinkLost(const std::string& why) {
    if (link_lost_reported_) return;
    link_lost_reported_ = true;
    TrapEvent ev;
    ev.kind = EventKind::kProtectionLost;
    ev.backend = 0;
    ev.stop_ns = MonotonicNs();
    ev.detail = "gdbstub link lost: " + why;
    sink_->Push(std::move(ev));
  }

  Status Detach() {
    // D;1 removes every watchpoint and resumes the guest; a held vCPU goes too.
    std::string reply;
    Status s = Request("D;1", &reply);
    running_ = true;
    held_ = false;
    held_events_.clear();
    held_count_ = 0;
    detached_ = s.ok();
    return s;
  }

  // QEMU checks every watchpoint on every TLB fill, so the cost to the guest grows with their
  // number: watched ranges that touch or overlap inside one page share one watchpoint. A stop then
  // names the shared watchpoint and every watch inside it is diffed.
  std::vector<std::pair<uint64_t, uint64_t>> DesiredIntervals(uint64_t page) const {
    std::vector<std::pair<uint64_t, uint64_t>> v;
    for (const auto& [id, w] : watches_) {
      for (const auto& ch : w.chunks) {
        if ((ch.first & ~(kChunk - 1)) == page) v.emplace_back(ch.first, ch.first + ch.second);
      }
    }
    std::sort(v.begin(), v.end());
    std::vector<std::pair<uint64_t, uint64_t>> merged;
    for (const auto& iv : v) {
      if (!merged.empty() && iv.first <= merged.back().second) {
        merged.back().second = std::max(merged.back().second, iv.second);
      } else {
        merged.push_back(iv);
      }
    }
    return merged;  // [start, end) pairs
  }

  // Brings QEMU's watchpoints on these pages in line with the watches.
  Status SyncPages(const std::vector<uint64_t>& pages) {
    Status result = Status::Ok();
    for (uint64_t page : pages) {
      std::vector<std::pair<uint64_t, uint64_t>> want = DesiredIntervals(page);
      std::vector<std::pair<uint64_t, uint64_t>>& have = installed_[page];
      for (const auto& iv : have) {
        if (std::find(want.begin(), want.end(), iv) == want.end()) {
          Status s = ExpectOk("z2," + Hex(iv.first) + "," + Hex(iv.second - iv.first));
          if (!s.ok() && result.ok()) result = s;
        }
      }
      std::vector<std::pair<uint64_t, uint64_t>> now;
      for (const auto& iv : have) {
        if (std::find(want.begin(), want.end(), iv) != want.end()) now.push_back(iv);
      }
      for (const auto& iv : want) {
        if (std::find(have.begin(), have.end(), iv) != have.end()) continue;
        Status s = ExpectOk("Z2," + Hex(iv.first) + "," + Hex(iv.second - iv.first));
        if (s.ok()) {
          now.push_back(iv);
        } else if (result.ok()) {
          result = s;
        }
      }
      std::sort(now.begin(), now.end());
      if (now.empty()) {
        installed_.erase(page);
      } else {
        have = std::move(now);
      }
    }
    uint64_t count = 0;
    for (const auto& [page, ivs] : installed_) count += ivs.size();
    watchpoints_ = count;
    return result;
  }

  static std::vector<uint64_t> PagesOf(const WatchState& w) {
    std::vector<uint64_t> pages;
    for (const auto& ch : w.chunks) pages.push_back(ch.first & ~(kChunk - 1));
    return pages;
  }

  // Watches and unwatches applied to watches_ whose QEMU watchpoints are not synced yet.
  struct StagedWatches {
    std::vector<Command*> watches;
    std::vector<Command*> unwatches;
    std::vector<uint64_t> pages;
  };

  void StageWatch(Command& c, StagedWatches& staged) {
    const WatchSpec& spec = c.spec;
    if (watches_.count(spec.id) != 0) return c.done.set_value(Status::Error(TrapStatus::kInvalidArgument, "watch id already in use"));
    if (spec.length == 0) return c.done.set_value(Status::Error(TrapStatus::kInvalidArgument, "empty watch range"));
    WatchState w;
    w.spec = spec;
    w.shadow.resize(spec.length);
    if (!ram_.Read(spec.phys, w.shadow.data(), spec.length)) {
      return c.done.set_value(Status::Error(TrapStatus::kInvalidArgument, "watched range lies outside guest RAM"));
    }
    for (uint64_t a = spec.virt; a < spec.virt + spec.length;) {
      uint64_t end = std::min<uint64_t>(spec.virt + spec.length, (a & ~(kChunk - 1)) + kChunk);
      w.chunks.emplace_back(a, end - a);
      a = end;
    }
    for (uint64_t page : PagesOf(w)) staged.pages.push_back(page);
    watches_.emplace(spec.id, std::move(w));
    staged.watches.push_back(&c);
  }

  void StageUnwatch(Command& c, StagedWatches& staged) {
    auto it = watches_.find(c.id);
    if (it == watches_.end()) return c.done.set_value(Status::Error(TrapStatus::kNotFound, "no watch with id " + std::to_string(c.id)));
    for (uint64_t page : PagesOf(it->second)) staged.pages.push_back(page);
    if (it->second.gen_slot >= 0) gens_.Free(it->second.gen_slot);
    watches_.erase(it);
    staged.unwatches.push_back(&c);
  }

  // Syncs the staged pages once. If QEMU refuses, the staged watches are taken back (the pages
  // synced again without them) and every staged command gets the refusal.
  void SyncStaged(StagedWatches& staged) {
    if (staged.watches.empty() && staged.unwatches.empty()) return;
    std::sort(staged.pages.begin(), staged.pages.end());
    staged.pages.erase(std::unique(staged.pages.begin(), staged.pages.end()), staged.pages.end());
    Status s = SyncPages(staged.pages);
    if (s.ok()) {
      for (Command* c : staged.watches) {
        // A watch unwatched again within the same batch is gone already.
        auto it = watches_.find(c->spec.id);
        if (it != watches_.end() && gens_.is_open()) it->second.gen_slot = gens_.Claim(c->spec.phys, c->spec.length);
      }
    } else {
      for (Command* c : staged.watches) watches_.erase(c->spec.id);
      SyncPages(staged.pages);
    }
    watch_count_ = watches_.size();
    for (Command* c : staged.watches) c->done.set_value(s);
    for (Command* c : staged.unwatches) c->done.set_value(s);
    staged = StagedWatches{};
  }

  Status ApplyArm() {
    for (const auto& [page, ivs] : installed_) {
      for (const auto& iv : ivs) {
        std::string reply;
        // Remove first so a watchpoint QEMU still has is not doubled; a miss is expected.
        Status s = Request("z2," + Hex(iv.first) + "," + Hex(iv.second - iv.first), &reply);
        if (!s.ok()) return s;
        s = ExpectOk("Z2," + Hex(iv.first) + "," + Hex(iv.second - iv.first));
        if (!s.ok()) return s;
      }
    }
    for (auto& [id, w] : watches_) ram_.Read(w.spec.phys, w.shadow.data(), w.shadow.size());
    return Status::Ok();
  }

  Status ApplyRelease(uint64_t seq, bool restore) {
    // One stop can hold several events (watches sharing a watchpoint); any of them releases all.
    const bool known = std::any_of(held_events_.begin(), held_events_.end(), [seq](const Held& h) { return h.seq == seq; });
    if (!held_ || !known) {
      return Status::Error(TrapStatus::kNotFound, "no held event with sequence " + std::to_string(seq));
    }
    Status s = Status::Ok();
    for (const Held& h : held_events_) {
      if (!restore || h.old_bytes.empty()) continue;
      // Through the gdbstub so QEMU also drops translated code of a patched instruction.
      std::string body = "M" + Hex(h.virt) + "," + Hex(h.old_bytes.size()) + ":" + rsp::ToHex(h.old_bytes.data(), h.old_bytes.size());
      Status r = ExpectOk(body);
      if (r.ok()) {
        RefreshShadows(h.phys, h.old_bytes.size());
        if (gens_.is_open()) gens_.Bump(h.phys, h.old_bytes.size());
      } else if (s.ok()) {
        s = r;
      }
    }
    held_events_.clear();
    held_ = false;
    held_count_ = 0;
    return s;
  }

  // --- stops ------------------------------------------------------------------------------
  Status ProcessInbox(bool resume) {
    while (!inbox_.empty()) {
      std::string pkt = std::move(inbox_.front());
      inbox_.pop_front();
      if (rsp::LooksLikeStopReply(pkt)) {
        if (pkt[0] != 'O') pending_stops_.push_back(std::move(pkt));
      } else {
        ++protocol_errors_;  // an answer nobody asked for
      }
    }
    while (!pending_stops_.empty()) {
      std::string pkt = std::move(pending_stops_.front());
      pending_stops_.pop_front();
      Status s = HandleStop(pkt, resume);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  Status HandleStop(const std::string& pkt, bool resume) {
    const uint64_t stop_ns = MonotonicNs();
    rsp::StopReply stop;
    if (auto err = rsp::ParseStopReply(pkt, &stop)) {
      ++protocol_errors_;
      return Status::Ok();
    }
    if (stop.kind == rsp::StopReply::Kind::kExited || stop.kind == rsp::StopReply::Kind::kTerminated) {
      return Status::Error(TrapStatus::kClosed, "guest exited");
    }
    running_ = false;
    ++stops_;
    if (!stop.has_watch) {
      // A stop we did not cause (QMP `stop`, our own interrupt): leave the guest as it is.
      return Status::Ok();
    }
    // The stop names the (possibly shared) watchpoint's start; every watch inside it is a candidate.
    uint64_t lo = stop.watch_addr;
    uint64_t hi = stop.watch_addr + 1;
    auto page_it = installed_.find(stop.watch_addr & ~(kChunk - 1));
    if (page_it != installed_.end()) {
      for (const auto& iv : page_it->second) {
        if (stop.watch_addr >= iv.first && stop.watch_addr < iv.second) {
          lo = iv.first;
          hi = iv.second;
        }
      }
    }
    std::vector<WatchState*> hits;
    for (auto& [id, w] : watches_) {
      if (w.spec.virt < hi && lo < w.spec.virt + w.spec.length) hits.push_back(&w);
    }
    if (hits.empty()) {
      ++unmatched_stops_;
      return resume ? Resume() : Status::Ok();
    }
    // rip and cr3 of the stopped vCPU, both requests in one write.
    uint64_t rip = kUnknown;
    uint64_t cr3 = kUnknown;
    {
      std::string out = pending_ack_ ? "+" : "";
      pending_ack_ = false;
      Status s = SendRaw(out + rsp::EncodePacket("p" + Hex(kRegRip)) + rsp::EncodePacket("p" + Hex(kRegCr3)));
      if (!s.ok()) return s;
      std::string r1, r2;
      s = AwaitReply(&r1, nullptr);
      if (s.ok()) s = AwaitReply(&r2, nullptr);
      if (!s.ok()) return s;
      if (rsp::ParseRegisterLE(r1, &rip)) {
        rip = kUnknown;
        ++protocol_errors_;
      }
      if (rsp::ParseRegisterLE(r2, &cr3)) {
        cr3 = kUnknown;
        ++protocol_errors_;
      }
    }
    // Diff every candidate first (refreshing shadows changes what later diffs would see).
    struct Diff {
      WatchState* w;
      size_t first;
      size_t last;
      std::vector<uint8_t> now;
    };
    std::vector<Diff> diffs;
    for (WatchState* w : hits) {
      Diff d{w, 0, w->spec.length, std::vector<uint8_t>(w->spec.length)};
      ram_.Read(w->spec.phys, d.now.data(), w->spec.length);
      while (d.first < d.last && d.now[d.first] == w->shadow[d.first]) ++d.first;
      if (d.first == d.last) continue;
      while (d.last > d.first && d.now[d.last - 1] == w->shadow[d.last - 1]) --d.last;
      diffs.push_back(std::move(d));
    }
    if (diffs.empty()) {
      // The same value written again: one event for the first watch, its whole range unchanged.
      WatchState* w = hits.front();
      Diff d{w, 0, w->spec.length, std::vector<uint8_t>(w->shadow)};
      diffs.push_back(std::move(d));
    }
    std::vector<TrapEvent> events;
    for (Diff& d : diffs) {
      const WatchSpec& spec = d.w->spec;
      TrapEvent ev;
      ev.kind = EventKind::kWrite;
      ev.backend = 0;
      ev.seq = sink_->NextSeq();
      ev.watch_id = spec.id;
      ev.address = spec.virt + d.first;
      ev.phys = spec.phys + d.first;
      ev.hit_address = stop.watch_addr;
      ev.old_bytes.assign(d.w->shadow.begin() + static_cast<long>(d.first), d.w->shadow.begin() + static_cast<long>(d.last));
      ev.new_bytes.assign(d.now.begin() + static_cast<long>(d.first), d.now.begin() + static_cast<long>(d.last));
      ev.rip = rip;
      ev.cr3 = cr3;
      ev.vcpu = stop.has_thread && stop.thread > 0 ? static_cast<int32_t>(stop.thread - 1) : -1;
      ev.stop_ns = stop_ns;
      ev.held = config_.mode == HoldMode::kEnforce;
      events.push_back(std::move(ev));
    }
    for (const TrapEvent& ev : events) {
      RefreshShadows(ev.phys, ev.new_bytes.size());
      if (gens_.is_open()) gens_.Bump(ev.phys, ev.new_bytes.size());
      if (ev.held) held_events_.push_back({ev.seq, ev.address, ev.phys, ev.old_bytes});
    }
    if (!held_events_.empty()) {
      held_ = true;
      held_count_ = held_events_.size();
    }
    for (TrapEvent& ev : events) {
      // The vCPU goes right after the events are queued (monitor mode); stamped so it is in the event.
      if (!ev.held) ev.resume_ns = MonotonicNs();
      // Blocks while the queue is full: the guest waits rather than an event being lost.
      if (!sink_->Push(std::move(ev))) return Status::Error(TrapStatus::kClosed, "event consumer is gone");
    }
    if (resume && !held_) return Resume();
    return Status::Ok();
  }

  // Every watch that shares guest-physical bytes with the written range (the same object through
  // another alias) takes the new contents as its shadow.
  void RefreshShadows(uint64_t phys, uint64_t length) {
    for (auto& [id, w] : watches_) {
      const uint64_t a = w.spec.phys;
      const uint64_t b = w.spec.phys + w.spec.length;
      if (a < phys + length && phys < b) ram_.Read(a, w.shadow.data(), w.shadow.size());
    }
  }

  BackendConfig config_;
  EventSink* sink_;
  RamView ram_;
  GenerationWriter gens_;
  Warden warden_;
  int sock_ = -1;
  std::thread thread_;
  std::mutex close_mu_;
  CommandQueue commands_;

  // I/O thread state
  rsp::Decoder decoder_;
  std::vector<rsp::Frame> frames_;
  std::vector<rsp::RspError> errors_;
  std::deque<std::string> inbox_;
  std::deque<std::string> pending_stops_;
  std::string last_packet_;
  bool defer_ack_ = false;
  bool pending_ack_ = false;
  bool running_ = false;
  bool held_ = false;
  bool link_lost_reported_ = false;
  bool detached_ = false;
  std::vector<Held> held_events_;
  std::map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>> installed_;  // page -> [start, end)
  std::map<uint32_t, WatchState> watches_;
  std::string describe_;

  std::atomic<uint64_t> stops_{0};
  std::atomic<uint64_t> resumes_{0};
  std::atomic<uint64_t> held_count_{0};
  std::atomic<uint64_t> protocol_errors_{0};
  std::atomic<uint64_t> unmatched_stops_{0};
  std::atomic<uint64_t> watch_count_{0};
  std::atomic<uint64_t> watchpoints_{0};
};

ProbeResult ProbeGdb(const BackendConfig& config) {
  ProbeResult r;
  if (!config.unix_path.empty()) {
    r.available = true;
    r.detail = "gdbstub at unix:" + config.unix_path;
    return r;
  }
  r.available = !config.host.empty() && config.port != 0;
  r.detail = r.available ? "gdbstub at " + config.host + ":" + std::to_string(config.port) : "no gdbstub address";
  return r;
}

Status SetupGdb(const BackendConfig& config, EventSink* sink, std::unique_ptr<TrapBackend>* out) {
  auto backend = std::make_unique<GdbBackend>(config, sink);
  Status s = backend->StartImpl();
  if (!s.ok()) return s;
  *out = std::move(backend);
  return Status::Ok();
}

}  // namespace

extern const BackendOps kGdbBackendOps = {"gdbstub", ProbeGdb, SetupGdb};

}  // namespace vmi::traps
