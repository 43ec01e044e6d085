#include "probe/probe_binding.h"

#include "common/js_errors.h"
#include "probe/probe.h"

namespace vmi {

namespace {

Napi::Value NullableString(Napi::Env env, const std::string& s) { return s.empty() ? env.Null() : Napi::String::New(env, s); }

Napi::Value Probe(const Napi::CallbackInfo& info) {
  const Features& f = ProbeFeatures();
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);

  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("vendor", f.cpu_vendor);
  cpu.Set("model", f.cpu_model);
  cpu.Set("cpuidRtm", f.cpuid_rtm);
  cpu.Set("kernelRtmFlag", f.kernel_rtm_flag);
  cpu.Set("rtm", f.rtm);
  out.Set("cpu", cpu);

  Napi::Object kernel = Napi::Object::New(env);
  kernel.Set("release", f.kernel_release);
  Napi::Array version = Napi::Array::New(env, 3);
  version.Set(0u, f.kernel_major);
  version.Set(1u, f.kernel_minor);
  version.Set(2u, f.kernel_patch);
  kernel.Set("version", version);
  kernel.Set("pagemapScan", f.pagemap_scan);
  out.Set("kernel", kernel);

  Napi::Object uffd = Napi::Object::New(env);
  uffd.Set("available", f.uffd_available);
  uffd.Set("via", NullableString(env, f.uffd_via));
  uffd.Set("error", NullableString(env, f.uffd_error));
  uffd.Set("api", Napi::BigInt::New(env, f.uffd_api));
  uffd.Set("featureBits", Napi::BigInt::New(env, f.uffd_feature_bits));
  uffd.Set("ioctls", Napi::BigInt::New(env, f.uffd_ioctls));
  Napi::Array names = Napi::Array::New(env, f.uffd_features.size());
  for (size_t i = 0; i < f.uffd_features.size(); ++i) names.Set(static_cast<uint32_t>(i), f.uffd_features[i]);
  uffd.Set("features", names);
  out.Set("userfaultfd", uffd);
  return out;
}

}  // namespace

void RegisterProbe(Napi::Env env, Napi::Object exports) { Export(env, exports, "probeFeatures", Probe); }

}  // namespace vmi
