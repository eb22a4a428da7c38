// Checks on what a request names, before anything acts on it.
#pragma once

#include <string>

#include "transfer/status.h"

namespace migrate::agent {

// Container ids become file names and runtime arguments: runc's alphabet, 1-128 characters,
// never "." or "..", and never starting with "-" (it would read as an option).
bool IsValidContainerId(const std::string& id);

// InvalidArgument naming the bad one.
Status CheckIds(const std::string& migration_id, const std::string& container_id);

// A cgroup path the agent may hand to the runtime: absolute, no "." or ".." components.
Status CheckCgroupPath(const std::string& path);

}  // namespace migrate::agent
