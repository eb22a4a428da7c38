// The CRIU options a workload may need (`migrate container --file-locks`, `--criu-option
// link-remap`, ...) and how each reaches CRIU through the runtime.
//
// runc's and crun's CLIs carry three of them as flags. The others have no runtime flag: the
// agent writes them into a CRIU config file of the checkpoint's own (under the agent's state
// directory) and names it by CRIU_CONFIG_FILE in the runtime's environment. `criu swrk`
// (runc's and libcriu's RPC mode, which inherits the runtime's environment) reads that file
// before the RPC request, and an RPC field the runtime does not set keeps the file's value.
// Only the options below can be written: never arbitrary CRIU options (some run programs).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::runtime {

// The largest --ghost-limit accepted: CRIU copies each deleted file up to this size into the
// images, which are held in memory and on disk on both hosts.
inline constexpr uint64_t kMaxGhostLimitBytes = uint64_t{16} << 30;  // 16 GiB

struct CriuOptions {
  // Runtime flags of the same names.
  bool tcp_established = false;  // established TCP connections (peers must follow)
  bool file_locks = false;       // flock/POSIX/OFD locks and leases of the container's tasks
  bool ext_unix_sk = false;      // unix sockets connected to peers outside the container
  // CRIU config file (dump only: none of them changes what a restore does).
  bool link_remap = false;       // an open file unlinked while another name links it: CRIU
                                 // adds a hard link (link_remap.N) in the container's files
  uint64_t ghost_limit = 0;      // bytes; 0: CRIU's default (1 MiB) for deleted open files
  bool no_ghost_fiemap = false;  // copy deleted files by SEEK_DATA/SEEK_HOLE, not FIEMAP
  bool skip_in_flight = false;   // drop TCP connections not yet accepted by a listener

  std::vector<std::string> RuntimeArgs() const;  // {"--tcp-established", ...}
  // The CRIU config file's text, one option a line; empty when no option needs the file.
  std::string ConfigFileText() const;
  // Every option asked for, as CRIU spells it ("link-remap", "ghost-limit=8388608").
  std::vector<std::string> Names() const;
};

// InvalidArgument for values no migration should pass (a ghost limit above
// kMaxGhostLimitBytes).
Status CheckCriuOptions(const CriuOptions& options);

// How each option of `options` reached CRIU on a dump by `runtime` ("runc", "crun"), one
// "NAME: how" each: a runtime flag, or `config_file` (via CRIU_CONFIG_FILE) with the line of
// CRIU's `dump_log` that shows CRIU applied it, where CRIU logs one.
std::vector<std::string> DescribeCriuOptions(const CriuOptions& options, std::string_view runtime,
                                             const std::string& config_file,
                                             std::string_view dump_log);

}  // namespace migrate::runtime
