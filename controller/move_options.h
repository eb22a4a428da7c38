// The options of one container's move, shared by `migrate container` and `migrate drain`
// (which applies them to every move): cgroup mode and path, CRIU options, compression,
// images, inventory and timeouts.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "controller/https_agent_client.h"
#include "controller/migration.h"
#include "transfer/base/status.h"

namespace migrate::controller {

struct MoveOptions {
  std::string cgroups_mode = "soft";
  std::string strategy = "stop-and-copy";
  std::string cgroup_path;
  int compress_level = 0;
  std::string bandwidth;  // e.g. "200MiB/s"; empty: no cap
  bool tcp_established = false;
  bool file_locks = false;
  bool ext_unix_sk = false;
  std::vector<std::string> criu_options;  // --criu-option, each ParseCriuOption's
  bool keep_images = false;
  bool dry_run = false;
  std::string output = "text";
  std::string hosts_file;
  int timeout_s = 120;
  int transfer_timeout_s = 1800;
};

// Adds the options above to `cmd` (with --cgroup-path only when `with_cgroup_path`: a path
// names one container's cgroup).
void AddMoveOptions(CLI::App* cmd, MoveOptions& options, bool with_cgroup_path);

// One --criu-option ("link-remap", "skip-in-flight", "no-ghost-fiemap", "ghost-limit=SIZE"),
// set in `options`; InvalidArgument naming the accepted ones for anything else.
Status ParseCriuOption(const std::string& text, proto::CriuFileOptions* options);

// The request for a move with these options (container and hosts left to the caller), or
// InvalidArgument for a combination that cannot work.
Result<MigrationRequest> MoveRequest(const MoveOptions& options);

// Agent calls bounded by timeout_s, checkpoint+transfer by transfer_timeout_s.
HttpsClientOptions ClientOptions(int timeout_s, int transfer_timeout_s);

}  // namespace migrate::controller
