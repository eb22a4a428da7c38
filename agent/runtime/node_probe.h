// What a node can do: runtime, CRIU, kernel, cgroup layout, and the per-mode support table,
// as proto::Capabilities for the agent API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/runtime/criu.h"
#include "agent/runtime/runtime.h"
#include "proto/agent_api.pb.h"
#include "transfer/base/status.h"

namespace migrate::runtime {

// From /proc/self/mountinfo text: V2 when only cgroup2 is mounted (at /sys/fs/cgroup),
// HYBRID when v1 controllers and a cgroup2 mount coexist, V1 when only v1 is mounted.
// UNSPECIFIED when no cgroup file system is mounted.
proto::CgroupLayout DetectCgroupLayout(std::string_view mountinfo);

// The cgroup file systems mounted, from /proc/<pid>/mountinfo text.
struct CgroupMount {
  std::string mount_point;  // e.g. "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified"
  bool v2 = false;          // cgroup2 (else a v1 hierarchy)
};
std::vector<CgroupMount> ParseCgroupMounts(std::string_view mountinfo);
std::string_view CgroupLayoutName(proto::CgroupLayout layout);  // "v1" | "hybrid" | "v2"

struct NodeProbeOptions {
  std::string node_name;
  std::string agent_version;
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
};

// Why `runtime` cannot run containers on this host at all ("" when it can): crun refuses a
// hybrid host whose cgroup2 hierarchy (<cgroup_root>/unified) holds controllers ("cgroups
// in hybrid mode not supported, drop all controllers from cgroupv2").
std::string RuntimeHostProblem(const RuntimeInfo& runtime, proto::CgroupLayout layout,
                               const std::string& cgroup_root);

// Fills Capabilities. A missing or failing CRIU is reported in the result (criu_check_ok =
// false, output says why), not as an error; errors are for what cannot be read at all.
Result<proto::Capabilities> ProbeNode(Runtime& runtime, Criu& criu,
                                      const NodeProbeOptions& options);

// Multi-line human-readable rendering of Capabilities (for `migrate-agent probe`).
std::string FormatCapabilities(const proto::Capabilities& caps);

}  // namespace migrate::runtime
