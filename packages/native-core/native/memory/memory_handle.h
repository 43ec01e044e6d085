#pragma once

#include "common/handles.h"
#include "memory/guest_memory.h"

namespace vmi {

inline constexpr HandleKind kGuestMemoryHandle{{0x766d692d6775657full, 0x73742d6d656d3031ull}, "GuestMemory"};

}  // namespace vmi
