// The exception native code throws. It carries a stable VMI_ERR_NATIVE_* code that the TypeScript
// facade maps to the contracts' error catalogue. Free of N-API so worker threads can throw it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vmi {

// Codes must stay in step with packages/contracts/src/errors/native.ts.
namespace code {
inline constexpr const char* kBadArgument = "VMI_ERR_NATIVE_BAD_ARGUMENT";
inline constexpr const char* kBadHandle = "VMI_ERR_NATIVE_BAD_HANDLE";
inline constexpr const char* kClosed = "VMI_ERR_NATIVE_CLOSED";
inline constexpr const char* kOpenFailed = "VMI_ERR_NATIVE_OPEN_FAILED";
inline constexpr const char* kFileTruncated = "VMI_ERR_NATIVE_FILE_TRUNCATED";
inline constexpr const char* kReadOnly = "VMI_ERR_NATIVE_READ_ONLY";
inline constexpr const char* kOutOfRange = "VMI_ERR_NATIVE_OUT_OF_RANGE";
inline constexpr const char* kUnmapped = "VMI_ERR_NATIVE_UNMAPPED";
inline constexpr const char* kNonCanonical = "VMI_ERR_NATIVE_NON_CANONICAL";
inline constexpr const char* kBadPageTable = "VMI_ERR_NATIVE_BAD_PAGE_TABLE";
inline constexpr const char* kBadGenerationTable = "VMI_ERR_NATIVE_BAD_GENERATION_TABLE";
inline constexpr const char* kGuardUnavailable = "VMI_ERR_NATIVE_GUARD_UNAVAILABLE";
inline constexpr const char* kTornCopy = "VMI_ERR_NATIVE_TORN_COPY";
inline constexpr const char* kHashFailed = "VMI_ERR_NATIVE_HASH_FAILED";
inline constexpr const char* kRspProtocol = "VMI_ERR_NATIVE_RSP_PROTOCOL";
inline constexpr const char* kRspChecksum = "VMI_ERR_NATIVE_RSP_CHECKSUM";
inline constexpr const char* kOutOfMemory = "VMI_ERR_NATIVE_OUT_OF_MEMORY";
inline constexpr const char* kInternal = "VMI_ERR_NATIVE_INTERNAL";
}  // namespace code

class NativeError : public std::runtime_error {
 public:
  NativeError(const char* error_code, const std::string& message) : std::runtime_error(message), code_(error_code) {}

  // Adds a numeric fact (an address, a level...) that reaches JavaScript as `details[key]` (a bigint).
  NativeError& With(const char* key, uint64_t value) {
    details_.emplace_back(key, value);
    return *this;
  }

  const char* code() const noexcept { return code_; }
  const std::vector<std::pair<std::string, uint64_t>>& details() const noexcept { return details_; }

 private:
  const char* code_;
  std::vector<std::pair<std::string, uint64_t>> details_;
};

[[noreturn]] inline void Fail(const char* error_code, const std::string& message) { throw NativeError(error_code, message); }

// errno as text, for messages (strerror is not thread-safe).
std::string ErrnoText(int err);

}  // namespace vmi
