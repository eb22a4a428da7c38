#include "agent/runtime/node_probe.h"

#include <sys/utsname.h>

#include <sstream>

#include "agent/runtime/file_util.h"

namespace migrate::runtime {

std::vector<CgroupMount> ParseCgroupMounts(std::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  std::istringstream in{std::string(mountinfo)};
  std::string line;
  while (std::getline(in, line)) {
    // "<id> <parent> <dev> <root> <mount point> ... - <fstype> <source> <super options>":
    // the file system type follows " - ".
    size_t sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream rest(line.substr(sep + 3));
    std::string fstype;
    rest >> fstype;
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::istringstream fields(line);
    std::string id, parent, devno, root;
    CgroupMount mount;
    fields >> id >> parent >> devno >> root >> mount.mount_point;
    mount.v2 = fstype == "cgroup2";
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

proto::CgroupLayout DetectCgroupLayout(std::string_view mountinfo) {
  bool v1 = false;
  bool v2 = false;
  for (const CgroupMount& mount : ParseCgroupMounts(mountinfo)) {
    (mount.v2 ? v2 : v1) = true;
  }
  if (v1 && v2) return proto::CGROUP_LAYOUT_HYBRID;
  if (v1) return proto::CGROUP_LAYOUT_V1;
  if (v2) return proto::CGROUP_LAYOUT_V2;
  return proto::CGROUP_LAYOUT_UNSPECIFIED;
}

std::string_view CgroupLayoutName(proto::CgroupLayout layout) {
  switch (layout) {
    case proto::CGROUP_LAYOUT_V1:
      return "v1";
    case proto::CGROUP_LAYOUT_HYBRID:
      return "hybrid";
    case proto::CGROUP_LAYOUT_V2:
      return "v2";
    default:
      return "unknown";
  }
}

std::string RuntimeHostProblem(const RuntimeInfo& runtime, proto::CgroupLayout layout,
                               const std::string& cgroup_root) {
  if (runtime.name != "crun" || layout != proto::CGROUP_LAYOUT_HYBRID) return "";
  Result<std::string> controllers = ReadFile(cgroup_root + "/unified/cgroup.controllers");
  std::string list = controllers.ok() ? *controllers : "";
  while (!list.empty() && (list.back() == '\n' || list.back() == ' ')) list.pop_back();
  if (list.empty()) return "";
  return "crun " + runtime.version.ToString() +
         " refuses this hybrid cgroup host: its cgroup2 hierarchy (" + cgroup_root +
         "/unified) holds controllers (" + list +
         "), and crun runs no container then (\"cgroups in hybrid mode not supported, drop all "
         "controllers from cgroupv2\"); move them to v1 (e.g. mkdir " + cgroup_root +
         "/hugetlb && mount -t cgroup -o hugetlb cgroup " + cgroup_root +
         "/hugetlb, while nothing uses them on v2), or use runc";
}

Result<proto::Capabilities> ProbeNode(Runtime& runtime, Criu& criu,
                                      const NodeProbeOptions& options) {
  proto::Capabilities caps;
  caps.set_node_name(options.node_name);
  caps.set_agent_version(options.agent_version);
  struct utsname uts;
  if (::uname(&uts) == 0) caps.set_kernel_version(uts.release);
  MIGRATE_ASSIGN_OR_RETURN(std::string mountinfo, ReadFile(options.proc_root + "/self/mountinfo"));
  caps.set_cgroup_layout(DetectCgroupLayout(mountinfo));

  const RuntimeInfo& info = runtime.info();
  caps.set_runtime_name(info.name);
  caps.set_runtime_version(info.version.ToString());
  caps.set_runtime_path(info.path);
  caps.set_runtime_problem(RuntimeHostProblem(info, caps.cgroup_layout(), options.cgroup_root));

  Result<Version> criu_version = criu.GetVersion();
  if (criu_version.ok()) {
    caps.set_criu_version(criu_version->ToString());
    Result<CriuCheck> check = criu.Check();
    if (check.ok()) {
      caps.set_criu_check_ok(check->ok);
      caps.set_criu_check_output(check->output);
    } else {
      caps.set_criu_check_output(check.status().ToString());
    }
  } else {
    caps.set_criu_check_ok(false);
    caps.set_criu_check_output("CRIU unusable: " + criu_version.status().ToString());
  }
  for (const ModeSupport& row : runtime.ModeSupportTable()) {
    *caps.add_cgroup_modes() = row.ToProto();
  }
  return caps;
}

std::string FormatCapabilities(const proto::Capabilities& caps) {
  std::ostringstream out;
  if (!caps.node_name().empty()) out << "node:            " << caps.node_name() << "\n";
  out << "kernel:          " << caps.kernel_version() << "\n";
  out << "cgroup layout:   " << CgroupLayoutName(caps.cgroup_layout()) << "\n";
  out << "runtime:         " << caps.runtime_name() << " " << caps.runtime_version() << " ("
      << caps.runtime_path() << ")\n";
  if (!caps.runtime_problem().empty()) out << "  UNUSABLE:      " << caps.runtime_problem() << "\n";
  out << "criu:            " << (caps.criu_version().empty() ? "-" : caps.criu_version())
      << ", check " << (caps.criu_check_ok() ? "ok" : "FAILED") << ": " << caps.criu_check_output()
      << "\n";
  out << "cgroup modes:\n";
  for (const proto::CgroupModeSupport& row : caps.cgroup_modes()) {
    Result<CgroupMode> mode = CgroupModeFromProto(row.mode());
    out << "  " << (mode.ok() ? CgroupModeName(*mode) : "?") << ": checkpoint "
        << (row.checkpoint() ? "yes" : "no") << ", restore " << (row.restore() ? "yes" : "no")
        << "\n    mechanism: " << row.mechanism() << "\n";
    if (!row.reason().empty()) out << "    why not:   " << row.reason() << "\n";
  }
  return out.str();
}

}  // namespace migrate::runtime
