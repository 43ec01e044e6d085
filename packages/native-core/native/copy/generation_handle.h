#pragma once

#include "common/generation_table.h"
#include "common/handles.h"

namespace vmi {

inline constexpr HandleKind kGenerationTableHandle{{0x766d692d67656e2dull, 0x7461626c652d3031ull}, "GenerationTable"};

}  // namespace vmi
