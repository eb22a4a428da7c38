// Runtime implemented with runc's CLI: `runc --root <root> ...`.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/runtime/process_runner.h"
#include "agent/runtime/runtime.h"

namespace migrate::runtime {

struct RuncOptions {
  std::string runc_path = "runc";  // looked up in PATH when it has no '/'
  std::string root = "/run/runc";  // runc --root (per node)
  // CRIU binary passed as `runc --criu` (empty: runc's default, "criu" from PATH). runc >= 1.2
  // ignores the flag and always takes criu from PATH.
  std::string criu_path;
  // Directory of the per-container CRIU config files migrate owns: "<dir>/<id>.conf".
  // Restore points each restored container's org.criu.config at its file, so that a later
  // checkpoint of it can run any mode (the file is rewritten per checkpoint).
  std::string criu_config_dir = "/run/migrate/criu";
  // Shell for the OCI prestart hook that brings a restored container's loopback up while
  // CRIU restores it (runc runs prestart hooks at CRIU's "setup-namespaces" step), so that
  // sockets bound to or connected over 127.0.0.1 can be restored.
  std::string hook_shell = "/bin/sh";
  std::string nsenter_path = "nsenter";
  std::string ip_path = "ip";
  std::string proc_root = "/proc";
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};  // per runc invocation
  // Told "checkpoint" or "restore" when CRIU ran (its log exists) and the runtime call failed
  // (the agent's metrics). Optional.
  std::function<void(std::string_view operation)> on_criu_failure;
};

class RuncRuntime final : public Runtime {
 public:
  // Runs `runc --version`. Unavailable when runc is missing or unparseable.
  static Result<std::unique_ptr<RuncRuntime>> Create(ProcessRunner* runner, RuncOptions options);
  // For tests: a known version, no probing.
  RuncRuntime(ProcessRunner* runner, RuncOptions options, RuntimeInfo info);

  const RuntimeInfo& info() const override { return info_; }
  const RuncOptions& options() const { return options_; }
  std::vector<ModeSupport> ModeSupportTable() const override;
  Result<ModePlan> PlanCheckpoint(std::string_view container_id, CgroupMode mode) override;
  ModePlan PlanRestore(CgroupMode mode) const override;
  Result<ContainerState> State(std::string_view container_id) override;
  Result<std::vector<ContainerState>> List() override;
  Result<std::vector<int>> Pids(std::string_view container_id) override;
  Result<CheckpointResult> Checkpoint(const CheckpointOptions& options) override;
  Result<RestoreResult> Restore(const RestoreOptions& options) override;
  Status KillAndDelete(std::string_view container_id, std::string_view owned_bundle) override;
  Status Resume(std::string_view container_id) override;
  Result<std::unique_ptr<LazyCheckpoint>> StartLazyCheckpoint(const CheckpointOptions& options,
                                                              uint16_t page_server_port) override;
  // runc always hands CRIU the container's freezer cgroup (FreezeCgroup).
  std::string CgroupFreezingDumpLog(const CheckpointOptions& options) const override;

  // "<criu_config_dir>/<id>.conf".
  std::string OwnedConfigPath(std::string_view container_id) const;
  // The org.criu.config annotation runc will use on checkpoint (from runc's state.json of
  // the container, i.e. as created); nullopt when absent.
  Result<std::optional<std::string>> CreationCriuConfig(std::string_view container_id);

 private:
  friend class RuncLazyCheckpoint;
  struct DumpSetup {
    ProcessSpec spec;
    ModePlan plan;
    std::string criu_file;  // the checkpoint's own CRIU config file (CriuOptions)
  };
  Result<DumpSetup> PrepareDump(const CheckpointOptions& options,
                                const std::vector<std::string>& more_args);
  Status ProveDump(const CheckpointOptions& options, const DumpSetup& setup,
                   CheckpointResult& result);
  static CheckpointResult NewCheckpointResult(const CheckpointOptions& options);
  std::vector<std::string> Base() const;  // {runc, --root, root}
  // A checkpoint or restore run that failed: with CRIU's log, when CRIU ran.
  Status FailedRun(std::string_view operation, Status status, const std::string& log_path) const;
  ProcessRunner* runner_;
  RuncOptions options_;
  RuntimeInfo info_;
};

}  // namespace migrate::runtime
