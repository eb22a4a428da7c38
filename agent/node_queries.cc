#include "agent/node_queries.h"

#include "agent/request_checks.h"
#include "agent/runtime/criu_stats.h"
#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"
#include "agent/runtime/node_probe.h"
#include "agent/runtime/oci_config.h"

namespace migrate::agent {

Result<proto::Capabilities> QueryCapabilities(AgentContext& ctx) {
  runtime::NodeProbeOptions options;
  options.node_name = ctx.node();
  options.agent_version = ctx.deps().agent_version;
  MIGRATE_ASSIGN_OR_RETURN(proto::Capabilities caps,
                           runtime::ProbeNode(ctx.runtime(), *ctx.deps().criu, options));
  for (const QuarantinedRecord& q : ctx.store().quarantined()) {
    proto::QuarantinedMigration& out = *caps.add_quarantined();
    out.set_migration_id(q.migration_id);
    out.set_path(q.path);
    out.set_error(q.error);
  }
  caps.set_unfinished_migrations(static_cast<uint32_t>(ctx.store().unfinished()));
  // Room for containers moved here; 0 (none) when it cannot be read.
  Result<uint64_t> memory = runtime::MemAvailableBytes();
  Result<uint64_t> disk = runtime::FreeBytes(ctx.config().state_dir());
  caps.set_memory_available_bytes(memory.ok() ? *memory : 0);
  caps.set_state_free_bytes(disk.ok() ? *disk : 0);
  return caps;
}

Result<proto::ContainerInfo> InspectContainer(AgentContext& ctx, const std::string& id) {
  if (!IsValidContainerId(id)) return Status::InvalidArgument("invalid container id '" + id + "'");
  proto::ContainerInfo info;
  info.set_container_id(id);
  auto state = ctx.runtime().State(id);
  if (!state.ok()) {
    if (state.status().code() == StatusCode::kNotFound) return info;  // exists = false
    return state.status().WithContext("inspect " + id);
  }
  info.set_exists(true);
  info.set_status(state->status);
  info.set_init_pid(state->init_pid);
  info.set_bundle(state->bundle);
  auto text = runtime::ReadFileNoFollow(state->bundle + "/config.json");
  if (text.ok()) info.set_config_json(*text);
  auto config = text.ok() ? runtime::OciConfig::Parse(*text) : Result<runtime::OciConfig>(text.status());
  if (config.ok()) {
    info.set_cgroups_path(config->cgroups_path().value_or(""));
    info.set_cgroup_namespace(config->creates_namespace("cgroup"));
  }
  auto scan = runtime::ScanTree(state->bundle);
  if (scan.ok()) {
    info.set_rootfs_bytes(scan->bytes);
    info.set_device_node_count(scan->device_node_count);
    for (const std::string& node : scan->device_nodes) info.add_device_nodes(node);
  }
  auto pids = ctx.runtime().Pids(id);
  if (pids.ok()) info.set_memory_bytes(runtime::ProcessesRssBytes(*pids));
  return info;
}

proto::MigrationStatus MigrationStatusOf(AgentContext& ctx, Migration& m) {
  const proto::MigrationRecord record = m.Published();
  proto::MigrationStatus status;
  status.set_migration_id(record.migration_id());
  status.set_container_id(record.container_id());
  status.set_role(record.role());
  status.set_phase(record.phase());
  status.set_message(record.message());
  status.set_peer_node(record.peer_node());
  status.set_created_unix_ms(record.created_unix_ms());
  status.set_updated_unix_ms(record.updated_unix_ms());
  if (record.role() == proto::ROLE_SOURCE) {
    status.set_bytes_raw(m.send_progress.raw_bytes.load());
    status.set_bytes_wire(m.send_progress.wire_bytes.load());
    if (IsPostCopy(record) && record.phase() == proto::PHASE_COMMITTED) {
      auto stats = runtime::ReadCriuStats(ctx.MigrationDir(record.migration_id()) + "/dump-work",
                                          "stats-dump");
      // CRIU 4.1.1 zeroes its dump statistics when its lazy page server starts
      // (cr_page_server calls init_stats again), then counts the frozen time from 0: a time
      // longer than the migration itself (its start to its commit) is that, never reported.
      const uint64_t ran_ms = record.updated_unix_ms() - record.created_unix_ms();
      if (stats.ok() && stats->has_dump() && stats->dump().frozen_time() / 1000 <= ran_ms) {
        *status.mutable_criu_dump_stats() = stats->dump();
      }
    }
    return status;
  }
  if (ctx.deps().streams == nullptr) return status;
  for (const std::string& token : {record.bundle_token(), record.images_token()}) {
    if (token.empty()) continue;
    auto progress = ctx.deps().streams->Progress(token);
    if (progress.ok()) {
      status.set_bytes_raw(status.bytes_raw() + progress->raw_bytes);
      status.set_bytes_wire(status.bytes_wire() + progress->wire_bytes);
    }
  }
  return status;
}

Result<proto::ContainerList> ListContainers(AgentContext& ctx) {
  MIGRATE_ASSIGN_OR_RETURN(std::vector<runtime::ContainerState> states, ctx.runtime().List());
  proto::ContainerList list;
  for (const runtime::ContainerState& state : states) {
    if (!IsValidContainerId(state.id)) continue;  // not one migrate could move anyway
    auto info = InspectContainer(ctx, state.id);
    if (info.ok() && info->exists()) *list.add_containers() = *info;  // gone meanwhile: skip
  }
  return list;
}

proto::MigrationList ListMigrations(AgentContext& ctx) {
  proto::MigrationList list;
  for (const MigrationPtr& m : ctx.store().All()) {
    if (m->Published().phase() == proto::PHASE_UNSPECIFIED) continue;  // being refused
    *list.add_migrations() = MigrationStatusOf(ctx, *m);
  }
  return list;
}

}  // namespace migrate::agent
