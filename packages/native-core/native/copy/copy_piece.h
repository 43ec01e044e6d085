#pragma once

#include <cstddef>
#include <cstdint>

namespace vmi {

// One host-contiguous stretch of a guarded copy: guest RAM in the mapping -> the caller's buffer.
struct CopyPiece {
  const uint8_t* src;
  uint8_t* dst;
  size_t length;
};

}  // namespace vmi
