#include "traps/trap_backend.h"

namespace vmi::traps {

const std::vector<const BackendOps*>& AllBackends() {
  static const std::vector<const BackendOps*> all = {&kGdbBackendOps, &kUffdBackendOps};
  return all;
}

const BackendOps* FindBackend(const std::string& name) {
  for (const BackendOps* ops : AllBackends()) {
    if (name == ops->name) return ops;
  }
  return nullptr;
}

const char* TrapStatusName(TrapStatus code) {
  switch (code) {
    case TrapStatus::kOk: return "ok";
    case TrapStatus::kUnavailable: return "unavailable";
    case TrapStatus::kProtocol: return "protocol";
    case TrapStatus::kRejected: return "rejected";
    case TrapStatus::kInvalidArgument: return "invalid-argument";
    case TrapStatus::kNotFound: return "not-found";
    case TrapStatus::kClosed: return "closed";
    case TrapStatus::kTimeout: return "timeout";
    case TrapStatus::kIo: return "io";
  }
  return "unknown";
}

}  // namespace vmi::traps
