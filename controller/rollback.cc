#include "controller/rollback.h"

#include "controller/migration.h"

namespace migrate::controller {
namespace {

proto::RollbackRequest Request(const std::string& migration_id, const std::string& peer,
                               const std::string& reason) {
  proto::RollbackRequest request;
  request.set_migration_id(migration_id);
  request.set_peer_node(peer);
  request.set_reason(reason);
  return request;
}

}  // namespace

std::string RollBackDestination(AgentClient& destination, const std::string& migration_id,
                                const std::string& source_name, const std::string& reason,
                                bool restore_requested, Clock& clock) {
  const proto::RollbackRequest request = Request(migration_id, source_name, reason);
  Result<proto::MigrationStatus> done =
      RetryIdempotent(clock, [&] { return destination.Rollback(request); });
  if (!done.ok() && done.status().code() == StatusCode::kNotFound) {
    if (!restore_requested) return "ok";
    return "the destination has no record of the migration although it was asked to restore "
           "(wrong host, or it lost its state directory): it may run the container";
  }
  if (!done.ok()) return done.status().ToString();
  if (done->phase() != proto::PHASE_ROLLED_BACK) {
    return "the agent reports phase " + proto::Phase_Name(done->phase()) + ": " + done->message();
  }
  return "ok";
}

std::string RollBackSource(AgentClient& source, const std::string& migration_id,
                           const std::string& destination_name, const std::string& reason,
                           const std::string& container_id, Clock& clock) {
  const proto::RollbackRequest request = Request(migration_id, destination_name, reason);
  Result<proto::MigrationStatus> done =
      RetryIdempotent(clock, [&] { return source.Rollback(request); });
  if (!done.ok() && done.status().code() == StatusCode::kNotFound) return kSourceNeverFroze;
  if (!done.ok()) return done.status().ToString();
  if (done->phase() != proto::PHASE_ROLLED_BACK) {
    return "the agent reports phase " + proto::Phase_Name(done->phase()) +
           ", not PHASE_ROLLED_BACK: " + done->message();
  }
  // Trust, but check: the container must run on the source again.
  proto::InspectRequest inspect;
  inspect.set_container_id(container_id);
  Result<proto::ContainerInfo> info = source.Inspect(inspect);
  if (!info.ok()) {
    return "rolled back, but inspecting the container failed: " + info.status().ToString();
  }
  if (!info->exists() || info->status() != "running") {
    return "rolled back, but the container is " +
           (info->exists() ? info->status() : std::string("absent"));
  }
  return "ok";
}

bool DestinationCommitted(AgentClient& destination, const std::string& migration_id) {
  Result<proto::MigrationStatus> status = destination.GetMigration(migration_id);
  return status.ok() && (status->phase() == proto::PHASE_COMMITTED ||
                         status->phase() == proto::PHASE_COMMITTING);
}

}  // namespace migrate::controller
