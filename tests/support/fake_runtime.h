// A fake container runtime for unit tests of the agent: containers are entries in a map,
// checkpoint writes image files and removes the container, restore adds it from the bundle.
// Mode plans are the real pure functions of runc 1.1.5. Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "agent/runtime/criu.h"
#include "agent/runtime/process_runner.h"
#include "agent/runtime/runtime.h"

namespace migrate::testing {

class FakeRuntime final : public runtime::Runtime {
 public:
  FakeRuntime();
  const runtime::RuntimeInfo& info() const override { return info_; }
  std::vector<runtime::ModeSupport> ModeSupportTable() const override { return {}; }
  Result<runtime::ModePlan> PlanCheckpoint(std::string_view, runtime::CgroupMode mode) override;
  runtime::ModePlan PlanRestore(runtime::CgroupMode mode) const override;
  Result<runtime::ContainerState> State(std::string_view id) override;
  Result<std::vector<runtime::ContainerState>> List() override;
  Result<std::vector<int>> Pids(std::string_view) override { return std::vector<int>{}; }
  Result<runtime::CheckpointResult> Checkpoint(const runtime::CheckpointOptions& o) override;
  Result<runtime::RestoreResult> Restore(const runtime::RestoreOptions& o) override;
  Status KillAndDelete(std::string_view id, std::string_view owned_bundle) override;
  Status Resume(std::string_view id) override;
  std::string CgroupFreezingDumpLog(const runtime::CheckpointOptions&) const override {
    return cgroup_freezing_dump_log;
  }

  void AddRunning(const std::string& id, const std::string& bundle);
  // The container's status, or "absent".
  std::string StatusOf(const std::string& id);

  std::mutex mutex;
  runtime::RuntimeInfo info_;
  std::map<std::string, runtime::ContainerState> containers;
  std::vector<runtime::CheckpointOptions> checkpoints;
  std::vector<runtime::RestoreOptions> restores;
  std::vector<std::string> killed;
  std::vector<std::string> resumed;
  Status checkpoint_error;
  Status restore_error;
  std::string cgroup_freezing_dump_log;  // "" as for a CRIU that may seize with ptrace alone
  std::function<void()> during_checkpoint;  // runs inside Checkpoint (the freeze)
  std::function<void()> before_state;       // runs at the start of every State() call
};

// CRIU 4.1.1 that passes every check.
class FakeCriuRunner final : public runtime::ProcessRunner {
 public:
  Result<runtime::ProcessResult> Run(const runtime::ProcessSpec& spec) override;
  bool cpu_mismatch = false;
};

}  // namespace migrate::testing
