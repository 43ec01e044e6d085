// The write-generation table: a small file in shared memory (e.g. /dev/shm/vmi-gen-<guest>) through
// which the trap engine (the writer, in the host agent) tells readers in any process (the scanner's
// trap guard) that a watched guest-physical range was written.
//
//   header, 64 bytes: char magic[8] = "VMIGEN01"; uint32 version = 1; uint32 slots;
//                     uint64 global_gen (atomic); padding
//   then `slots` entries of 32 bytes: uint64 phys_start; uint64 length;
//                     uint64 gen (atomic); uint64 reserved
//
// Writer contract: for every trapped write, bump `gen` of each slot the write overlaps, then
// `global_gen`, BEFORE the vCPU is resumed. A slot with length 0 is unused. Reconfiguring a slot bumps
// its gen so a reader that snapshotted the old range sees a change.
//
// Reader contract (seqlock style): snapshot the gens of the slots covering the ranges, copy, re-read
// and compare the ranges (closes the window between a guest write and its stop report), snapshot
// again; any difference means the copy may be torn and must be retried.
//
// Fields are plain integers accessed through __atomic builtins so the layout stays the same for C.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/native_error.h"

namespace vmi::gen {

inline constexpr char kMagic[8] = {'V', 'M', 'I', 'G', 'E', 'N', '0', '1'};
inline constexpr uint32_t kVersion = 1;
// Bounds what a reader will map from a file it did not create.
inline constexpr uint32_t kMaxSlots = 1u << 20;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t slots;
  uint64_t global_gen;
  uint8_t padding[40];
};
static_assert(sizeof(Header) == 64, "generation table header is 64 bytes");

struct Slot {
  uint64_t phys_start;
  uint64_t length;
  uint64_t gen;
  uint64_t reserved;
};
static_assert(sizeof(Slot) == 32, "generation table slot is 32 bytes");

inline size_t TableBytes(uint32_t slots) { return sizeof(Header) + static_cast<size_t>(slots) * sizeof(Slot); }

inline uint64_t Load(const uint64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
inline void Store(uint64_t* p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
inline void Bump(uint64_t* p) { __atomic_fetch_add(p, 1, __ATOMIC_ACQ_REL); }

inline bool Overlaps(uint64_t a_start, uint64_t a_len, uint64_t b_start, uint64_t b_len) {
  if (a_len == 0 || b_len == 0) return false;
  // Compare as [start, end) with the end saturated so ranges at the top of the space do not wrap.
  uint64_t a_end = a_start + a_len < a_start ? UINT64_MAX : a_start + a_len;
  uint64_t b_end = b_start + b_len < b_start ? UINT64_MAX : b_start + b_len;
  return a_start < b_end && b_start < a_end;
}

struct PhysRange {
  uint64_t start;
  uint64_t length;
};

// What a reader compares before and after a copy: the global generation and the slots it relies on.
struct Snapshot {
  uint64_t global_gen = 0;
  std::vector<uint64_t> slot_gens;
  bool operator==(const Snapshot& other) const { return global_gen == other.global_gen && slot_gens == other.slot_gens; }
  bool operator!=(const Snapshot& other) const { return !(*this == other); }
};

// A mapping of a generation table file. Move-only; unmaps on destruction.
class Table {
 public:
  // Writer side: creates (or replaces) the file with `slots` unused slots, mode 0600.
  static Table Create(const std::string& path, uint32_t slots) {
    if (slots == 0 || slots > kMaxSlots) Fail(code::kBadArgument, "generation table slot count out of range");
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) Fail(code::kOpenFailed, "cannot create generation table " + path + ": " + ErrnoText(errno));
    if (::ftruncate(fd, static_cast<off_t>(TableBytes(slots))) != 0) {
      int err = errno;
      ::close(fd);
      Fail(code::kOpenFailed, "cannot size generation table: " + ErrnoText(err));
    }
    Table table(fd, slots, true);
    Header* h = table.header();
    h->version = kVersion;
    h->slots = slots;
    // Magic last: a reader that sees it sees a complete header.
    __atomic_thread_fence(__ATOMIC_RELEASE);
    std::memcpy(h->magic, kMagic, sizeof kMagic);
    return table;
  }

  // Either side: maps an existing table after checking magic, version and size.
  static Table Open(const std::string& path, bool writable) {
    int fd = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) Fail(code::kOpenFailed, "cannot open generation table " + path + ": " + ErrnoText(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Header))) {
      ::close(fd);
      Fail(code::kBadGenerationTable, "generation table is shorter than its header");
    }
    Header probe;
    if (::pread(fd, &probe, sizeof probe, 0) != static_cast<ssize_t>(sizeof probe)) {
      ::close(fd);
      Fail(code::kBadGenerationTable, "cannot read generation table header");
    }
    if (std::memcmp(probe.magic, kMagic, sizeof kMagic) != 0 || probe.version != kVersion) {
      ::close(fd);
      Fail(code::kBadGenerationTable, "generation table has a wrong magic or version");
    }
    if (probe.slots == 0 || probe.slots > kMaxSlots || static_cast<uint64_t>(st.st_size) < TableBytes(probe.slots)) {
      ::close(fd);
      Fail(code::kBadGenerationTable, "generation table slot count does not match its size");
    }
    return Table(fd, probe.slots, writable);
  }

  Table(Table&& other) noexcept
      : fd_(other.fd_), base_(other.base_), bytes_(other.bytes_), slots_(other.slots_), writable_(other.writable_) {
    other.fd_ = -1;
    other.base_ = nullptr;
  }
  Table& operator=(Table&&) = delete;
  Table(const Table&) = delete;
  ~Table() {
    if (base_ != nullptr) ::munmap(base_, bytes_);
    if (fd_ >= 0) ::close(fd_);
  }

  uint32_t slots() const { return slots_; }
  bool writable() const { return writable_; }
  uint64_t GlobalGen() const {
    EnsureBacked();
    return Load(&header()->global_gen);
  }

  Slot ReadSlot(uint32_t index) const {
    EnsureBacked();
    const Slot* s = slot(index);
    return Slot{Load(&s->phys_start), Load(&s->length), Load(&s->gen), 0};
  }

  // Writer: points slot `index` at a range (length 0 frees it).
  void SetSlot(uint32_t index, uint64_t phys_start, uint64_t length) {
    RequireWritable();
    Slot* s = slot(index);
    Store(&s->length, 0);
    Bump(&s->gen);
    Store(&s->phys_start, phys_start);
    Store(&s->length, length);
    Bump(&s->gen);
    Bump(&header()->global_gen);
  }

  // Writer: records one trapped write; returns how many slots it touched.
  uint32_t RecordWrite(uint64_t phys, uint64_t length) {
    RequireWritable();
    uint32_t touched = 0;
    for (uint32_t i = 0; i < slots(); ++i) {
      Slot* s = slot(i);
      if (Overlaps(phys, length, Load(&s->phys_start), Load(&s->length))) {
        Bump(&s->gen);
        ++touched;
      }
    }
    Bump(&header()->global_gen);
    return touched;
  }

  // Reader: the slots that overlap any of the ranges, or an error naming the first byte no slot watches.
  std::vector<uint32_t> CoveringSlots(const std::vector<PhysRange>& ranges) const {
    EnsureBacked();
    std::vector<PhysRange> slot_ranges(slots());
    SlotRangesGuarded(slot_ranges);
    return CoveringSlotsOf(slot_ranges, ranges);
  }

  // Every slot's range, indexed by slot, without the size check: for a reader that runs it under the
  // SIGBUS guard (fault_guard.h) instead, with `into` already sized to slots() (no allocation, no throw).
  void SlotRangesGuarded(std::vector<PhysRange>& into) const {
    const Slot* first = reinterpret_cast<const Slot*>(static_cast<const uint8_t*>(base_) + sizeof(Header));
    const size_t n = into.size() < slots_ ? into.size() : slots_;
    for (size_t i = 0; i < n; ++i) into[i] = PhysRange{Load(&first[i].phys_start), Load(&first[i].length)};
  }

  // The covering rule of CoveringSlots over slot ranges read before (index = slot; length 0 = unused).
  static std::vector<uint32_t> CoveringSlotsOf(const std::vector<PhysRange>& slot_ranges, const std::vector<PhysRange>& ranges) {
    const uint32_t count = static_cast<uint32_t>(slot_ranges.size());
    std::vector<uint32_t> chosen;
    std::vector<bool> taken(count, false);
    for (const PhysRange& range : ranges) {
      // Walk the range forward, each step jumping to the end of a slot that covers the current byte.
      uint64_t cursor = range.start;
      const uint64_t end = range.start + range.length;
      while (cursor < end) {
        bool advanced = false;
        for (uint32_t i = 0; i < count; ++i) {
          const uint64_t start = slot_ranges[i].start, len = slot_ranges[i].length;
          if (len == 0 || cursor < start || cursor - start >= len) continue;
          if (!taken[i]) {
            taken[i] = true;
            chosen.push_back(i);
          }
          uint64_t slot_end = start + len < start ? UINT64_MAX : start + len;
          cursor = slot_end >= end ? end : slot_end;
          advanced = true;
          break;
        }
        if (!advanced) {
          throw NativeError(code::kGuardUnavailable, "no generation table slot watches part of the range").With("address", cursor);
        }
      }
      // Slots that only partly overlap still matter: a write to them touches these bytes.
      for (uint32_t i = 0; i < count; ++i) {
        if (!taken[i] && Overlaps(range.start, range.length, slot_ranges[i].start, slot_ranges[i].length)) {
          taken[i] = true;
          chosen.push_back(i);
        }
      }
    }
    return chosen;
  }

  // Take without the size check, for a reader that runs it under the SIGBUS guard (fault_guard.h)
  // instead: no system call and, with `into.slot_gens` already sized to the indexes, no allocation
  // and no throw. A snapshot is taken twice per copy attempt, and the size check is a system call
  // that costs as much as copying tens of KiB. Indexes come from CoveringSlots (always in range).
  void TakeGuarded(const std::vector<uint32_t>& slot_indexes, Snapshot& into) const {
    into.global_gen = Load(&header()->global_gen);
    const size_t n = slot_indexes.size() < into.slot_gens.size() ? slot_indexes.size() : into.slot_gens.size();
    const Slot* first = reinterpret_cast<const Slot*>(static_cast<const uint8_t*>(base_) + sizeof(Header));
    for (size_t k = 0; k < n; ++k) {
      const uint32_t i = slot_indexes[k];
      into.slot_gens[k] = i < slots_ ? Load(&first[i].gen) : 0;
    }
  }

  Snapshot Take(const std::vector<uint32_t>& slot_indexes) const {
    EnsureBacked();
    Snapshot snap;
    snap.global_gen = Load(&header()->global_gen);
    snap.slot_gens.reserve(slot_indexes.size());
    for (uint32_t i : slot_indexes) snap.slot_gens.push_back(Load(&slot(i)->gen));
    return snap;
  }

 private:
  // The slot count is fixed at open: a writer changing the header later cannot make a reader index
  // past the mapping.
  Table(int fd, uint32_t slots, bool writable) : fd_(fd), bytes_(TableBytes(slots)), slots_(slots), writable_(writable) {
    void* base = ::mmap(nullptr, bytes_, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
      int err = errno;
      ::close(fd_);
      fd_ = -1;
      Fail(code::kOpenFailed, "cannot map generation table: " + ErrnoText(err));
    }
    base_ = base;
  }

  // The writer owns the file; if it shrank, touching the mapping would raise SIGBUS.
  void EnsureBacked() const {
    struct stat st;
    if (::fstat(fd_, &st) != 0 || static_cast<uint64_t>(st.st_size) < bytes_) {
      Fail(code::kBadGenerationTable, "generation table file shrank while mapped");
    }
  }

  void RequireWritable() const {
    if (!writable_) Fail(code::kReadOnly, "generation table is mapped read-only");
  }

  Header* header() const { return static_cast<Header*>(base_); }
  Slot* slot(uint32_t index) const {
    if (index >= slots_) Fail(code::kOutOfRange, "generation table slot index out of range");
    return reinterpret_cast<Slot*>(static_cast<uint8_t*>(base_) + sizeof(Header)) + index;
  }

  int fd_ = -1;
  void* base_ = nullptr;
  size_t bytes_ = 0;
  uint32_t slots_ = 0;
  bool writable_ = false;
};

}  // namespace vmi::gen
