#include "rsp_codec.h"

#include <cstdio>

namespace vmi::traps::rsp {

namespace {

int HexValue(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char kHexDigits[] = "0123456789abcdef";

bool ParseHexU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d = HexValue(static_cast<uint8_t>(c));
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

}  // namespace

const char* RspErrorName(RspErrorCode code) {
  switch (code) {
    case RspErrorCode::kBadChecksum: return "bad-checksum";
    case RspErrorCode::kBadChecksumHex: return "bad-checksum-hex";
    case RspErrorCode::kBadRunLength: return "bad-run-length";
    case RspErrorCode::kBadEscape: return "bad-escape";
    case RspErrorCode::kPacketTooLong: return "packet-too-long";
    case RspErrorCode::kBadHex: return "bad-hex";
    case RspErrorCode::kBadStopReply: return "bad-stop-reply";
    case RspErrorCode::kErrorReply: return "error-reply";
    case RspErrorCode::kEmptyReply: return "empty-reply";
  }
  return "unknown";
}

void Decoder::Reset() {
  state_ = State::kIdle;
  body_.clear();
  overflow_ = false;
  sum_ = 0;
}

// A checksum digit, or -1 after reporting a bad one and resynchronising (a '$' or '%' in its
// place already starts the next packet).
int Decoder::ChecksumDigit(uint8_t c, std::vector<RspError>* errors) {
  const int d = HexValue(c);
  if (d >= 0) return d;
  errors->push_back({RspErrorCode::kBadChecksumHex, "checksum digit is not hex"});
  Reset();
  if (c == '$' || c == '%') {
    notification_ = c == '%';
    state_ = State::kBody;
  }
  return -1;
}

void Decoder::Feed(const uint8_t* data, size_t len, std::vector<Frame>* frames, std::vector<RspError>* errors) {
  for (size_t i = 0; i < len; ++i) {
    const uint8_t c = data[i];
    switch (state_) {
      case State::kIdle:
        if (c == '+') {
          frames->push_back({Frame::Kind::kAck, {}});
        } else if (c == '-') {
          frames->push_back({Frame::Kind::kNack, {}});
        } else if (c == '$' || c == '%') {
          notification_ = c == '%';
          state_ = State::kBody;
          body_.clear();
          overflow_ = false;
          sum_ = 0;
        }
        // Anything else between packets is line noise and is skipped.
        break;
      case State::kBody:
        if (c == '#') {
          state_ = State::kCheck1;
        } else if (c == '$') {
          // A start byte inside a body means the end of the previous packet was lost ('%' may
          // appear in bodies; only '$' is always escaped).
          errors->push_back({RspErrorCode::kBadChecksum, "packet restarted before its end"});
          notification_ = false;
          body_.clear();
          overflow_ = false;
          sum_ = 0;
        } else {
          sum_ = static_cast<uint8_t>(sum_ + c);
          if (body_.size() < max_packet_) {
            body_.push_back(static_cast<char>(c));
          } else {
            overflow_ = true;
          }
        }
        break;
      case State::kCheck1: {
        const int d = ChecksumDigit(c, errors);
        if (d < 0) break;
        check_hi_ = static_cast<uint8_t>(d);
        state_ = State::kCheck2;
        break;
      }
      case State::kCheck2: {
        const int d = ChecksumDigit(c, errors);
        if (d < 0) break;
        check_lo_ = static_cast<uint8_t>(d);
        FinishPacket(frames, errors);
        Reset();
        break;
      }
    }
  }
}

void Decoder::FinishPacket(std::vector<Frame>* frames, std::vector<RspError>* errors) {
  const uint8_t expected = static_cast<uint8_t>((check_hi_ << 4) | check_lo_);
  if (overflow_) {
    errors->push_back({RspErrorCode::kPacketTooLong, "packet body exceeds " + std::to_string(max_packet_) + " bytes"});
    return;
  }
  if (expected != sum_) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "expected %02x, computed %02x", expected, sum_);
    errors->push_back({RspErrorCode::kBadChecksum, buf});
    return;
  }
  std::string expanded;
  if (auto err = ExpandRunLength(body_, max_packet_, &expanded)) {
    errors->push_back(*err);
    return;
  }
  frames->push_back({notification_ ? Frame::Kind::kNotification : Frame::Kind::kPacket, std::move(expanded)});
}

std::string EncodePacket(std::string_view body) {
  std::string out;
  out.reserve(body.size() + 4);
  out.push_back('$');
  uint8_t sum = 0;
  auto put = [&](char ch) {
    out.push_back(ch);
    sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(ch));
  };
  for (char ch : body) {
    if (ch == '$' || ch == '#' || ch == '}' || ch == '*') {
      put('}');
      put(static_cast<char>(ch ^ 0x20));
    } else {
      put(ch);
    }
  }
  out.push_back('#');
  out.push_back(kHexDigits[sum >> 4]);
  out.push_back(kHexDigits[sum & 0xf]);
  return out;
}

std::optional<RspError> ExpandRunLength(std::string_view in, size_t max_out, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char ch = in[i];
    if (ch != '*') {
      if (out->size() >= max_out) return RspError{RspErrorCode::kPacketTooLong, "expanded packet too long"};
      out->push_back(ch);
      continue;
    }
    // "x*n": repeat x (n - 29) more times. An escaped byte's second half may not be repeated
    // alone, and n may not be '#' or '$' (the protocol forbids counts 6 and 7).
    if (out->empty()) return RspError{RspErrorCode::kBadRunLength, "'*' with no byte to repeat"};
    if (i + 1 >= in.size()) return RspError{RspErrorCode::kBadRunLength, "'*' without a count"};
    const uint8_t n = static_cast<uint8_t>(in[++i]);
    if (n < 29 + 3 || n > 126 || n == '#' || n == '$') {
      return RspError{RspErrorCode::kBadRunLength, "illegal run-length count"};
    }
    const size_t repeat = static_cast<size_t>(n - 29);
    if (out->size() + repeat > max_out) return RspError{RspErrorCode::kPacketTooLong, "expanded packet too long"};
    out->append(repeat, out->back());
  }
  return std::nullopt;
}

std::optional<RspError> Unescape(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '}') {
      if (i + 1 >= in.size()) return RspError{RspErrorCode::kBadEscape, "escape at end of data"};
      out->push_back(static_cast<char>(in[++i] ^ 0x20));
    } else {
      out->push_back(in[i]);
    }
  }
  return std::nullopt;
}

std::string ToHex(const uint8_t* data, size_t len) {
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(kHexDigits[data[i] >> 4]);
    out.push_back(kHexDigits[data[i] & 0xf]);
  }
  return out;
}

std::optional<RspError> FromHex(std::string_view hex, std::vector<uint8_t>* out) {
  if (hex.size() % 2 != 0) return RspError{RspErrorCode::kBadHex, "odd number of hex digits"};
  out->clear();
  out->reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(static_cast<uint8_t>(hex[i]));
    int lo = HexValue(static_cast<uint8_t>(hex[i + 1]));
    if (hi < 0 || lo < 0) return RspError{RspErrorCode::kBadHex, "non-hex digit"};
    out->push_back(static_cast<uint8_t>((hi << 4) | lo));
  }
  return std::nullopt;
}

std::optional<RspError> CheckOk(std::string_view reply) {
  if (reply == "OK") return std::nullopt;
  if (reply.empty()) return RspError{RspErrorCode::kEmptyReply, "request not supported"};
  if (reply.size() == 3 && reply[0] == 'E') return RspError{RspErrorCode::kErrorReply, std::string(reply)};
  return RspError{RspErrorCode::kBadStopReply, "unexpected reply"};
}

std::optional<RspError> ParseRegisterLE(std::string_view reply, uint64_t* value) {
  if (reply.empty()) return RspError{RspErrorCode::kEmptyReply, "register read not supported"};
  if (reply.size() == 3 && reply[0] == 'E') return RspError{RspErrorCode::kErrorReply, std::string(reply)};
  if (reply.size() > 16) reply = reply.substr(0, 16);  // wider registers: low 8 bytes
  std::vector<uint8_t> bytes;
  if (auto err = FromHex(reply, &bytes)) return err;
  uint64_t v = 0;
  for (size_t i = 0; i < bytes.size(); ++i) v |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  *value = v;
  return std::nullopt;
}

bool LooksLikeStopReply(std::string_view p) {
  if (p.empty()) return false;
  const char k = p[0];
  if (k == 'T' || k == 'S' || k == 'W' || k == 'X') {
    return p.size() >= 3 && HexValue(static_cast<uint8_t>(p[1])) >= 0 && HexValue(static_cast<uint8_t>(p[2])) >= 0;
  }
  return k == 'O' && p.size() > 1 && p != "OK";
}

std::optional<RspError> ParseStopReply(std::string_view p, StopReply* out) {
  *out = StopReply{};
  if (p.empty()) return RspError{RspErrorCode::kBadStopReply, "empty stop reply"};
  const char k = p[0];
  if (k == 'O') {
    out->kind = StopReply::Kind::kOutput;
    return std::nullopt;
  }
  if (p.size() < 3) return RspError{RspErrorCode::kBadStopReply, "stop reply too short"};
  const int hi = HexValue(static_cast<uint8_t>(p[1]));
  const int lo = HexValue(static_cast<uint8_t>(p[2]));
  if (hi < 0 || lo < 0) return RspError{RspErrorCode::kBadStopReply, "signal is not hex"};
  out->signal = static_cast<uint8_t>((hi << 4) | lo);
  switch (k) {
    case 'S': out->kind = StopReply::Kind::kSignal; return std::nullopt;
    case 'W': out->kind = StopReply::Kind::kExited; return std::nullopt;
    case 'X': out->kind = StopReply::Kind::kTerminated; return std::nullopt;
    case 'T': out->kind = StopReply::Kind::kSignal; break;
    default: return RspError{RspErrorCode::kBadStopReply, "unknown stop reply kind"};
  }
  // T stop reply: "n:r;" pairs. Unknown keys are allowed (the protocol is extensible).
  std::string_view rest = p.substr(3);
  while (!rest.empty()) {
    const size_t semi = rest.find(';');
    if (semi == std::string_view::npos) return RspError{RspErrorCode::kBadStopReply, "pair without ';'"};
    std::string_view pair = rest.substr(0, semi);
    rest = rest.substr(semi + 1);
    const size_t colon = pair.find(':');
    if (colon == std::string_view::npos || colon == 0) return RspError{RspErrorCode::kBadStopReply, "pair without key"};
    std::string_view key = pair.substr(0, colon);
    std::string_view val = pair.substr(colon + 1);
    if (key == "watch" || key == "rwatch" || key == "awatch") {
      uint64_t addr = 0;
      if (!ParseHexU64(val, &addr)) return RspError{RspErrorCode::kBadStopReply, "watch address is not hex"};
      out->has_watch = true;
      out->watch_type = key[0] == 'w' ? 'w' : key[0];
      out->watch_addr = addr;
    } else if (key == "thread") {
      // "tid", "-1", or multiprocess "ppid.tid".
      std::string_view tid = val;
      if (!tid.empty() && tid[0] == 'p') {
        const size_t dot = tid.find('.');
        if (dot == std::string_view::npos) return RspError{RspErrorCode::kBadStopReply, "bad multiprocess thread id"};
        tid = tid.substr(dot + 1);
      }
      if (tid == "-1") {
        out->thread = -1;
      } else {
        uint64_t t = 0;
        if (!ParseHexU64(tid, &t) || t > INT32_MAX) return RspError{RspErrorCode::kBadStopReply, "thread id is not hex"};
        out->thread = static_cast<int64_t>(t);
      }
      out->has_thread = true;
    }
  }
  return std::nullopt;
}

}  // namespace vmi::traps::rsp
