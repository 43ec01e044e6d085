#include "probe/probe.h"

#include <cpuid.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/native_error.h"
#include "common/uffd_constants.h"

namespace vmi {

namespace {

void ProbeCpu(Features& f) {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx)) {
    char vendor[13];
    std::memcpy(vendor, &ebx, 4);
    std::memcpy(vendor + 4, &edx, 4);
    std::memcpy(vendor + 8, &ecx, 4);
    vendor[12] = '\0';
    f.cpu_vendor = vendor;
    if (eax >= 7 && __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) f.cpuid_rtm = (ebx >> 11) & 1;
  }
  unsigned int max_ext = __get_cpuid_max(0x80000000, nullptr);
  if (max_ext >= 0x80000004) {
    char brand[49] = {};
    for (unsigned int i = 0; i < 3; ++i) {
      unsigned int regs[4];
      __get_cpuid(0x80000002 + i, &regs[0], &regs[1], &regs[2], &regs[3]);
      std::memcpy(brand + i * 16, regs, 16);
    }
    std::string model(brand);
    size_t first = model.find_first_not_of(' ');
    size_t last = model.find_last_not_of(' ');
    f.cpu_model = first == std::string::npos ? "" : model.substr(first, last - first + 1);
  }

  // The kernel hides `rtm` when TSX is disabled (tsx=off, TAA mitigations), even if CPUID shows it.
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  bool named = false;
  while (std::getline(cpuinfo, line)) {
    // The kernel's name for the CPU is what operators see; the CPUID brand stays the fallback.
    if (!named && line.rfind("model name", 0) == 0) {
      size_t start = line.find_first_not_of(" \t", line.find(':') + 1);
      if (start != std::string::npos) f.cpu_model = line.substr(start);
      named = true;
      continue;
    }
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string word;
    while (words >> word) {
      if (word == "rtm") f.kernel_rtm_flag = true;
    }
    break;
  }
  f.rtm = f.cpuid_rtm && f.kernel_rtm_flag;
}

void ProbeKernel(Features& f) {
  struct utsname u;
  if (uname(&u) == 0) {
    f.kernel_release = u.release;
    unsigned int major = 0, minor = 0, patch = 0;
    std::sscanf(u.release, "%u.%u.%u", &major, &minor, &patch);
    f.kernel_major = major;
    f.kernel_minor = minor;
    f.kernel_patch = patch;
  }
}

int OpenUserfaultfd(Features& f) {
  int dev = ::open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    int fd = ::ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    int err = errno;
    ::close(dev);
    if (fd >= 0) {
      f.uffd_via = "dev";
      return fd;
    }
    f.uffd_error = "USERFAULTFD_IOC_NEW: " + ErrnoText(err);
  }
#ifdef SYS_userfaultfd
  int fd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (fd >= 0) {
    f.uffd_via = "syscall";
    return fd;
  }
  f.uffd_error = "userfaultfd(): " + ErrnoText(errno);
#endif
  return -1;
}

void ProbeUserfaultfd(Features& f) {
  int fd = OpenUserfaultfd(f);
  if (fd < 0) return;
  // With features = 0 the handshake reports every feature the kernel supports.
  struct uffdio_api api;
  std::memset(&api, 0, sizeof api);
  api.api = UFFD_API;
  if (::ioctl(fd, UFFDIO_API, &api) != 0) {
    f.uffd_error = "UFFDIO_API: " + ErrnoText(errno);
    ::close(fd);
    return;
  }
  ::close(fd);
  f.uffd_available = true;
  f.uffd_error.clear();
  f.uffd_api = api.api;
  f.uffd_feature_bits = api.features;
  f.uffd_ioctls = api.ioctls;
  for (const auto& feature : uffd::kFeatureNames) {
    if (api.features & feature.bit) f.uffd_features.emplace_back(feature.name);
  }
}

void ProbePagemapScan(Features& f) {
  int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  // A kernel with PAGEMAP_SCAN fails the null argument with EFAULT; one without knows no such ioctl.
  int rc = ::ioctl(fd, PAGEMAP_SCAN, nullptr);
  f.pagemap_scan = rc != 0 && errno == EFAULT;
  ::close(fd);
}

}  // namespace

const Features& ProbeFeatures() {
  static Features features;
  static std::once_flag once;
  std::call_once(once, [] {
    ProbeCpu(features);
    ProbeKernel(features);
    ProbeUserfaultfd(features);
    ProbePagemapScan(features);
  });
  return features;
}

}  // namespace vmi
