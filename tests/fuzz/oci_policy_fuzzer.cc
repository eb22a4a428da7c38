// The policy for received containers on whatever config.json a source sends: the JSON parser,
// the document model and every rule of the policy, under the safe default and a permissive
// policy. A document that parses must serialize to one that parses to the same verdicts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "agent/runtime/oci_config.h"
#include "agent/runtime/oci_policy.h"

using namespace migrate::runtime;

namespace {

OciPolicy Permissive() {
  OciPolicy p;
  p.add_allowed_hook_paths("/bin/sh");
  p.add_allowed_bind_prefixes("/srv");
  p.add_allowed_namespace_path_prefixes("/run/netns");
  p.add_allowed_host_namespaces("network");
  p.add_allowed_devices("c 10:*");
  p.add_allowed_sysctls("net.*");
  p.add_allowed_capabilities("CAP_SYS_ADMIN");
  p.add_allowed_mount_types("overlay");
  p.add_allowed_cgroup_prefixes("/migrate");
  p.set_require_seccomp(true);
  p.set_allow_unmasked_paths(true);
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const OciPolicy kDefault, kPermissive = Permissive();
  auto config = OciConfig::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!config.ok()) return 0;
  auto violations = OciPolicyViolations(*config, kDefault);
  (void)CheckOciConfigAgainstPolicy(*config, kPermissive);
  auto again = OciConfig::Parse(config->ToString());
  if (!again.ok() || OciPolicyViolations(*again, kDefault) != violations) {
    std::fprintf(stderr, "a serialized config judges differently from its source\n");
    std::abort();
  }
  return 0;
}
