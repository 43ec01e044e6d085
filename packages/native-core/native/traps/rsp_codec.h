// GDB remote serial protocol framing and parsing, free of Node and sockets so it can be tested
// and fuzzed on its own. Every byte here comes from another process: nothing is trusted, every
// malformed input becomes an RspError, never undefined behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmi::traps::rsp {

enum class RspErrorCode : uint8_t {
  kBadChecksum,    // a packet whose checksum does not match its body
  kBadChecksumHex, // the two checksum characters are not hex digits
  kBadRunLength,   // '*' without a preceding byte or with an illegal count
  kBadEscape,      // '}' at the end of binary data
  kPacketTooLong,  // body or expansion beyond the decoder's bound
  kBadHex,         // hex data with odd length or non-hex digits
  kBadStopReply,   // a stop reply that cannot be parsed
  kErrorReply,     // the stub answered "Enn"
  kEmptyReply,     // the stub does not support the request
};

const char* RspErrorName(RspErrorCode code);

struct RspError {
  RspErrorCode code;
  std::string detail;
};

struct Frame {
  enum class Kind : uint8_t { kAck, kNack, kPacket, kNotification };
  Kind kind;
  std::string payload; // run-length expanded; binary escapes are left for the caller (Unescape)
};

// Incremental decoder: bytes go in as they arrive from the socket, complete frames come out.
// A malformed packet is reported and skipped; the decoder resynchronises on the next '$'.
class Decoder {
 public:
  explicit Decoder(size_t max_packet = 1u << 20) : max_packet_(max_packet) {}
  void Feed(const uint8_t* data, size_t len, std::vector<Frame>* frames, std::vector<RspError>* errors);
  void Reset();

 private:
  enum class State : uint8_t { kIdle, kBody, kCheck1, kCheck2 };
  void FinishPacket(std::vector<Frame>* frames, std::vector<RspError>* errors);
  int ChecksumDigit(uint8_t c, std::vector<RspError>* errors);
  size_t max_packet_;
  State state_ = State::kIdle;
  bool notification_ = false;
  bool overflow_ = false;
  std::string body_;
  uint8_t sum_ = 0;
  uint8_t check_hi_ = 0;
  uint8_t check_lo_ = 0;
};

// "$body#xx" with '$', '#', '}' and '*' escaped in the body.
std::string EncodePacket(std::string_view body);
// Expands "x*n" run-length sequences. Returns an error for a malformed sequence.
std::optional<RspError> ExpandRunLength(std::string_view in, size_t max_out, std::string* out);
// Undoes '}' escapes of binary data (qXfer replies, X packets).
std::optional<RspError> Unescape(std::string_view in, std::string* out);

std::string ToHex(const uint8_t* data, size_t len);
std::optional<RspError> FromHex(std::string_view hex, std::vector<uint8_t>* out);
// A register as the stub sends it: target byte order (little-endian on x86), up to 8 bytes.
std::optional<RspError> ParseRegisterLE(std::string_view reply, uint64_t* value);
// "OK" -> nullopt, "Enn" -> kErrorReply, "" -> kEmptyReply, anything else -> kBadStopReply.
std::optional<RspError> CheckOk(std::string_view reply);

struct StopReply {
  enum class Kind : uint8_t { kSignal, kExited, kTerminated, kOutput };
  Kind kind = Kind::kSignal;
  uint8_t signal = 0;
  bool has_watch = false;
  char watch_type = 'w'; // 'w' write, 'r' read, 'a' access
  uint64_t watch_addr = 0;
  bool has_thread = false;
  int64_t thread = -1; // -1 means "all" or unknown
};
// True when the packet is a stop reply (T, S, W, X); O (console output) is also recognised.
bool LooksLikeStopReply(std::string_view payload);
std::optional<RspError> ParseStopReply(std::string_view payload, StopReply* out);

} // namespace vmi::traps::rsp
