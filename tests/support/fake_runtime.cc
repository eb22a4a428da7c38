#include "tests/support/fake_runtime.h"

#include <filesystem>
#include <fstream>

#include "agent/runtime/mode_plan.h"

namespace migrate::testing {

namespace fs = std::filesystem;

FakeRuntime::FakeRuntime() {
  info_.name = "runc";
  info_.version = *runtime::ParseVersion("1.1.5");
  info_.path = "/usr/sbin/runc";
}

Result<runtime::ModePlan> FakeRuntime::PlanCheckpoint(std::string_view, runtime::CgroupMode mode) {
  return runtime::PlanRuncCheckpoint(info_.version, mode, /*owned_config_file=*/true);
}

runtime::ModePlan FakeRuntime::PlanRestore(runtime::CgroupMode mode) const {
  return runtime::PlanRuncRestore(info_.version, mode);
}

Result<runtime::ContainerState> FakeRuntime::State(std::string_view id) {
  if (before_state) before_state();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = containers.find(std::string(id));
  if (it == containers.end()) return Status::NotFound("container " + std::string(id));
  return it->second;
}

Result<std::vector<runtime::ContainerState>> FakeRuntime::List() {
  std::lock_guard<std::mutex> lock(mutex);
  std::vector<runtime::ContainerState> out;
  for (const auto& [id, state] : containers) out.push_back(state);
  return out;
}

Result<runtime::CheckpointResult> FakeRuntime::Checkpoint(const runtime::CheckpointOptions& o) {
  std::lock_guard<std::mutex> lock(mutex);
  checkpoints.push_back(o);
  if (during_checkpoint) during_checkpoint();
  if (!checkpoint_error.ok()) return checkpoint_error;
  // What CRIU would leave: image files, written one after the other.
  fs::create_directories(o.image_dir);
  for (int i = 0; i < 3; ++i) {
    std::ofstream(o.image_dir + "/pages-" + std::to_string(i) + ".img")
        << std::string(100000 + i, static_cast<char>('a' + i));
  }
  std::ofstream(o.image_dir + "/inventory.img") << "inventory";
  containers.erase(o.container_id);  // runc destroys a checkpointed container
  runtime::CheckpointResult result;
  result.image_dir = o.image_dir;
  result.work_dir = o.work_dir;
  result.dump_mode.requested = o.cgroup_mode;
  result.dump_mode.effective = o.cgroup_mode;
  result.dump_mode.evidence = "fake dump.log";
  result.started = std::chrono::system_clock::now();
  return result;
}

Result<runtime::RestoreResult> FakeRuntime::Restore(const runtime::RestoreOptions& o) {
  std::lock_guard<std::mutex> lock(mutex);
  restores.push_back(o);
  if (!restore_error.ok()) return restore_error;
  if (containers.count(o.container_id) != 0) {
    return Status::AlreadyExists("container " + o.container_id + " already exists");
  }
  if (!fs::exists(o.image_dir + "/inventory.img")) {
    return Status::NotFound("no checkpoint images in " + o.image_dir);
  }
  containers[o.container_id] = {o.container_id, "running", 4242, o.bundle_dir};
  runtime::RestoreResult result;
  result.work_dir = o.work_dir;
  result.restore_mode.requested = o.cgroup_mode;
  result.restore_mode.effective = o.cgroup_mode;
  result.init_pid = 4242;
  result.running_at = std::chrono::system_clock::now();
  return result;
}

Status FakeRuntime::KillAndDelete(std::string_view id, std::string_view owned_bundle) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = containers.find(std::string(id));
  if (it == containers.end()) return Status::Ok();
  if (!runtime::SameBundle(it->second.bundle, owned_bundle)) {
    return Status::FailedPrecondition("container " + std::string(id) + " is not from " +
                                      std::string(owned_bundle));
  }
  killed.emplace_back(id);
  containers.erase(it);
  return Status::Ok();
}

Status FakeRuntime::Resume(std::string_view id) {
  std::lock_guard<std::mutex> lock(mutex);
  resumed.emplace_back(id);
  auto it = containers.find(std::string(id));
  if (it == containers.end()) return Status::NotFound("container " + std::string(id));
  it->second.status = "running";
  return Status::Ok();
}

void FakeRuntime::AddRunning(const std::string& id, const std::string& bundle) {
  std::lock_guard<std::mutex> lock(mutex);
  containers[id] = {id, "running", 100, bundle};
}

std::string FakeRuntime::StatusOf(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex);
  auto it = containers.find(id);
  return it == containers.end() ? "absent" : it->second.status;
}

Result<runtime::ProcessResult> FakeCriuRunner::Run(const runtime::ProcessSpec& spec) {
  runtime::ProcessResult result;
  result.exit_code = 0;
  const auto& a = spec.argv;
  if (a.size() >= 2 && a[1] == "--version") {
    result.stdout_text = "Version: 4.1.1\n";
  } else if (a.size() >= 2 && a[1] == "check") {
    result.stdout_text = "Looks good.\n";
  } else if (a.size() >= 5 && a[1] == "cpuinfo" && a[2] == "dump") {
    std::ofstream(a[4] + "/cpuinfo.img") << "fake cpuinfo";
  } else if (a.size() >= 5 && a[1] == "cpuinfo" && a[2] == "check") {
    result.exit_code = cpu_mismatch ? 1 : 0;
    if (cpu_mismatch) result.stderr_text = "CPU mismatch";
  } else {
    result.exit_code = 127;
    result.stderr_text = "unexpected command";
  }
  return result;
}

}  // namespace migrate::testing
