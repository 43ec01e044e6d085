// Writer side of the shared write-generation table (format and contracts in
// common/generation_table.h): every trap bumps the global generation and each overlapping slot
// BEFORE the vCPU resumes, so a reader whose generations did not move around its copy knows that
// no trapped write landed in between.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/generation_table.h"
#include "trap_backend.h"

namespace vmi::traps {

class GenerationWriter {
 public:
  // Creates (or replaces) the table file with `slots` unused slots.
  Status Open(const std::string& path, uint32_t slots);
  // Claims a slot for a guest-physical range; -1 when every slot is taken (the write is then only
  // visible in the global generation).
  int Claim(uint64_t phys, uint64_t length);
  void Free(int slot);
  void Bump(uint64_t phys, uint64_t length);
  void BumpAll();
  bool is_open() const { return table_ != nullptr; }

 private:
  std::unique_ptr<gen::Table> table_;
  std::vector<bool> used_;
};

}  // namespace vmi::traps
