// Checks on what a request names, before anything acts on it.
#pragma once

#include <string>

#include "agent/runtime/runtime.h"
#include "transfer/base/status.h"

namespace migrate::agent {

// Container ids become file names and runtime arguments: runtime::IsValidContainerId (runc's
// alphabet, never starting with "-").
bool IsValidContainerId(const std::string& id);

// InvalidArgument naming the bad one.
Status CheckIds(const std::string& migration_id, const std::string& container_id);

// A cgroup path the agent may hand to the runtime: absolute, no "." or ".." components.
Status CheckCgroupPath(const std::string& path);

// Whether a request or a journaled migration moves the memory post-copy (docs/post-copy.md).
template <typename RequestOrRecord>
bool IsPostCopy(const RequestOrRecord& r) {
  return r.strategy() == proto::STRATEGY_POST_COPY;
}

// The CRIU options a request asks for (every request that carries them names them alike).
template <typename Request>
runtime::CriuOptions CriuOptionsOf(const Request& request) {
  runtime::CriuOptions options;
  options.tcp_established = request.tcp_established();
  options.file_locks = request.file_locks();
  options.ext_unix_sk = request.ext_unix_sk();
  if constexpr (requires { request.criu_file_options(); }) {  // checkpoint and preflight only
    const proto::CriuFileOptions& file = request.criu_file_options();
    options.link_remap = file.link_remap();
    options.ghost_limit = file.ghost_limit_bytes();
    options.no_ghost_fiemap = file.no_ghost_fiemap();
    options.skip_in_flight = file.skip_in_flight();
  }
  return options;
}

}  // namespace migrate::agent
