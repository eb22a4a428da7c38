// RuncRuntime against a scripted runc (FakeProcessRunner) and real CRIU logs from testdata/:
// which argv reaches runc, what is written where, and what is concluded from the logs.
#include "agent/runtime/runc_runtime.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <functional>

#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"
#include "agent/runtime/oci_config.h"
#include "tests/support/fake_process_runner.h"

namespace migrate::runtime {
namespace {

using testing::FakeProcessRunner;

std::string Data(const std::string& name) {
  return *ReadFile(std::string(MIGRATE_RUNTIME_TESTDATA) + "/" + name);
}

bool Has(const std::vector<std::string>& argv, const std::string& word) {
  return std::find(argv.begin(), argv.end(), word) != argv.end();
}

// The value after `flag` in argv.
std::string After(const std::vector<std::string>& argv, const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it != argv.end() && it + 1 != argv.end() ? *(it + 1) : std::string();
}

class RuncRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runc-runtime-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MakeDirs(dir_ + "/bundle/rootfs").ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/bundle/config.json",
                                R"({"ociVersion":"1.0.2","linux":{"cgroupsPath":"/a/c1",)"
                                R"("namespaces":[{"type":"pid"},{"type":"network"}]}})")
                    .ok());
    ASSERT_TRUE(MakeDirs(dir_ + "/images").ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/images/inventory.img", "x").ok());
    // A fake /proc: the restored init (pid 4242) and our own net namespace.
    ASSERT_TRUE(MakeDirs(dir_ + "/proc/4242/ns").ok());
    ASSERT_TRUE(MakeDirs(dir_ + "/proc/self/ns").ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/proc/4242/cgroup", "4:memory:/b/c1\n0::/b/c1\n").ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/proc/self/ns/net", "").ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/proc/4242/ns/net", "").ok());
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }

  RuncRuntime Make(const char* version,
                   std::function<void(std::string_view)> on_criu_failure = nullptr) {
    RuncOptions options;
    options.on_criu_failure = std::move(on_criu_failure);
    options.root = dir_ + "/runc-root";
    options.criu_config_dir = dir_ + "/criu-conf";
    options.proc_root = dir_ + "/proc";
    return RuncRuntime(&runner_, options, RuntimeInfo{"runc", *ParseVersion(version), "runc"});
  }

  // `runc state c1`: absent until `restore` ran, then running as pid 4242.
  void ScriptRestore(const std::string& restore_log) {
    runner_.On({"state", "c1"}, [this](const ProcessSpec&) {
      if (!restored_) {
        return Result<ProcessResult>(FakeProcessRunner::Exit(
            1, "", "time=\"x\" level=error msg=\"container does not exist\"\n"));
      }
      return Result<ProcessResult>(FakeProcessRunner::Exit(
          0, R"({"id":"c1","pid":4242,"status":"running","bundle":")" + dir_ + "/bundle\"}"));
    });
    runner_.On({"restore"}, [this, restore_log](const ProcessSpec& spec) {
      EXPECT_TRUE(
          WriteFileAtomic(After(spec.argv, "--work-path") + "/restore.log", restore_log).ok());
      restored_ = true;
      return Result<ProcessResult>(FakeProcessRunner::Exit(0));
    });
    runner_.OnExit({"kill"}, 0);
    runner_.OnExit({"delete"}, 0);
    runner_.OnExit({"nsenter", "set", "lo", "up"}, 0);
    runner_.OnExit({"nsenter", "link", "show"}, 0,
                   "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n");
    runner_.OnExit({"nsenter", "addr", "show"}, 0, "1: lo    inet 127.0.0.1/8 scope host lo\n");
  }

  RestoreOptions Restore(CgroupMode mode) {
    RestoreOptions o;
    o.container_id = "c1";
    o.image_dir = dir_ + "/images";
    o.work_dir = dir_ + "/work";
    o.bundle_dir = dir_ + "/bundle";
    o.cgroup_mode = mode;
    o.cgroups_path = "/b/c1";
    return o;
  }

  std::string dir_;
  FakeProcessRunner runner_;
  bool restored_ = false;
};

TEST_F(RuncRuntimeTest, StrictRestoreIsRefusedBeforeAnythingRuns) {
  RuncRuntime runtime = Make("1.1.5");
  std::string before = *ReadFile(dir_ + "/bundle/config.json");
  Result<RestoreResult> r = runtime.Restore(Restore(CgroupMode::kStrict));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("strict cannot be honoured"), std::string::npos)
      << r.status().message();
  EXPECT_TRUE(runner_.calls().empty()) << "nothing may run before the refusal";
  EXPECT_EQ(*ReadFile(dir_ + "/bundle/config.json"), before) << "bundle untouched";
}

TEST_F(RuncRuntimeTest, IgnoreOnRunc115UsesTheConfigFileAndProvesIt) {
  ScriptRestore(Data("restore-ignore-configfile.log"));
  RuncRuntime runtime = Make("1.1.5");
  RestoreOptions options = Restore(CgroupMode::kIgnore);
  Result<RestoreResult> r = runtime.Restore(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();

  std::vector<ProcessSpec> restores = runner_.CallsWith("restore");
  ASSERT_EQ(restores.size(), 1u);
  const std::vector<std::string>& argv = restores[0].argv;
  EXPECT_FALSE(Has(argv, "--manage-cgroups-mode")) << "runc 1.1.5 ignores it on restore";
  EXPECT_TRUE(Has(argv, "--detach"));
  EXPECT_EQ(After(argv, "--root"), dir_ + "/runc-root");
  EXPECT_EQ(After(argv, "--image-path"), dir_ + "/images");
  EXPECT_EQ(argv.back(), "c1");

  Result<OciConfig> config = OciConfig::Load(dir_ + "/bundle/config.json");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->cgroups_path(), "/b/c1");
  std::string owned = dir_ + "/criu-conf/c1.conf";
  EXPECT_EQ(config->annotation("org.criu.config"), owned);
  EXPECT_EQ(*ReadFile(owned), "manage-cgroups=ignore\n");
  // The loopback hook runs while CRIU restores (runc's prestart at "setup-namespaces").
  EXPECT_EQ(config->CountHooks("prestart", "migrate: loopback up during restore"), 1);
  EXPECT_NE(config->ToString().find("link set lo up"), std::string::npos);

  EXPECT_EQ(r->restore_mode.requested, CgroupMode::kIgnore);
  EXPECT_EQ(r->restore_mode.effective, CgroupMode::kIgnore);
  EXPECT_NE(r->restore_mode.mechanism.find("CRIU config file"), std::string::npos);
  EXPECT_EQ(r->init_pid, 4242);
  EXPECT_EQ(r->cgroups, (std::vector<std::string>{"4:memory:/b/c1", "0::/b/c1"}));
  // Its own network namespace (another inode than ours): loopback brought up inside it.
  std::vector<ProcessSpec> up = runner_.CallsWith("up");
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].argv, (std::vector<std::string>{"nsenter", "--net=" + dir_ + "/proc/4242/ns/net",
                                                  "ip", "link", "set", "lo", "up"}));
  EXPECT_TRUE(r->loopback.checked);
  EXPECT_TRUE(r->loopback.up);
  EXPECT_TRUE(r->loopback.has_ipv4);
}

// A received bundle may carry a hook marked as migrate's (from an earlier restore, or forged):
// it is the source's, never run here. The restore removes every marked prestart hook and adds
// this node's own only where it is needed.
TEST_F(RuncRuntimeTest, ReceivedLoopbackHookIsNeverKept) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/bundle/config.json",
                              R"({"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"pid"},)"
                              R"({"type":"network","path":"/run/netns/x"}]},"hooks":{"prestart":[)"
                              R"({"path":"/bin/sh","args":["sh","-c","# migrate: loopback up )"
                              R"(during restore\ncp /etc/shadow /tmp/x"]}]}})")
                  .ok());
  ScriptRestore(Data("restore-soft-configfile.log"));
  RuncRuntime runtime = Make("1.1.5");
  RestoreOptions options = Restore(CgroupMode::kSoft);
  ASSERT_TRUE(runtime.Restore(options).ok());
  Result<OciConfig> config = OciConfig::Load(dir_ + "/bundle/config.json");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->CountHooks("prestart", kLoopbackHookMarker), 0);
  EXPECT_EQ(config->ToString().find("/etc/shadow"), std::string::npos);
}

TEST_F(RuncRuntimeTest, EffectiveModeDifferentFromRequestedIsAnErrorNamingTheLine) {
  // The whitespace trap's real log: CRIU ran soft although ignore was asked.
  ScriptRestore(Data("restore-ignore-whitespace-trap.log"));
  RuncRuntime runtime = Make("1.1.5");
  Result<RestoreResult> r = runtime.Restore(Restore(CgroupMode::kIgnore));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("cg: Preparing cgroups yard (cgroups restore mode 0x4)"),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("not the requested ignore"), std::string::npos);
  EXPECT_FALSE(runner_.CallsWith("delete").empty()) << "the wrong restore is removed";
}

TEST_F(RuncRuntimeTest, Runc13PassesTheFlagAndNeutralisesTheFile) {
  ScriptRestore(Data("restore-full-configfile.log"));
  RuncRuntime runtime = Make("1.3.0");
  Result<RestoreResult> r = runtime.Restore(Restore(CgroupMode::kFull));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::vector<std::string> argv = runner_.CallsWith("restore")[0].argv;
  EXPECT_EQ(After(argv, "--manage-cgroups-mode"), "full");
  EXPECT_EQ(ReadFile(dir_ + "/criu-conf/c1.conf")->find("manage-cgroups"), std::string::npos);
  EXPECT_EQ(r->restore_mode.effective, CgroupMode::kFull);
}

TEST_F(RuncRuntimeTest, RestoreRefusesAnExistingContainer) {
  runner_.OnExit({"state", "c1"}, 0, R"({"id":"c1","pid":1,"status":"running","bundle":"/b"})");
  RuncRuntime runtime = Make("1.1.5");
  Result<RestoreResult> r = runtime.Restore(Restore(CgroupMode::kSoft));
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(runner_.CallsWith("restore").empty());
}

class RuncCheckpointTest : public RuncRuntimeTest {
 protected:
  // A running container whose creation-time labels are `labels` (runc's state.json).
  void ScriptCheckpoint(const std::string& labels, const std::string& dump_log,
                        const std::string& cgroup_img) {
    ASSERT_TRUE(MakeDirs(dir_ + "/runc-root/c1").ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/runc-root/c1/state.json",
                                R"({"id":"c1","config":{"labels":[)" + labels + "]}}")
                    .ok());
    runner_.OnExit({"state", "c1"}, 0, R"({"id":"c1","pid":77,"status":"running","bundle":"/b"})");
    runner_.On({"checkpoint"}, [dump_log, cgroup_img](const ProcessSpec& spec) {
      EXPECT_TRUE(WriteFileAtomic(After(spec.argv, "--work-path") + "/dump.log", dump_log).ok());
      EXPECT_TRUE(
          WriteFileAtomic(After(spec.argv, "--image-path") + "/cgroup.img", cgroup_img).ok());
      return Result<ProcessResult>(FakeProcessRunner::Exit(0));
    });
  }
  CheckpointOptions Checkpoint(CgroupMode mode) {
    CheckpointOptions o;
    o.container_id = "c1";
    o.image_dir = dir_ + "/dump-images";
    o.work_dir = dir_ + "/dump-work";
    o.cgroup_mode = mode;
    return o;
  }
};

TEST_F(RuncCheckpointTest, IgnoreWithOwnedConfigFileDumpsIgnore) {
  std::string owned = dir_ + "/criu-conf/c1.conf";
  ScriptCheckpoint("\"org.criu.config=" + owned + "\",\"bundle=/b\"",
                   Data("dump-ignore-configfile.log"), Data("cgroup-ignore.img"));
  RuncRuntime runtime = Make("1.1.5");
  Result<CheckpointResult> r = runtime.Checkpoint(Checkpoint(CgroupMode::kIgnore));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::vector<std::string> argv = runner_.CallsWith("checkpoint")[0].argv;
  EXPECT_FALSE(Has(argv, "--manage-cgroups-mode")) << "runc 1.1.5 rejects ignore";
  EXPECT_FALSE(Has(argv, "--leave-running"));
  EXPECT_EQ(*ReadFile(owned), "manage-cgroups=ignore\n");
  EXPECT_EQ(r->dump_mode.effective, CgroupMode::kIgnore);
  EXPECT_EQ(r->cgroup_image_dirs, 0);
  EXPECT_TRUE(r->dump_mode.note.empty()) << r->dump_mode.note;
}

TEST_F(RuncCheckpointTest, IgnoreWithoutOwnedFileDumpsSoftAndSaysSo) {
  ScriptCheckpoint("\"bundle=/b\"", Data("dump-soft-default.log"), Data("cgroup-soft.img"));
  RuncRuntime runtime = Make("1.1.5");
  Result<CheckpointResult> r = runtime.Checkpoint(Checkpoint(CgroupMode::kIgnore));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(Has(runner_.CallsWith("checkpoint")[0].argv, "--manage-cgroups-mode"));
  EXPECT_EQ(r->dump_mode.requested, CgroupMode::kIgnore);
  EXPECT_EQ(r->dump_mode.effective, CgroupMode::kSoft);
  EXPECT_NE(r->dump_mode.note.find("dump side cannot run ignore"), std::string::npos);
  EXPECT_GT(r->cgroup_image_dirs, 0);
  EXPECT_NE(r->dump_mode.evidence.find("cg: adding cgroup"), std::string::npos);
}

TEST_F(RuncCheckpointTest, FullUsesTheFlagAndClearsAStaleOwnedFile) {
  std::string owned = dir_ + "/criu-conf/c1.conf";
  ASSERT_TRUE(MakeDirs(dir_ + "/criu-conf").ok());
  ASSERT_TRUE(WriteFileAtomic(owned, "manage-cgroups=ignore\n").ok());  // from the restore
  ScriptCheckpoint("\"org.criu.config=" + owned + "\"", Data("dump-soft-default.log"),
                   Data("cgroup-soft.img"));
  RuncRuntime runtime = Make("1.1.5");
  CheckpointOptions options = Checkpoint(CgroupMode::kFull);
  options.leave_running = true;
  options.criu.tcp_established = true;
  Result<CheckpointResult> r = runtime.Checkpoint(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::vector<std::string> argv = runner_.CallsWith("checkpoint")[0].argv;
  EXPECT_EQ(After(argv, "--manage-cgroups-mode"), "full");
  EXPECT_TRUE(Has(argv, "--leave-running"));
  EXPECT_TRUE(Has(argv, "--tcp-established"));
  EXPECT_EQ(ReadFile(owned)->find("manage-cgroups"), std::string::npos)
      << "a stale ignore would override the flag";
  EXPECT_EQ(r->dump_mode.effective, CgroupMode::kFull);
}

// The options runc's CLI lacks reach CRIU in a file of the checkpoint's own, named by
// CRIU_CONFIG_FILE in runc's environment (criu swrk reads it before runc's RPC request).
TEST_F(RuncCheckpointTest, CriuFileOptionsGoToAConfigFileNamedInRuncsEnvironment) {
  ScriptCheckpoint("\"bundle=/b\"",
                   Data("dump-soft-default.log") + "(00.000100) Will allow link remaps on FS\n",
                   Data("cgroup-soft.img"));
  RuncRuntime runtime = Make("1.1.5");
  CheckpointOptions options = Checkpoint(CgroupMode::kSoft);
  options.criu.file_locks = true;
  options.criu.link_remap = true;
  options.criu.ghost_limit = 8 << 20;
  options.criu.no_ghost_fiemap = true;
  options.criu.skip_in_flight = true;
  Result<CheckpointResult> r = runtime.Checkpoint(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ProcessSpec spec = runner_.CallsWith("checkpoint")[0];
  const std::string file = dir_ + "/dump-work/criu-options.conf";
  EXPECT_EQ(spec.extra_env, std::vector<std::string>{"CRIU_CONFIG_FILE=" + file});
  EXPECT_EQ(*ReadFile(file),
            "# migrate: CRIU options of this checkpoint\nlink-remap\nghost-limit=8388608\n"
            "no-ghost-fiemap\nskip-in-flight\n");
  EXPECT_TRUE(Has(spec.argv, "--file-locks"));
  EXPECT_FALSE(Has(spec.argv, "--link-remap")) << "runc has no such flag";
  EXPECT_EQ(r->criu_options,
            (std::vector<std::string>{
                "file-locks: runc checkpoint --file-locks",
                "link-remap: CRIU config file " + file +
                    " (CRIU_CONFIG_FILE); CRIU's log: \"Will allow link remaps on FS\"",
                "ghost-limit=8388608: CRIU config file " + file + " (CRIU_CONFIG_FILE)",
                "no-ghost-fiemap: CRIU config file " + file + " (CRIU_CONFIG_FILE)",
                "skip-in-flight: CRIU config file " + file +
                    " (CRIU_CONFIG_FILE); NOT confirmed by CRIU's log (no \"Will skip "
                    "in-flight TCP connections\")"}));
}

TEST_F(RuncCheckpointTest, WithoutFileOptionsNoConfigFileAndNoEnvironment) {
  ScriptCheckpoint("\"bundle=/b\"", Data("dump-soft-default.log"), Data("cgroup-soft.img"));
  RuncRuntime runtime = Make("1.1.5");
  CheckpointOptions options = Checkpoint(CgroupMode::kSoft);
  options.criu.tcp_established = true;
  ASSERT_TRUE(runtime.Checkpoint(options).ok());
  EXPECT_TRUE(runner_.CallsWith("checkpoint")[0].extra_env.empty());
  EXPECT_FALSE(ReadFile(dir_ + "/dump-work/criu-options.conf").ok());
}

TEST_F(RuncCheckpointTest, RefusesAGhostLimitAboveTheMaximumBeforeAnything) {
  ScriptCheckpoint("\"bundle=/b\"", Data("dump-soft-default.log"), Data("cgroup-soft.img"));
  RuncRuntime runtime = Make("1.1.5");
  CheckpointOptions options = Checkpoint(CgroupMode::kSoft);
  options.criu.ghost_limit = kMaxGhostLimitBytes + 1;
  Result<CheckpointResult> r = runtime.Checkpoint(options);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("ghost-limit"), std::string::npos) << r.status().ToString();
  EXPECT_TRUE(runner_.calls().empty()) << "not even runc state";
}

TEST_F(RuncCheckpointTest, RefusesWhatIsNotRunningBeforeTheFreeze) {
  ASSERT_TRUE(MakeDirs(dir_ + "/runc-root/c1").ok());
  runner_.OnExit({"state", "c1"}, 0, R"({"id":"c1","pid":0,"status":"stopped","bundle":"/b"})");
  RuncRuntime runtime = Make("1.1.5");
  Result<CheckpointResult> r = runtime.Checkpoint(Checkpoint(CgroupMode::kSoft));
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(runner_.CallsWith("checkpoint").empty());
}

// A failed checkpoint counts as a CRIU failure when CRIU ran (its log is there), not when
// runc failed before it.
TEST_F(RuncCheckpointTest, AFailedDumpIsToldAsACriuFailureOnlyWhenCriuRan) {
  ASSERT_TRUE(MakeDirs(dir_ + "/runc-root/c1").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/runc-root/c1/state.json",
                              R"({"id":"c1","config":{"labels":["bundle=/b"]}})")
                  .ok());
  runner_.OnExit({"state", "c1"}, 0, R"({"id":"c1","pid":77,"status":"running","bundle":"/b"})");
  bool criu_runs = true;
  runner_.On({"checkpoint"}, [&criu_runs](const ProcessSpec& spec) {
    if (criu_runs) {
      EXPECT_TRUE(WriteFileAtomic(After(spec.argv, "--work-path") + "/dump.log",
                                  "(00.01) Error (criu/cr-dump.c:1): Dumping FAILED.\n")
                      .ok());
    }
    return Result<ProcessResult>(FakeProcessRunner::Exit(1, "", "criu failed: type NOTIFY"));
  });
  std::vector<std::string> told;
  RuncRuntime runtime = Make("1.1.5", [&told](std::string_view op) { told.emplace_back(op); });
  Result<CheckpointResult> r = runtime.Checkpoint(Checkpoint(CgroupMode::kSoft));
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Dumping FAILED"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(told, std::vector<std::string>{"checkpoint"});

  criu_runs = false;
  ASSERT_EQ(::unlink((dir_ + "/dump-work/dump.log").c_str()), 0);
  EXPECT_FALSE(runtime.Checkpoint(Checkpoint(CgroupMode::kSoft)).ok());
  EXPECT_EQ(told.size(), 1u) << "runc failed before CRIU ran";
}

// Every runc call that names the container passes the id after "--": an id that starts with
// '-' can never reach runc as an option (runc's CLI accepts "--" on every command).
void ExpectIdAfterDoubleDash(const std::vector<ProcessSpec>& calls) {
  int named = 0;
  for (const ProcessSpec& spec : calls) {
    if (spec.argv.empty() || spec.argv[0] != "runc" || !Has(spec.argv, "c1")) continue;
    ++named;
    auto dash = std::find(spec.argv.begin(), spec.argv.end(), "--");
    auto id = std::find(spec.argv.begin(), spec.argv.end(), "c1");
    EXPECT_TRUE(dash != spec.argv.end() && dash + 1 == id) << FormatCommand(spec.argv);
  }
  EXPECT_GT(named, 0);
}

TEST_F(RuncRuntimeTest, RestoreKillDeleteAndResumePassTheIdAfterDoubleDash) {
  ScriptRestore(Data("restore-soft-configfile.log"));
  runner_.OnExit({"resume"}, 0);
  RuncRuntime runtime = Make("1.1.5");
  ASSERT_TRUE(runtime.Restore(Restore(CgroupMode::kSoft)).ok());
  ASSERT_TRUE(runtime.Resume("c1").ok());
  ASSERT_TRUE(runtime.KillAndDelete("c1", dir_ + "/bundle").ok());
  ExpectIdAfterDoubleDash(runner_.calls());
  std::vector<ProcessSpec> kills = runner_.CallsWith("kill");
  ASSERT_EQ(kills.size(), 1u);
  EXPECT_EQ(kills[0].argv.back(), "KILL") << "the signal follows the id";
}

TEST_F(RuncCheckpointTest, CheckpointAndPsPassTheIdAfterDoubleDash) {
  ScriptCheckpoint("\"bundle=/b\"", Data("dump-soft-default.log"), Data("cgroup-soft.img"));
  runner_.OnExit({"ps", "c1"}, 0, "[77]");
  RuncRuntime runtime = Make("1.1.5");
  ASSERT_TRUE(runtime.Checkpoint(Checkpoint(CgroupMode::kSoft)).ok());
  ASSERT_TRUE(runtime.Pids("c1").ok());
  ExpectIdAfterDoubleDash(runner_.calls());
}

TEST_F(RuncRuntimeTest, SupportTableForRunc115) {
  RuncRuntime runtime = Make("1.1.5");
  for (const ModeSupport& row : runtime.ModeSupportTable()) {
    SCOPED_TRACE(std::string(CgroupModeName(row.mode)));
    if (row.mode == CgroupMode::kStrict) {
      EXPECT_FALSE(row.restore);
      EXPECT_TRUE(row.checkpoint);
      EXPECT_NE(row.reason.find("strict cannot be honoured"), std::string::npos);
    } else {
      EXPECT_TRUE(row.restore);
    }
    if (row.mode == CgroupMode::kIgnore) {
      EXPECT_FALSE(row.checkpoint) << "only containers created by migrate dump in ignore";
      EXPECT_NE(row.mechanism.find("CRIU config file"), std::string::npos);
    }
    EXPECT_NE(row.ToProto().mode(), proto::CGROUP_MODE_UNSPECIFIED);
  }
}

}  // namespace
}  // namespace migrate::runtime

namespace migrate::runtime {
namespace {

// The runtime binary names itself: runc and crun share the CLI this class drives, and their
// name and version choose how each mode reaches CRIU.
TEST(RuntimeCreateTest, TellsRuncFromCrunByItsVersionOutput) {
  testing::FakeProcessRunner runner;
  runner.OnExit({"/opt/crun", "--version"}, 0,
                "crun version 1.21\ncommit: 10269840\nrundir: /run/crun\nspec: 1.0.0\n+CRIU\n");
  runner.OnExit({"/opt/runc", "--version"}, 0, "runc version 1.3.6\ncommit: v1.3.6-0-g491b69ba\n");
  runner.OnExit({"/opt/other", "--version"}, 0, "podman version 4.3.1\n");
  RuncOptions options;
  options.runc_path = "/opt/crun";
  auto crun = RuncRuntime::Create(&runner, options);
  ASSERT_TRUE(crun.ok()) << crun.status().ToString();
  EXPECT_EQ((*crun)->info().name, "crun");
  EXPECT_EQ((*crun)->info().version.ToString(), "1.21.0");
  EXPECT_FALSE((*crun)->PlanRestore(CgroupMode::kIgnore).allowed());
  options.runc_path = "/opt/runc";
  auto runc = RuncRuntime::Create(&runner, options);
  ASSERT_TRUE(runc.ok());
  EXPECT_EQ((*runc)->info().name, "runc");
  EXPECT_EQ((*runc)->PlanRestore(CgroupMode::kIgnore).mechanism, ModeMechanism::kRuntimeFlag);
  options.runc_path = "/opt/other";
  auto other = RuncRuntime::Create(&runner, options);
  EXPECT_EQ(other.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(other.status().message().find("neither runc nor crun"), std::string::npos);
}

}  // namespace
}  // namespace migrate::runtime

namespace migrate::runtime {
namespace {

TEST(RuntimeStateTest, AnUnknownContainerIsNotFoundForRuncAndCrun) {
  testing::FakeProcessRunner runner;
  runner.OnExit({"state", "gone-runc"}, 1, "", "time=... level=error msg=\"container does not exist\"\n");
  runner.OnExit({"state", "gone-crun"}, 1, "",
                "error opening file `/run/crun/gone-crun/status`: No such file or directory\n");
  runner.OnExit({"state", "broken"}, 1, "", "permission denied\n");
  RuncRuntime runtime(&runner, RuncOptions{}, RuntimeInfo{"crun", *ParseVersion("1.21"), "crun"});
  EXPECT_EQ(runtime.State("gone-runc").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(runtime.State("gone-crun").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(runtime.State("broken").status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace migrate::runtime
