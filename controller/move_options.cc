#include "controller/move_options.h"

#include <algorithm>
#include <optional>

#include "controller/migration.h"
#include "proto/cgroup_mode_names.h"
#include "transfer/stream/rate_limit.h"

namespace migrate::controller {

void AddMoveOptions(CLI::App* cmd, MoveOptions& o, bool with_cgroup_path) {
  cmd->add_option("--cgroups-mode", o.cgroups_mode,
                  "how CRIU treats cgroups: ignore|soft|full|strict (also none|props); the "
                  "restore must really run this mode or the migration is rolled back")
      ->check(CLI::IsMember(proto::CgroupModeNames()))
      ->capture_default_str();
  if (with_cgroup_path) {
    cmd->add_option("--cgroup-path", o.cgroup_path,
                    "destination cgroupsPath, to move the container into a new "
                    "cgroup (ignore or soft; in ignore the default is the "
                    "destination agent's cgroup parent + id, in soft the dumped path)");
  }
  cmd->add_option("--strategy", o.strategy,
                  "how the memory moves. stop-and-copy: dumped, sent and restored while the "
                  "container is frozen (downtime grows with memory). post-copy: all but the "
                  "pages move while frozen, the container runs on the destination at once and "
                  "its pages follow over the agents' TLS page link; the source's tasks stay "
                  "frozen until every page arrived, and a cut transfer kills the destination's "
                  "copy and resumes the source from the freeze (runc only; not with "
                  "--tcp-established). Limit: " + std::string(kPostCopyLimit))
      ->check(CLI::IsMember({"stop-and-copy", "post-copy"}))
      ->capture_default_str();
  cmd->add_option("--compress-level", o.compress_level,
                  "zstd level 1..19 for the streams (default: the agents' default)")
      ->check(CLI::Range(1, 19));
  cmd->add_option("--bandwidth", o.bandwidth,
                  "cap on the migration's streams together, e.g. 200MiB/s or 50MB/s (IEC or "
                  "SI units; the freeze lasts longer when the images take longer to send)");
  cmd->add_flag("--tcp-established", o.tcp_established,
                "carry established TCP connections (CRIU --tcp-established; the "
                "peers must reach the container at the same address afterwards)");
  cmd->add_flag("--file-locks", o.file_locks,
                "carry the file locks the container's tasks hold (CRIU "
                "--file-locks; preflight says when they hold any)");
  cmd->add_flag("--ext-unix-sk", o.ext_unix_sk,
                "allow unix sockets connected to peers outside the container (CRIU "
                "--ext-unix-sk; the peer end is not moved and must exist on the "
                "destination)");
  cmd->add_option("--criu-option", o.criu_options,
                  "a CRIU option runc's CLI lacks, repeatable (the source writes it into a CRIU "
                  "config file of the checkpoint's own; docs/controller.md): link-remap "
                  "(an open file that was unlinked while another name still links it: CRIU "
                  "creates a hard link link_remap.N in the container's files, moved with "
                  "them; the root file system is then sent after the dump: longer freeze), ghost-limit=SIZE (e.g. 64M: the largest deleted open file CRIU "
                  "copies into the images, default 1M, at most 16G; bigger images, longer "
                  "freeze), no-ghost-fiemap (copy deleted files by SEEK_DATA/SEEK_HOLE), "
                  "skip-in-flight (drops TCP connections not yet accepted by a listener: their "
                  "clients see a reset)")
      ->allow_extra_args(false)
      ->delimiter(',');
  cmd->add_flag("--keep-images", o.keep_images,
                "keep the checkpoint images on both hosts after a successful commit");
  cmd->add_flag("--dry-run", o.dry_run,
                "run the preflight on both hosts only; freeze and change nothing");
  cmd->add_option("--output", o.output, "text|json (json: one object)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--hosts", o.hosts_file,
                  "inventory file (default: $MIGRATE_HOSTS, else /etc/migrate/hosts.json)");
  cmd->add_option("--timeout", o.timeout_s,
                  "seconds allowed for each ordinary agent call (preflight, restore, ...)")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--transfer-timeout", o.transfer_timeout_s,
                  "seconds allowed for checkpoint+transfer (images and bundle)")
      ->check(CLI::Range(1, 7 * 86400))
      ->capture_default_str();
}

Status ParseCriuOption(const std::string& text, proto::CriuFileOptions* options) {
  const size_t eq = text.find('=');
  const std::string name = text.substr(0, eq);
  const bool has_value = eq != std::string::npos;
  if (name == "ghost-limit" && has_value) {
    const std::string size = text.substr(eq + 1);
    Result<uint64_t> bytes = transfer::ParseByteRate(size);
    if (!bytes.ok() || size.find('/') != std::string::npos) {
      return Status::InvalidArgument("--criu-option " + text +
                                     ": give a size, e.g. ghost-limit=64M or 1048576");
    }
    options->set_ghost_limit_bytes(*bytes);
    return Status::Ok();
  }
  if (!has_value && name == "link-remap") {
    options->set_link_remap(true);
  } else if (!has_value && name == "no-ghost-fiemap") {
    options->set_no_ghost_fiemap(true);
  } else if (!has_value && name == "skip-in-flight") {
    options->set_skip_in_flight(true);
  } else {
    return Status::InvalidArgument(
        "--criu-option " + text +
        ": not one migrate passes (link-remap, ghost-limit=SIZE, no-ghost-fiemap, "
        "skip-in-flight; and the flags --tcp-established, --file-locks, --ext-unix-sk)");
  }
  return Status::Ok();
}

Result<MigrationRequest> MoveRequest(const MoveOptions& o) {
  const std::optional<proto::CgroupMode> parsed = proto::CgroupModeFromName(o.cgroups_mode);
  if (!parsed) {
    return Status::InvalidArgument("unknown cgroup mode \"" + o.cgroups_mode + "\" (expected " +
                                   proto::JoinedCgroupModeNames("|") + ")");
  }
  const proto::CgroupMode mode = *parsed;
  if (!o.cgroup_path.empty() && mode != proto::CGROUP_MODE_IGNORE &&
      mode != proto::CGROUP_MODE_SOFT) {
    return Status::InvalidArgument("--cgroup-path needs --cgroups-mode ignore or soft: in " +
                                   o.cgroups_mode +
                                   " mode CRIU puts the processes back into the cgroups they "
                                   "were dumped from");
  }
  if (!o.cgroup_path.empty() && o.cgroup_path.front() != '/') {
    return Status::InvalidArgument("--cgroup-path must be absolute (e.g. /tenants/web-1)");
  }
  MigrationRequest request;
  if (!o.bandwidth.empty()) {
    Result<uint64_t> rate = transfer::ParseByteRate(o.bandwidth);
    if (!rate.ok()) return rate.status().WithContext("--bandwidth");
    request.bandwidth_bytes_per_second = *rate;
  }
  request.cgroup_mode = mode;
  request.cgroup_path = o.cgroup_path;
  request.strategy =
      o.strategy == "post-copy" ? proto::STRATEGY_POST_COPY : proto::STRATEGY_STOP_AND_COPY;
  if (request.strategy == proto::STRATEGY_POST_COPY && o.tcp_established) {
    return Status::InvalidArgument(
        "--strategy post-copy cannot carry --tcp-established: a rollback would resume the "
        "source's connections after the destination's copy used them");
  }
  request.compress_level = o.compress_level;
  request.tcp_established = o.tcp_established;
  request.file_locks = o.file_locks;
  request.ext_unix_sk = o.ext_unix_sk;
  for (const std::string& option : o.criu_options) {
    MIGRATE_RETURN_IF_ERROR(ParseCriuOption(option, &request.criu_file_options));
  }
  request.keep_images = o.keep_images;
  request.dry_run = o.dry_run;
  return request;
}

HttpsClientOptions ClientOptions(int timeout_s, int transfer_timeout_s) {
  HttpsClientOptions options;
  options.request_timeout = std::chrono::seconds(timeout_s);
  options.transfer_timeout = std::chrono::seconds(transfer_timeout_s);
  options.connect_timeout = std::min(options.connect_timeout, options.request_timeout);
  options.poll_timeout = std::min(options.poll_timeout, options.request_timeout);
  return options;
}

}  // namespace migrate::controller
