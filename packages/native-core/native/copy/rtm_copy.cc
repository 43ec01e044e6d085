#include "copy/rtm_copy.h"

#include <immintrin.h>

#include "common/fault_guard.h"

namespace vmi::rtm {

namespace {

constexpr size_t kInitialChunk = 4096;
constexpr size_t kMinChunk = 256;
constexpr uint32_t kChunkRetries = 16;
constexpr size_t kPage = 4096;

// Page faults abort transactions without being served, so the pages are faulted in first (under the
// SIGBUS guard: a truncated file must not kill the process here either).
bool PreTouch(const CopyPiece& piece) {
  struct Args {
    const CopyPiece* piece;
  } args{&piece};
  return RunFaultGuarded([](void* p) {
    const CopyPiece& c = *static_cast<Args*>(p)->piece;
    volatile uint8_t sink = 0;
    for (size_t off = 0; off < c.length; off += kPage) {
      sink = sink + c.src[off];
      c.dst[off] = 0;
    }
    if (c.length > 0) {
      sink = sink + c.src[c.length - 1];
      c.dst[c.length - 1] = 0;
    }
    (void)sink;
  }, &args);
}

// Plain loops rather than memcpy: a library memcpy may pick non-temporal stores or other
// instructions that always abort a transaction.
inline void CopyBytes(uint8_t* dst, const uint8_t* src, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    __builtin_memcpy(&v, src + i, 8);
    __builtin_memcpy(dst + i, &v, 8);
  }
  for (; i < n; ++i) dst[i] = src[i];
}

inline bool SameBytes(const uint8_t* a, const uint8_t* b, size_t n) {
  uint64_t diff = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    __builtin_memcpy(&x, a + i, 8);
    __builtin_memcpy(&y, b + i, 8);
    diff |= x ^ y;
  }
  for (; i < n; ++i) diff |= static_cast<uint64_t>(a[i] ^ b[i]);
  return diff == 0;
}

enum class ChunkResult { kDone, kMismatch, kGaveUp };

// Runs copy (or compare) of one chunk in a transaction, retrying aborts and shrinking on capacity.
ChunkResult Transact(const uint8_t* src, uint8_t* dst, size_t n, bool verify, size_t& chunk, RtmStats& stats) {
  for (uint32_t tries = 0; tries < kChunkRetries; ++tries) {
    unsigned status = _xbegin();
    if (status == _XBEGIN_STARTED) {
      bool same = true;
      if (verify) {
        same = SameBytes(src, dst, n);
      } else {
        CopyBytes(dst, src, n);
      }
      _xend();
      return same ? ChunkResult::kDone : ChunkResult::kMismatch;
    }
    ++stats.aborts;
    stats.last_abort_status = status;
    if ((status & _XABORT_CAPACITY) && chunk > kMinChunk) {
      chunk /= 2;
      return ChunkResult::kGaveUp;  // caller re-splits with the smaller chunk
    }
  }
  return ChunkResult::kGaveUp;
}

// One pass (copy or verify) over all pieces; false if a chunk could not complete or differed.
bool Pass(const CopyPiece* pieces, size_t count, bool verify, size_t& chunk, RtmStats& stats) {
  for (size_t p = 0; p < count; ++p) {
    const CopyPiece& piece = pieces[p];
    size_t off = 0;
    uint32_t shrinks = 0;
    while (off < piece.length) {
      size_t n = piece.length - off < chunk ? piece.length - off : chunk;
      size_t before = chunk;
      ChunkResult r = Transact(piece.src + off, piece.dst + off, n, verify, chunk, stats);
      if (r == ChunkResult::kDone) {
        off += n;
        continue;
      }
      if (r == ChunkResult::kMismatch) {
        ++stats.aborts;  // a write landed between copying and verifying this chunk
        return false;
      }
      if (chunk < before && ++shrinks < 8) continue;  // retry this offset with the smaller chunk
      return false;
    }
  }
  return true;
}

}  // namespace

RtmStats CopyWithRtm(const CopyPiece* pieces, size_t count, uint32_t max_attempts) {
  RtmStats stats;
  size_t chunk = kInitialChunk;
  for (size_t p = 0; p < count; ++p) {
    if (!PreTouch(pieces[p])) {
      stats.faulted = true;
      return stats;
    }
  }
  while (stats.attempts < max_attempts) {
    ++stats.attempts;
    if (Pass(pieces, count, false, chunk, stats) && Pass(pieces, count, true, chunk, stats)) {
      stats.completed = true;
      return stats;
    }
    _mm_pause();
  }
  return stats;
}

}  // namespace vmi::rtm
