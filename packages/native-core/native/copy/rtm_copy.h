// The RTM (Intel TSX) guard. This is the only translation unit compiled with -mrtm; its functions
// may only run when the probe found RTM usable (CPUID and the kernel's `rtm` flag), else they fault.
#pragma once

#include <cstddef>
#include <cstdint>

#include "copy/copy_piece.h"

namespace vmi::rtm {

struct RtmStats {
  bool completed = false;
  bool faulted = false;  // the source mapping raised SIGBUS while pre-touching pages
  uint32_t attempts = 0;
  uint32_t aborts = 0;
  uint32_t last_abort_status = 0;
};

// Copies the pieces so that the result is one instant of guest memory: each chunk is copied inside a
// hardware transaction (a concurrent write to it aborts the transaction), then every chunk is
// compared again inside a transaction, so a write between two chunks is caught too. Chunks shrink when
// a transaction runs out of capacity. Up to `max_attempts` whole passes.
RtmStats CopyWithRtm(const CopyPiece* pieces, size_t count, uint32_t max_attempts);

}  // namespace vmi::rtm
