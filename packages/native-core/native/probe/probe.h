// What this CPU and kernel offer the native core: RTM for the guarded copy, userfaultfd features for
// physical write traps, PAGEMAP_SCAN for async write-protect. Probed once, read many times.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vmi {

struct Features {
  std::string cpu_vendor;
  std::string cpu_model;
  bool cpuid_rtm = false;        // CPUID.(EAX=7,ECX=0):EBX bit 11
  bool kernel_rtm_flag = false;  // `rtm` in /proc/cpuinfo flags (absent when TSX is disabled)
  bool rtm = false;              // both: safe to execute _xbegin
  std::string kernel_release;
  uint32_t kernel_major = 0, kernel_minor = 0, kernel_patch = 0;
  bool uffd_available = false;
  std::string uffd_via;    // "dev" (/dev/userfaultfd), "syscall" or ""
  std::string uffd_error;  // why it is unavailable
  uint64_t uffd_api = 0;
  uint64_t uffd_feature_bits = 0;
  uint64_t uffd_ioctls = 0;
  std::vector<std::string> uffd_features;
  bool pagemap_scan = false;
};

// Probes on first call (thread-safe) and returns the cached result.
const Features& ProbeFeatures();

}  // namespace vmi
