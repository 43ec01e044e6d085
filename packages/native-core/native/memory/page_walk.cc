#include "memory/page_walk.h"

#include <algorithm>

#include "common/native_error.h"

namespace vmi {

namespace {

constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWrite = 1ull << 1;
constexpr uint64_t kUser = 1ull << 2;
constexpr uint64_t kPageSize = 1ull << 7;
constexpr uint64_t kNoExecute = 1ull << 63;
// Bits 51:12 of an entry (or of CR3) address the next table or the 4 KiB page.
constexpr uint64_t kAddressMask = 0x000FFFFFFFFFF000ull;
constexpr uint64_t kAddress2M = 0x000FFFFFFFE00000ull;
constexpr uint64_t kAddress1G = 0x000FFFFFC0000000ull;
// In a large-page entry, the bits between PAT (bit 12) and the page base must be zero.
constexpr uint64_t kReserved2M = 0x00000000001FE000ull;
constexpr uint64_t kReserved1G = 0x000000003FFFE000ull;

bool IsCanonical(uint64_t va, int levels) {
  int bits = levels == 5 ? 57 : 48;
  int64_t shifted = static_cast<int64_t>(va << (64 - bits)) >> (64 - bits);
  return static_cast<uint64_t>(shifted) == va;
}

NativeError Unmapped(uint64_t va, int level, uint64_t entry) {
  NativeError error(code::kUnmapped, "virtual address is not mapped");
  error.With("address", va).With("level", static_cast<uint64_t>(level)).With("entry", entry);
  return error;
}

NativeError BadTable(const char* why, uint64_t va, int level, uint64_t entry) {
  NativeError error(code::kBadPageTable, why);
  error.With("address", va).With("level", static_cast<uint64_t>(level)).With("entry", entry);
  return error;
}

}  // namespace

Translation TranslateVirtual(const GuestMemory& memory, uint64_t cr3, uint64_t va, int levels) {
  if (levels != 4 && levels != 5) Fail(code::kBadArgument, "paging levels must be 4 or 5");
  if (!IsCanonical(va, levels)) throw NativeError(code::kNonCanonical, "virtual address is not canonical").With("address", va);

  Translation t{0, 0, true, true, false};
  uint64_t table = cr3 & kAddressMask;
  // level 5 = PML5, 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT
  for (int level = levels; level >= 1; --level) {
    const int shift = 12 + 9 * (level - 1);
    const uint64_t index = (va >> shift) & 0x1FF;
    uint64_t entry;
    try {
      entry = memory.ReadU64(table + index * 8);
    } catch (const NativeError& error) {
      if (std::string(error.code()) != code::kOutOfRange) throw;
      throw BadTable("page table lies outside guest RAM", va, level, table);
    }
    if (!(entry & kPresent)) throw Unmapped(va, level, entry);
    t.writable = t.writable && (entry & kWrite);
    t.user = t.user && (entry & kUser);
    t.no_execute = t.no_execute || (entry & kNoExecute);

    if (entry & kPageSize) {
      if (level == 3) {
        if (entry & kReserved1G) throw BadTable("reserved bits set in a 1 GiB page entry", va, level, entry);
        t.page_size = 1ull << 30;
        t.phys = (entry & kAddress1G) | (va & (t.page_size - 1));
        return t;
      }
      if (level == 2) {
        if (entry & kReserved2M) throw BadTable("reserved bits set in a 2 MiB page entry", va, level, entry);
        t.page_size = 1ull << 21;
        t.phys = (entry & kAddress2M) | (va & (t.page_size - 1));
        return t;
      }
      // Bit 7 is PAT in a PTE; in a PML4E/PML5E it is reserved.
      if (level >= 4) throw BadTable("page-size bit set above the PDPT", va, level, entry);
    }
    if (level == 1) {
      t.page_size = 4096;
      t.phys = (entry & kAddressMask) | (va & 0xFFF);
      return t;
    }
    table = entry & kAddressMask;
  }
  // Unreachable: the loop returns at level 1.
  Fail(code::kInternal, "page walk ended without a translation");
}

void ReadVirtual(const GuestMemory& memory, uint64_t cr3, uint64_t va, uint8_t* out, uint64_t length, int levels) {
  if (length == 0) return;
  if (va + (length - 1) < va) throw NativeError(code::kOutOfRange, "virtual range wraps around").With("address", va);
  uint64_t cursor = va;
  uint64_t left = length;
  while (left > 0) {
    Translation t = TranslateVirtual(memory, cr3, cursor, levels);
    uint64_t in_page = t.page_size - (t.phys & (t.page_size - 1));
    uint64_t take = std::min(left, in_page);
    memory.ReadPhys(t.phys, out, static_cast<size_t>(take));
    out += take;
    cursor += take;
    left -= take;
  }
}

}  // namespace vmi
