#include "agent/request_checks.h"

#include <filesystem>

#include "agent/journal.h"
#include "agent/runtime/ids.h"

namespace migrate::agent {

bool IsValidContainerId(const std::string& id) { return runtime::IsValidContainerId(id); }

Status CheckIds(const std::string& migration_id, const std::string& container_id) {
  if (!IsValidMigrationId(migration_id)) {
    return Status::InvalidArgument("invalid migration id '" + migration_id + "'");
  }
  MIGRATE_RETURN_IF_ERROR(runtime::ValidateContainerId(container_id));
  return Status::Ok();
}

Status CheckCgroupPath(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return Status::InvalidArgument("cgroup path '" + path + "' must be absolute");
  }
  for (const auto& part : std::filesystem::path(path)) {
    if (part == "." || part == "..") {
      return Status::InvalidArgument("cgroup path '" + path + "' must not contain . or ..");
    }
  }
  return Status::Ok();
}

}  // namespace migrate::agent
