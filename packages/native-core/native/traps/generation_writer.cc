#include "generation_writer.h"

namespace vmi::traps {

Status GenerationWriter::Open(const std::string& path, uint32_t slots) {
  try {
    table_ = std::make_unique<gen::Table>(gen::Table::Create(path, slots));
    used_.assign(slots, false);
    return Status::Ok();
  } catch (const NativeError& e) {
    return Status::Error(TrapStatus::kIo, e.what());
  }
}

int GenerationWriter::Claim(uint64_t phys, uint64_t length) {
  if (!table_) return -1;
  for (size_t i = 0; i < used_.size(); ++i) {
    if (!used_[i]) {
      used_[i] = true;
      table_->SetSlot(static_cast<uint32_t>(i), phys, length);
      return static_cast<int>(i);
    }
  }
  return -1;
}

void GenerationWriter::Free(int slot) {
  if (!table_ || slot < 0 || static_cast<size_t>(slot) >= used_.size()) return;
  used_[static_cast<size_t>(slot)] = false;
  table_->SetSlot(static_cast<uint32_t>(slot), 0, 0);
}

void GenerationWriter::Bump(uint64_t phys, uint64_t length) {
  if (table_) table_->RecordWrite(phys, length == 0 ? 1 : length);
}

void GenerationWriter::BumpAll() {
  if (table_) table_->RecordWrite(0, UINT64_MAX);
}

}  // namespace vmi::traps
