// x86-64 page walks over guest memory (4- and 5-level paging, 4 KiB / 2 MiB / 1 GiB pages). Guest
// page tables are untrusted input: every entry read is bounds-checked, and a walk reads at most one
// entry per level, so a malformed or cyclic table can neither crash nor hang it.
#pragma once

#include <cstdint>
#include <vector>

#include "memory/guest_memory.h"

namespace vmi {

struct Translation {
  uint64_t phys;       // physical address of the virtual byte
  uint64_t page_size;  // 4096, 2 MiB or 1 GiB
  bool writable;       // every level allows writes
  bool user;           // every level allows user access
  bool no_execute;     // some level sets NX
};

// Translates `va` with the tables rooted at `cr3` (`levels` is 4 or 5). Throws NON_CANONICAL, UNMAPPED
// (a level is not present), BAD_PAGE_TABLE (reserved bits or a table outside guest RAM) or OUT_OF_RANGE.
Translation TranslateVirtual(const GuestMemory& memory, uint64_t cr3, uint64_t va, int levels);

// Reads `length` bytes at `va`, walking each page the range touches.
void ReadVirtual(const GuestMemory& memory, uint64_t cr3, uint64_t va, uint8_t* out, uint64_t length, int levels);

}  // namespace vmi
