// SHA-256 through the OpenSSL that Node links in (its symbols are exported by the node binary).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace vmi {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const uint8_t* data, size_t length);
  // Like Update, but a SIGBUS while reading `data` (a truncated mapped file) returns false.
  bool UpdateGuarded(const uint8_t* data, size_t length);
  Digest Finish();

 private:
  void* ctx_;  // EVP_MD_CTX*
};

}  // namespace vmi
