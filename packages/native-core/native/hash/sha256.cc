#include "hash/sha256.h"

#include <openssl/evp.h>

#include "common/fault_guard.h"
#include "common/native_error.h"

namespace vmi {

namespace {
EVP_MD_CTX* Ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }
}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) Fail(code::kHashFailed, "EVP_MD_CTX_new failed");
  if (EVP_DigestInit_ex(Ctx(ctx_), EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(Ctx(ctx_));
    Fail(code::kHashFailed, "EVP_DigestInit_ex failed");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(Ctx(ctx_)); }

void Sha256::Update(const uint8_t* data, size_t length) {
  if (EVP_DigestUpdate(Ctx(ctx_), data, length) != 1) Fail(code::kHashFailed, "EVP_DigestUpdate failed");
}

bool Sha256::UpdateGuarded(const uint8_t* data, size_t length) {
  struct Args {
    EVP_MD_CTX* ctx;
    const uint8_t* data;
    size_t length;
    int rc;
  } args{Ctx(ctx_), data, length, 0};
  bool ok = RunFaultGuarded([](void* p) {
    auto* a = static_cast<Args*>(p);
    a->rc = EVP_DigestUpdate(a->ctx, a->data, a->length);
  }, &args);
  if (ok && args.rc != 1) Fail(code::kHashFailed, "EVP_DigestUpdate failed");
  return ok;
}

Digest Sha256::Finish() {
  Digest digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(Ctx(ctx_), digest.data(), &length) != 1 || length != digest.size()) {
    Fail(code::kHashFailed, "EVP_DigestFinal_ex failed");
  }
  return digest;
}

}  // namespace vmi
