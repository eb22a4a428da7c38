// Real runc + CRIU on this machine (label runtime; needs root). Each test builds its own
// busybox rootfs, starts a container that counts into /count, and cleans up containers,
// cgroup dirs and files even when it fails.
#include <gtest/gtest.h>

#include <thread>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "agent/runtime/criu.h"
#include "agent/runtime/criu_log.h"
#include "agent/runtime/criu_stats.h"
#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"
#include "agent/runtime/loopback.h"
#include "agent/runtime/node_probe.h"
#include "agent/runtime/oci_config.h"
#include "agent/runtime/posix_process_runner.h"
#include "agent/runtime/runc_runtime.h"
#include "tests/support/container_sandbox.h"
#include "tests/support/poll.h"

namespace migrate::runtime {
namespace {

using namespace std::chrono_literals;
using testing::BundleOptions;
using testing::ContainerSandbox;
using testing::ReadCount;
using testing::WaitForCountAbove;

class RuntimeRealTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0) << "runtime tests drive runc and CRIU and need root";
    Result<std::unique_ptr<ContainerSandbox>> sandbox = ContainerSandbox::Create(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), &runner_);
    ASSERT_TRUE(sandbox.ok()) << sandbox.status().ToString();
    sandbox_ = std::move(sandbox).value();
    RuncOptions options;
    options.root = sandbox_->runc_root();
    options.criu_config_dir = sandbox_->dir() + "/criu-conf";
    // MIGRATE_TEST_CRIU: another CRIU binary for runc 1.1 (`runc --criu`), e.g. a patched one.
    if (const char* criu = std::getenv("MIGRATE_TEST_CRIU"); criu != nullptr) {
      options.criu_path = criu;
    }
    Result<std::unique_ptr<RuncRuntime>> runtime = RuncRuntime::Create(&runner_, options);
    ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
    runtime_ = std::move(runtime).value();
  }
  void TearDown() override {
    if (sandbox_) {
      Status s = sandbox_->Cleanup();
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
  }

  // Starts a counting container; `owned_annotation`: created as migrate creates containers
  // (org.criu.config naming the runtime's per-container file).
  std::string StartCounting(const std::string& id, bool owned_annotation = true) {
    BundleOptions options;
    options.cgroups_path = sandbox_->CgroupPath(id);
    if (owned_annotation) options.criu_config = runtime_->OwnedConfigPath(id);
    Result<std::string> bundle = sandbox_->MakeCountingBundle(id, options);
    EXPECT_TRUE(bundle.ok()) << bundle.status().ToString();
    if (!bundle.ok()) return {};
    Status run = sandbox_->RunDetached(id, *bundle);
    EXPECT_TRUE(run.ok()) << run.ToString();
    Result<long> count = WaitForCountAbove(*bundle, 3, 10s);
    EXPECT_TRUE(count.ok()) << count.status().ToString();
    return *bundle;
  }

  Result<CheckpointResult> Checkpoint(const std::string& id, CgroupMode mode,
                                      const std::string& tag) {
    CheckpointOptions options;
    options.container_id = id;
    options.image_dir = sandbox_->dir() + "/images-" + tag;
    options.work_dir = sandbox_->dir() + "/work-" + tag;
    options.cgroup_mode = mode;
    return runtime_->Checkpoint(options);
  }

  Result<RestoreResult> Restore(const std::string& id, const std::string& bundle, CgroupMode mode,
                                const std::string& tag,
                                std::optional<std::string> cgroups_path = std::nullopt) {
    sandbox_->TrackContainer(id);
    RestoreOptions options;
    options.container_id = id;
    options.image_dir = sandbox_->dir() + "/images-" + tag;
    options.work_dir = sandbox_->dir() + "/restore-work-" + tag;
    options.bundle_dir = bundle;
    options.cgroup_mode = mode;
    options.cgroups_path = std::move(cgroups_path);
    return runtime_->Restore(options);
  }

  // `runc restore` run by hand (not through RuncRuntime), for the controls that document
  // runtime and CRIU behaviour. Returns CRIU's finding from restore.log.
  Result<RestoreLogFinding> RawRestore(const std::string& id, const std::string& bundle,
                                       const std::string& image_dir,
                                       std::vector<std::string> extra_args, std::string* log_text) {
    sandbox_->TrackContainer(id);
    std::string work = sandbox_->dir() + "/raw-restore-work-" + id;
    MIGRATE_RETURN_IF_ERROR(MakeDirs(work));
    ProcessSpec spec;
    spec.argv = {"runc",         "--root",  sandbox_->runc_root(), "restore", "--detach",
                 "--image-path", image_dir, "--work-path",         work,      "--bundle",
                 bundle};
    spec.argv.insert(spec.argv.end(), extra_args.begin(), extra_args.end());
    spec.argv.push_back(id);
    spec.timeout = 60s;
    MIGRATE_RETURN_IF_ERROR(RunChecked(runner_, spec).status());
    MIGRATE_ASSIGN_OR_RETURN(*log_text, ReadFile(work + "/restore.log"));
    return ParseRestoreLogMode(*log_text);
  }

  // After a restore: the count goes on from where the checkpoint left it.
  void ExpectCountContinues(const std::string& bundle, long at_checkpoint) {
    Result<long> first = ReadCount(bundle);
    ASSERT_TRUE(first.ok());
    EXPECT_GE(*first, at_checkpoint) << "restarted from scratch?";
    Result<long> later = WaitForCountAbove(bundle, at_checkpoint + 3, 10s);
    ASSERT_TRUE(later.ok()) << later.status().ToString();
  }

  // Every line of /proc/<pid>/cgroup names exactly `path`.
  static void ExpectAllIn(const std::vector<std::string>& lines, const std::string& path) {
    ASSERT_FALSE(lines.empty());
    for (const std::string& line : lines) {
      size_t colon = line.find(':', line.find(':') + 1);
      ASSERT_NE(colon, std::string::npos) << line;
      EXPECT_EQ(line.substr(colon + 1), path) << line;
    }
  }

  PosixProcessRunner runner_;
  std::unique_ptr<ContainerSandbox> sandbox_;
  std::unique_ptr<RuncRuntime> runtime_;
};

class RuntimeModeTest : public RuntimeRealTest, public ::testing::WithParamInterface<CgroupMode> {};

TEST_P(RuntimeModeTest, CheckpointRestoreCountContinuesInTheRequestedMode) {
  const CgroupMode mode = GetParam();
  const std::string id = "count-" + std::string(CgroupModeName(mode));
  std::string bundle = StartCounting(id);
  ASSERT_FALSE(bundle.empty());

  Result<CheckpointResult> dump = Checkpoint(id, mode, "1");
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();
  EXPECT_EQ(dump->dump_mode.effective, mode)
      << dump->dump_mode.evidence << " / " << dump->dump_mode.note;
  EXPECT_EQ(dump->cgroup_image_dirs == 0, mode == CgroupMode::kIgnore) << dump->dump_mode.evidence;
  EXPECT_EQ(runtime_->State(id).status().code(), StatusCode::kNotFound) << "dump stops it";
  Result<long> at_checkpoint = ReadCount(bundle);
  ASSERT_TRUE(at_checkpoint.ok());

  Result<RestoreResult> restored = Restore(id, bundle, mode, "1");
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->restore_mode.requested, mode);
  EXPECT_EQ(restored->restore_mode.effective, mode) << restored->restore_mode.evidence;
  Result<std::string> log = ReadFile(restored->log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(ParseRestoreLogMode(*log)->mode, mode) << "independent re-read of restore.log";
  EXPECT_GT(restored->init_pid, 0);
  EXPECT_TRUE(restored->loopback.checked);
  EXPECT_TRUE(restored->loopback.up) << restored->loopback.detail;
  EXPECT_TRUE(restored->loopback.has_ipv4) << restored->loopback.detail;
  ExpectAllIn(restored->cgroups, sandbox_->CgroupPath(id));
  ExpectCountContinues(bundle, *at_checkpoint);
  // CRIU's own account, as the agent reports it: real CRIU writes both stats images into its
  // work directory.
  Result<criu::StatsEntry> dump_stats = ReadCriuStats(sandbox_->dir() + "/work-1", "stats-dump");
  ASSERT_TRUE(dump_stats.ok()) << dump_stats.status().ToString();
  EXPECT_GT(dump_stats->dump().frozen_time(), 0u);
  EXPECT_GT(dump_stats->dump().pages_written(), 0u);
  Result<criu::StatsEntry> restore_stats =
      ReadCriuStats(sandbox_->dir() + "/restore-work-1", "stats-restore");
  ASSERT_TRUE(restore_stats.ok()) << restore_stats.status().ToString();
  EXPECT_GT(restore_stats->restore().restore_time(), 0u);
  std::cout << "[ " << CgroupModeName(mode) << " ] dump " << dump->checkpoint_duration.count()
            << " ms, restore " << restored->restore_duration.count()
            << " ms; dump: " << dump->dump_mode.evidence
            << "; restore: " << restored->restore_mode.evidence << "\n";
}

INSTANTIATE_TEST_SUITE_P(Modes, RuntimeModeTest,
                         ::testing::Values(CgroupMode::kIgnore, CgroupMode::kSoft,
                                           CgroupMode::kFull),
                         [](const auto& p) { return std::string(CgroupModeName(p.param)); });

TEST_F(RuntimeRealTest, IgnoreIntoNewCgroupPathPutsEveryProcessThere) {
  std::string bundle = StartCounting("mover");
  ASSERT_FALSE(bundle.empty());
  Result<CheckpointResult> dump = Checkpoint("mover", CgroupMode::kIgnore, "1");
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();
  Result<long> at_checkpoint = ReadCount(bundle);
  ASSERT_TRUE(at_checkpoint.ok());

  const std::string moved = sandbox_->CgroupPath("moved-here");
  Result<RestoreResult> restored = Restore("mover", bundle, CgroupMode::kIgnore, "1", moved);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->restore_mode.effective, CgroupMode::kIgnore);
  ExpectAllIn(restored->cgroups, moved);
  Result<std::vector<int>> pids = runtime_->Pids("mover");
  ASSERT_TRUE(pids.ok()) << pids.status().ToString();
  ASSERT_FALSE(pids->empty());
  for (int pid : *pids) {
    Result<std::vector<std::string>> lines = ProcessCgroups(pid);
    if (!lines.ok()) continue;  // a short-lived usleep/mv that already exited
    ExpectAllIn(*lines, moved);
  }
  ExpectCountContinues(bundle, *at_checkpoint);

  // The restored container carries migrate's org.criu.config: a second checkpoint can run
  // ignore at dump time too, and ignore images restore in soft.
  Result<CheckpointResult> again = Checkpoint("mover", CgroupMode::kIgnore, "2");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->dump_mode.effective, CgroupMode::kIgnore) << again->dump_mode.evidence;
  EXPECT_EQ(again->cgroup_image_dirs, 0);
  Result<long> second_checkpoint = ReadCount(bundle);
  ASSERT_TRUE(second_checkpoint.ok());
  Result<RestoreResult> soft = Restore("mover", bundle, CgroupMode::kSoft, "2");
  ASSERT_TRUE(soft.ok()) << soft.status().ToString();
  EXPECT_EQ(soft->restore_mode.effective, CgroupMode::kSoft);
  ExpectAllIn(soft->cgroups, moved);
  ExpectCountContinues(bundle, *second_checkpoint);
}

TEST_F(RuntimeRealTest, StrictIsRefusedUpFrontAndTheContainerRunsOn) {
  std::string bundle = StartCounting("strict");
  ASSERT_FALSE(bundle.empty());
  ModePlan plan = runtime_->PlanRestore(CgroupMode::kStrict);
  ASSERT_FALSE(plan.allowed());
  EXPECT_NE(plan.reason.find("runc creates"), std::string::npos) << plan.reason;
  EXPECT_NE(plan.reason.find("aborts on any existing cgroup"), std::string::npos);

  // A restore asked in strict is refused before runc runs (nothing to restore over).
  Result<RestoreResult> restored = Restore("strict-copy", bundle, CgroupMode::kStrict, "none");
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(restored.status().message().find("strict cannot be honoured"), std::string::npos);

  Result<ContainerState> state = runtime_->State("strict");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->status, "running");
  Result<long> now = ReadCount(bundle);
  ASSERT_TRUE(now.ok());
  EXPECT_TRUE(WaitForCountAbove(bundle, *now + 2, 10s).ok()) << "untouched, still counting";
}

// The original bug, on the installed runc. Through the runtime layer, ignore really runs
// ignore (CRIU config file). The control below shows what the plain flag does.
TEST_F(RuntimeRealTest, RegressionIgnoreReallyRunsIgnore) {
  std::string bundle = StartCounting("regress", /*owned_annotation=*/false);
  ASSERT_FALSE(bundle.empty());
  Result<CheckpointResult> dump = Checkpoint("regress", CgroupMode::kSoft, "1");
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();
  Result<long> at_checkpoint = ReadCount(bundle);
  ASSERT_TRUE(at_checkpoint.ok());
  Result<RestoreResult> restored = Restore("regress", bundle, CgroupMode::kIgnore, "1");
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  Result<std::string> log = ReadFile(restored->log_path);
  ASSERT_TRUE(log.ok());
  EXPECT_FALSE(FindLogLine(*log, "Preparing cgroups yard").has_value())
      << "CRIU ran a managed mode: " << *FindLogLine(*log, "Preparing cgroups yard");
  EXPECT_EQ(restored->restore_mode.effective, CgroupMode::kIgnore);
  if (!runtime_->info().version.AtLeast(1, 3, 0)) {
    EXPECT_EQ(runtime_->PlanRestore(CgroupMode::kIgnore).mechanism, ModeMechanism::kCriuConfigFile);
    EXPECT_FALSE(ConfigFilesParsed(*log).empty()) << "the config file must have been read";
  }
  ExpectCountContinues(bundle, *at_checkpoint);
}

// Documents the runtime bug: `runc restore --manage-cgroups-mode ignore` without the config
// file. runc < 1.3 never passes the mode, so CRIU runs soft; runc >= 1.3 passes it.
TEST_F(RuntimeRealTest, PlainFlagRestoreOnInstalledRunc) {
  std::string bundle = StartCounting("plainflag", /*owned_annotation=*/false);
  ASSERT_FALSE(bundle.empty());
  Result<CheckpointResult> dump = Checkpoint("plainflag", CgroupMode::kSoft, "1");
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();

  std::string log;
  Result<RestoreLogFinding> finding =
      RawRestore("plainflag", bundle, dump->image_dir, {"--manage-cgroups-mode", "ignore"}, &log);
  ASSERT_TRUE(finding.ok()) << finding.status().ToString();
  if (runtime_->info().version.AtLeast(1, 3, 0)) {
    EXPECT_EQ(finding->mode, CgroupMode::kIgnore) << finding->evidence;
  } else {
    EXPECT_EQ(finding->mode, CgroupMode::kSoft)
        << "runc " << runtime_->info().version.text
        << " now passes the restore mode: " << finding->evidence;
  }
  std::cout << "runc " << runtime_->info().version.text
            << " --manage-cgroups-mode ignore: " << finding->evidence << "\n";
}

// The config-file trap: "manage-cgroups ignore" (a space, no '=') is read without complaint
// and CRIU runs soft. The runtime layer always writes "manage-cgroups=<mode>".
TEST_F(RuntimeRealTest, WhitespaceConfigFileTrapYieldsSoft) {
  std::string bundle = StartCounting("trap", /*owned_annotation=*/false);
  ASSERT_FALSE(bundle.empty());
  Result<CheckpointResult> dump = Checkpoint("trap", CgroupMode::kSoft, "1");
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();
  std::string conf = sandbox_->dir() + "/trap.conf";
  ASSERT_TRUE(WriteFileAtomic(conf, "manage-cgroups ignore\n").ok());
  Result<OciConfig> config = OciConfig::Load(bundle + "/config.json");
  ASSERT_TRUE(config.ok());
  config->set_annotation(kCriuConfigAnnotation, conf);
  ASSERT_TRUE(config->Save(bundle + "/config.json").ok());

  std::string log;
  Result<RestoreLogFinding> finding = RawRestore("trap", bundle, dump->image_dir, {}, &log);
  ASSERT_TRUE(finding.ok()) << finding.status().ToString();
  EXPECT_EQ(ConfigFilesParsed(log), std::vector<std::string>{conf}) << "CRIU did read it";
  EXPECT_EQ(finding->mode, CgroupMode::kSoft) << finding->evidence;
  EXPECT_EQ(CriuConfigForMode(CgroupMode::kIgnore), "manage-cgroups=ignore\n");
}

TEST_F(RuntimeRealTest, IgnoreCheckpointOfAForeignContainerSaysItDumpedSoft) {
  std::string bundle = StartCounting("foreign", /*owned_annotation=*/false);
  ASSERT_FALSE(bundle.empty());
  Result<CheckpointResult> dump = Checkpoint("foreign", CgroupMode::kIgnore, "1");
  ASSERT_TRUE(dump.ok()) << dump.status().ToString();
  if (runtime_->info().version.AtLeast(1, 3, 0)) {
    EXPECT_EQ(dump->dump_mode.effective, CgroupMode::kIgnore);
  } else {
    EXPECT_EQ(dump->dump_mode.effective, CgroupMode::kSoft) << dump->dump_mode.evidence;
    EXPECT_GT(dump->cgroup_image_dirs, 0);
    EXPECT_NE(dump->dump_mode.note.find("dump side cannot run ignore"), std::string::npos);
  }
  // Soft images restore in ignore all the same.
  Result<long> at_checkpoint = ReadCount(bundle);
  ASSERT_TRUE(at_checkpoint.ok());
  Result<RestoreResult> restored = Restore("foreign", bundle, CgroupMode::kIgnore, "1");
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->restore_mode.effective, CgroupMode::kIgnore);
  ExpectCountContinues(bundle, *at_checkpoint);
}

// An established TCP connection over the container's own loopback, checkpointed with
// tcp_established: a client streams its counter through 127.0.0.1 to a server in the same
// container, which writes what it receives to /rx.
//
// CRIU 4.1.1 cannot dump any inet socket on Linux >= 6.16 (getsockopt SO_PASSCRED /
// SO_PASSSEC now fail with EOPNOTSUPP on inet sockets: "Can't get 1:16 opt"; CRIU issues
// #2705/#2718, fixed upstream after 4.1.1; scripts/install-deps.sh builds CRIU with a fix).
// The connection must survive the restore (whose loopback bring-up it needs).
TEST_F(RuntimeRealTest, EstablishedTcpOverLoopback) {
  const std::string id = "tcp";
  BundleOptions options;
  options.cgroups_path = sandbox_->CgroupPath(id);
  options.criu_config = runtime_->OwnedConfigPath(id);
  // The server's stdin never ends (busybox nc quits at stdin EOF); the client starts once the
  // server listens (port 5000 = 0x1388, state 0A = LISTEN).
  options.script =
      "sleep 999999 | nc -l -p 5000 | while read l; do echo $l > /rx.tmp; mv /rx.tmp /rx; done & "
      "while ! cat /proc/net/tcp /proc/net/tcp6 | grep -q ':1388 0*:0000 0A'; do usleep 20000; "
      "done; i=0; while true; do i=$((i+1)); echo $i; usleep 50000; done | nc 127.0.0.1 5000";
  Result<std::string> bundle = sandbox_->MakeCountingBundle(id, options);
  ASSERT_TRUE(bundle.ok()) << bundle.status().ToString();
  ASSERT_TRUE(sandbox_->RunDetached(id, *bundle).ok());
  ASSERT_TRUE(WaitForCountAbove(*bundle, 3, 10s, "rx").ok()) << "no data over TCP";

  CheckpointOptions ckpt;
  ckpt.container_id = id;
  ckpt.image_dir = sandbox_->dir() + "/images-tcp";
  ckpt.work_dir = sandbox_->dir() + "/work-tcp";
  ckpt.cgroup_mode = CgroupMode::kSoft;
  ckpt.criu.tcp_established = true;
  Result<CheckpointResult> dump = runtime_->Checkpoint(ckpt);
  // scripts/install-deps.sh builds CRIU with the fix; a stock 4.1.1 fails here with
  // "sockets: Can't get 1:16 opt: Operation not supported".
  ASSERT_TRUE(dump.ok()) << dump.status().ToString()
                         << " (a CRIU without the inet-socket fix? run scripts/install-deps.sh)";
  Result<long> at_checkpoint = ReadCount(*bundle, "rx");
  ASSERT_TRUE(at_checkpoint.ok());

  RestoreOptions rest;
  rest.container_id = id;
  rest.image_dir = ckpt.image_dir;
  rest.work_dir = sandbox_->dir() + "/restore-work-tcp";
  rest.bundle_dir = *bundle;
  rest.cgroup_mode = CgroupMode::kSoft;
  rest.criu.tcp_established = true;
  sandbox_->TrackContainer(id);
  Result<RestoreResult> restored = runtime_->Restore(rest);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_TRUE(restored->loopback.up && restored->loopback.has_ipv4) << restored->loopback.detail;
  Result<long> later = WaitForCountAbove(*bundle, *at_checkpoint + 5, 15s, "rx");
  EXPECT_TRUE(later.ok()) << later.status().ToString() << " (the connection did not resume)";
}

TEST_F(RuntimeRealTest, StatePidsSizesAndCleanup) {
  std::string bundle = StartCounting("facts");
  ASSERT_FALSE(bundle.empty());
  Result<ContainerState> state = runtime_->State("facts");
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->status, "running");
  EXPECT_EQ(state->bundle, bundle);
  EXPECT_GT(state->init_pid, 0);
  Result<std::vector<int>> pids = runtime_->Pids("facts");
  ASSERT_TRUE(pids.ok());
  EXPECT_NE(std::find(pids->begin(), pids->end(), state->init_pid), pids->end());
  EXPECT_GT(ProcessesRssBytes(*pids), 0u);
  Result<uint64_t> rootfs = TreeBytes(bundle + "/rootfs");
  ASSERT_TRUE(rootfs.ok());
  struct stat st;
  ASSERT_EQ(::stat("/bin/busybox", &st), 0);
  EXPECT_GE(*rootfs, static_cast<uint64_t>(st.st_size));
  Result<uint64_t> free_bytes = FreeBytes(sandbox_->dir());
  ASSERT_TRUE(free_bytes.ok());
  EXPECT_GT(*free_bytes, 0u);
  EXPECT_EQ(runtime_->State("no-such-container").status().code(), StatusCode::kNotFound);

  Status not_ours = runtime_->KillAndDelete("facts", "/some/other/bundle");
  EXPECT_EQ(not_ours.code(), StatusCode::kFailedPrecondition) << not_ours.ToString();
  EXPECT_EQ(runtime_->State("facts")->status, "running") << "a container of another bundle";
  ASSERT_TRUE(runtime_->KillAndDelete("facts", state->bundle).ok());
  EXPECT_EQ(runtime_->State("facts").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(runtime_->KillAndDelete("facts", state->bundle).ok()) << "idempotent";
  // The sandbox removes the cgroup dirs runc left behind, under every hierarchy.
  std::string cgroup = sandbox_->CgroupPath("facts");
  ASSERT_TRUE(sandbox_->Cleanup().ok());
  for (const std::string& mount : testing::CgroupMountPoints()) {
    EXPECT_NE(::access((mount + cgroup).c_str(), F_OK), 0) << mount + cgroup;
    std::string parent = mount + cgroup.substr(0, cgroup.rfind('/'));
    EXPECT_NE(::access(parent.c_str(), F_OK), 0) << parent;
  }
}

// What a dump killed half-way leaves: a frozen container. Resume thaws it and it counts on.
TEST_F(RuntimeRealTest, PausedContainerResumesAndCountsOn) {
  std::string bundle = StartCounting("frozen");
  ASSERT_FALSE(bundle.empty());
  ProcessSpec pause;
  pause.argv = {"runc", "--root", sandbox_->runc_root(), "pause", "frozen"};
  pause.timeout = 30s;
  ASSERT_TRUE(RunChecked(runner_, pause).ok());
  ASSERT_EQ(runtime_->State("frozen")->status, "paused");
  Result<long> frozen_at = ReadCount(bundle);
  ASSERT_TRUE(frozen_at.ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(*ReadCount(bundle), *frozen_at) << "a paused container counted";
  ASSERT_TRUE(runtime_->Resume("frozen").ok());
  EXPECT_EQ(runtime_->State("frozen")->status, "running");
  Result<long> later = WaitForCountAbove(bundle, *frozen_at + 3, 10s);
  EXPECT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ(runtime_->Resume("frozen").code(), StatusCode::kFailedPrecondition)
      << "resuming a running container is an error";
}

TEST_F(RuntimeRealTest, ProbeAndCpuinfo) {
  Criu criu(&runner_);
  NodeProbeOptions options;
  options.node_name = "test-node";
  Result<proto::Capabilities> caps = ProbeNode(*runtime_, criu, options);
  ASSERT_TRUE(caps.ok()) << caps.status().ToString();
  EXPECT_EQ(caps->runtime_name(), "runc");
  EXPECT_EQ(caps->runtime_version(), runtime_->info().version.ToString());
  EXPECT_TRUE(caps->criu_check_ok()) << caps->criu_check_output();
  EXPECT_FALSE(caps->criu_version().empty());
  EXPECT_FALSE(caps->kernel_version().empty());
  // Independent reading of the layout: a v2 root has cgroup.controllers at /sys/fs/cgroup.
  bool v2_root = ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
  if (v2_root) {
    EXPECT_EQ(caps->cgroup_layout(), proto::CGROUP_LAYOUT_V2);
  } else {
    EXPECT_NE(caps->cgroup_layout(), proto::CGROUP_LAYOUT_V2);
    EXPECT_NE(caps->cgroup_layout(), proto::CGROUP_LAYOUT_UNSPECIFIED);
  }
  EXPECT_EQ(caps->cgroup_modes_size(), 6);
  std::cout << FormatCapabilities(*caps);

  Result<std::string> cpuinfo = criu.CpuinfoDumpBytes();
  ASSERT_TRUE(cpuinfo.ok()) << cpuinfo.status().ToString();
  EXPECT_FALSE(cpuinfo->empty());
  Result<CriuCheck> same = criu.CpuinfoCheckBytes(*cpuinfo);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_TRUE(same->ok) << same->output;
}

}  // namespace
}  // namespace migrate::runtime
