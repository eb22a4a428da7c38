#include "controller/hosts_check.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <sstream>
#include <vector>

#include "proto/cgroup_mode_names.h"
#include "controller/report.h"
#include "controller/text_table.h"

namespace migrate::controller {
namespace {

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ",";
    out += item;
  }
  return out.empty() ? "-" : out;
}

std::string LayoutName(proto::CgroupLayout layout) {
  switch (layout) {
    case proto::CGROUP_LAYOUT_V1: return "v1";
    case proto::CGROUP_LAYOUT_HYBRID: return "hybrid";
    case proto::CGROUP_LAYOUT_V2: return "v2";
    default: return "?";
  }
}

}  // namespace

proto::HostCheckResult CheckHost(AgentClient& agent) {
  proto::HostCheckResult result;
  result.set_host(agent.node_name());
  Result<proto::Health> health = agent.GetHealth();
  if (!health.ok()) {
    result.set_error("agent not reachable: " + health.status().ToString());
    return result;
  }
  *result.mutable_health() = *health;
  if (health->node_name() != agent.node_name()) {
    result.set_error("the agent calls itself \"" + health->node_name() +
                     "\" but the inventory names it \"" + agent.node_name() + "\"");
    return result;
  }
  Result<proto::Capabilities> caps = agent.GetCapabilities();
  if (!caps.ok()) {
    result.set_error("capabilities: " + caps.status().ToString());
    return result;
  }
  *result.mutable_capabilities() = *caps;
  for (const proto::CgroupModeSupport& support : caps->cgroup_modes()) {
    const std::string name = CgroupModeName(support.mode());
    if (name.empty()) continue;
    if (support.checkpoint()) result.add_checkpoint_modes(name);
    if (support.restore()) result.add_restore_modes(name);
  }
  if (!caps->criu_check_ok()) {
    std::string output = caps->criu_check_output();
    if (output.size() > 300) output = output.substr(0, 300) + "...";
    result.set_error("criu check failed (CRIU " + caps->criu_version() + "): " + output);
    return result;
  }
  result.set_ok(true);
  return result;
}

std::string HostsCheckToText(const proto::HostsCheckReport& report) {
  const std::vector<std::string> header = {"HOST", "STATUS",  "AGENT",      "RUNTIME",
                                           "CRIU", "CGROUPS", "DUMP MODES", "RESTORE MODES"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const proto::HostCheckResult& h : report.hosts()) {
    const proto::Capabilities& c = h.capabilities();
    const bool have_caps = h.has_capabilities();
    rows.push_back({
        h.host(),
        h.ok() ? "ok" : "FAILED",
        h.has_health() ? h.health().agent_version() : "-",
        have_caps ? c.runtime_name() + " " + c.runtime_version() : "-",
        have_caps ? c.criu_version() + (c.criu_check_ok() ? " (check ok)" : " (check FAILED)")
                  : "-",
        have_caps ? LayoutName(c.cgroup_layout()) : "-",
        have_caps ? Join(h.checkpoint_modes()) : "-",
        have_caps ? Join(h.restore_modes()) : "-",
    });
  }
  std::ostringstream out;
  out << FormatTable(rows);
  for (const proto::HostCheckResult& h : report.hosts()) {
    if (!h.error().empty()) out << h.host() << ": " << h.error() << "\n";
    for (const proto::QuarantinedMigration& q : h.capabilities().quarantined()) {
      out << h.host() << ": migration " << q.migration_id()
          << " is quarantined (its journal record cannot be read, nothing of it is touched): "
          << q.path() << ": " << q.error() << "; look at it, then remove its folder\n";
    }
    // Modes that would refuse a migration (restore side) with the reason; modes whose dump
    // only runs soft get one line: their images still restore in the requested mode.
    std::string dump_soft;
    for (const proto::CgroupModeSupport& s : h.capabilities().cgroup_modes()) {
      if (!s.restore() && !s.reason().empty()) {
        out << h.host() << ": cgroup mode " << CgroupModeName(s.mode()) << " refused: "
            << s.reason() << "\n";
      } else if (!s.checkpoint()) {
        dump_soft += (dump_soft.empty() ? "" : ", ") + std::string(CgroupModeName(s.mode()));
      }
    }
    if (!dump_soft.empty()) {
      out << h.host() << ": " << dump_soft
          << ": the dump runs soft unless the container was restored by migrate (the restore "
             "runs the requested mode; details: migrate-agent probe)\n";
    }
  }
  return out.str();
}

std::string HostsCheckToJson(const proto::HostsCheckReport& report) {
  return MessageToJsonLine(report);
}

}  // namespace migrate::controller
