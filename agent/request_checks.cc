#include "agent/request_checks.h"

#include <filesystem>

#include "agent/journal.h"

namespace migrate::agent {

bool IsValidContainerId(const std::string& id) {
  if (id.empty() || id.size() > 128 || id[0] == '-') return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '+';
    if (!ok) return false;
  }
  return id != "." && id != "..";
}

Status CheckIds(const std::string& migration_id, const std::string& container_id) {
  if (!IsValidMigrationId(migration_id)) {
    return Status::InvalidArgument("invalid migration id '" + migration_id + "'");
  }
  if (!IsValidContainerId(container_id)) {
    return Status::InvalidArgument("invalid container id '" + container_id + "'");
  }
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
