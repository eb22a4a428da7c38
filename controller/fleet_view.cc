#include "controller/fleet_view.h"

#include <sstream>

#include "controller/report.h"
#include "controller/text_table.h"

namespace migrate::controller {
namespace {

std::string PhaseWord(proto::Phase phase) {
  std::string name = proto::Phase_Name(phase);
  return name.rfind("PHASE_", 0) == 0 ? name.substr(6) : name;
}

std::string RoleWord(proto::Role role) {
  return role == proto::ROLE_SOURCE ? "source" : role == proto::ROLE_DESTINATION ? "destination"
                                                                                 : "?";
}

std::vector<std::string> MigrationRow(const std::string& host, const proto::MigrationStatus& m,
                                      uint64_t now) {
  return {host,          m.migration_id(),   m.container_id(),
          RoleWord(m.role()), PhaseWord(m.phase()), m.peer_node().empty() ? "-" : m.peer_node(),
          m.updated_unix_ms() == 0 ? "-" : Age(m.updated_unix_ms(), now)};
}

const std::vector<std::string> kMigrationHeader = {"HOST", "MIGRATION", "CONTAINER", "ROLE",
                                                   "PHASE", "PEER",     "CHANGED"};

}  // namespace

proto::HostListing ListHost(AgentClient& agent) {
  proto::HostListing listing;
  listing.set_host(agent.node_name());
  Result<proto::ContainerList> containers = agent.ListContainers();
  Result<proto::MigrationList> migrations = agent.ListMigrations();
  if (!containers.ok() || !migrations.ok()) {
    listing.set_error((containers.ok() ? migrations.status() : containers.status()).ToString());
    return listing;
  }
  *listing.mutable_containers() = containers->containers();
  *listing.mutable_migrations() = migrations->migrations();
  return listing;
}

proto::HostMigration MigrationOnHost(AgentClient& agent, const std::string& migration_id) {
  proto::HostMigration answer;
  answer.set_host(agent.node_name());
  Result<proto::MigrationStatus> status = agent.GetMigration(migration_id);
  if (status.ok()) {
    *answer.mutable_status() = *status;
  } else {
    answer.set_error(status.status().ToString());
  }
  return answer;
}

std::string Age(uint64_t then_unix_ms, uint64_t now_unix_ms) {
  const uint64_t s = now_unix_ms > then_unix_ms ? (now_unix_ms - then_unix_ms) / 1000 : 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 7200) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

std::string ListReportToText(const proto::ListReport& report, uint64_t now_unix_ms) {
  std::vector<std::vector<std::string>> containers = {
      {"HOST", "CONTAINER", "STATE", "MEMORY", "ROOTFS", "CGROUP"}};
  std::vector<std::vector<std::string>> migrations = {kMigrationHeader};
  for (const proto::HostListing& host : report.hosts()) {
    for (const proto::ContainerInfo& c : host.containers()) {
      containers.push_back({host.host(), c.container_id(), c.status(), HumanBytes(static_cast<double>(c.memory_bytes())),
                            HumanBytes(static_cast<double>(c.rootfs_bytes())),
                            c.cgroups_path().empty() ? "-" : c.cgroups_path()});
    }
    for (const proto::MigrationStatus& m : host.migrations()) {
      migrations.push_back(MigrationRow(host.host(), m, now_unix_ms));
    }
  }
  std::ostringstream out;
  out << FormatTable(containers) << "\n";
  if (migrations.size() == 1) {
    out << "no migrations known\n";
  } else {
    out << FormatTable(migrations);
  }
  for (const proto::HostListing& host : report.hosts()) {
    if (!host.error().empty()) out << host.host() << ": " << host.error() << "\n";
  }
  return out.str();
}

std::string StatusReportToText(const proto::StatusReport& report, uint64_t now_unix_ms) {
  std::vector<std::vector<std::string>> rows = {kMigrationHeader};
  rows.front().push_back("MESSAGE");
  std::ostringstream errors;
  for (const proto::HostMigration& host : report.hosts()) {
    if (!host.has_status()) {
      errors << host.host() << ": " << host.error() << "\n";
      continue;
    }
    std::vector<std::string> row = MigrationRow(host.host(), host.status(), now_unix_ms);
    row.push_back(host.status().message().empty() ? "-" : host.status().message());
    rows.push_back(std::move(row));
  }
  std::ostringstream out;
  if (rows.size() == 1) {
    out << "no host knows migration " << report.migration_id() << "\n";
  } else {
    out << FormatTable(rows);
  }
  out << errors.str();
  return out.str();
}

}  // namespace migrate::controller
