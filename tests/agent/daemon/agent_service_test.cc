// The agent's API service over a fake runtime and a fake CRIU (behind their interfaces), with
// the real journal and, for the flow test, the real stream receiver and sender over loopback.
#include <signal.h>

#include "agent/runtime/mode_plan.h"
#include "tests/agent/daemon/agent_test_fixture.h"

namespace migrate::agent::test {
namespace {

using runtime::CgroupMode;
using AgentServiceTest = AgentTest;

TEST_F(AgentServiceTest, OnlyTheControllerRoleMayCallAnythingButHealth) {
  auto service = MakeService("host-a", dir_.path());
  proto::InspectRequest inspect;
  inspect.set_container_id("web");
  ApiResponse refused =
      Call(*service, "POST", "/v1/inspect", inspect.SerializeAsString(), tls::Role::kNode);
  EXPECT_EQ(refused.status, 403u);
  proto::ApiError error;
  ASSERT_TRUE(error.ParseFromString(refused.body));
  EXPECT_EQ(error.code(), "PermissionDenied");
  EXPECT_EQ(Call(*service, "GET", "/v1/health", "", tls::Role::kNode).status, 200u);
  EXPECT_EQ(
      Call(*service, "POST", "/v1/inspect", inspect.SerializeAsString(), tls::Role::kController)
          .status,
      200u);
}

TEST_F(AgentServiceTest, BadRequestsGetClearErrors) {
  auto service = MakeService("host-a", dir_.path());
  EXPECT_EQ(Call(*service, "POST", "/v1/nope", "", tls::Role::kController).status, 404u);
  EXPECT_EQ(Call(*service, "POST", "/v1/restore", "\xff\xff", tls::Role::kController).status,
            400u);
  proto::InspectRequest inspect;
  inspect.set_container_id("../etc");
  EXPECT_EQ(
      Call(*service, "POST", "/v1/inspect", inspect.SerializeAsString(), tls::Role::kController)
          .status,
      400u);
}

TEST_F(AgentServiceTest, PreflightSourceSaysWhenTheContainerIsAbsent) {
  auto service = MakeService("host-a", dir_.path());
  proto::PreflightRequest request;
  request.set_migration_id("m1");
  request.set_role(proto::ROLE_SOURCE);
  request.set_container_id("web");
  request.set_cgroup_mode(proto::CGROUP_MODE_SOFT);
  auto response = service->Preflight(request);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  const auto* check = FindCheck(*response, "container-running");
  ASSERT_NE(check, nullptr);
  EXPECT_FALSE(check->ok());
  EXPECT_NE(check->detail().find("no container web"), std::string::npos) << check->detail();
  EXPECT_FALSE(check->remedy().empty());
  EXPECT_TRUE(runtime_.checkpoints.empty());
}

TEST_F(AgentServiceTest, PreflightDestinationRefusesStrictAndExistingContainers) {
  auto service = MakeService("host-b", dir_.path());
  AddRunning("web", dir_.path() + "/bundle");
  proto::PreflightRequest request;
  request.set_migration_id("m1");
  request.set_role(proto::ROLE_DESTINATION);
  request.set_container_id("web");
  request.set_cgroup_mode(proto::CGROUP_MODE_STRICT);
  request.set_source_criu_version("4.1.1");
  request.set_source_cpuinfo("cpu");
  auto response = service->Preflight(request);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  const auto* mode = FindCheck(*response, "cgroup-mode-restore");
  ASSERT_NE(mode, nullptr);
  EXPECT_FALSE(mode->ok());
  EXPECT_NE(mode->detail().find("strict"), std::string::npos) << mode->detail();
  const auto* absent = FindCheck(*response, "container-absent");
  ASSERT_NE(absent, nullptr);
  EXPECT_FALSE(absent->ok());
  EXPECT_TRUE(FindCheck(*response, "criu-version")->ok());
  EXPECT_TRUE(FindCheck(*response, "cpu-compatible")->ok());
}

TEST_F(AgentServiceTest, PreflightDestinationCatchesOlderCriuCpuMismatchAndNoSpace) {
  auto service = MakeService("host-b", dir_.path());
  runner_.cpu_mismatch = true;
  proto::PreflightRequest request;
  request.set_migration_id("m1");
  request.set_role(proto::ROLE_DESTINATION);
  request.set_container_id("web");
  request.set_cgroup_mode(proto::CGROUP_MODE_SOFT);
  request.set_source_criu_version("9.0.0");
  request.set_source_cpuinfo("cpu");
  request.set_bytes_needed(1ull << 60);
  auto response = service->Preflight(request);
  ASSERT_TRUE(response.ok());
  EXPECT_FALSE(FindCheck(*response, "criu-version")->ok());
  EXPECT_FALSE(FindCheck(*response, "cpu-compatible")->ok());
  EXPECT_FALSE(FindCheck(*response, "free-space")->ok());
  EXPECT_TRUE(FindCheck(*response, "container-absent")->ok());
  EXPECT_TRUE(FindCheck(*response, "cgroup-mode-restore")->ok());
}

TEST_F(AgentServiceTest, PreflightRejectsAnUnspecifiedMode) {
  auto service = MakeService("host-a", dir_.path());
  proto::PreflightRequest request;
  request.set_migration_id("m1");
  request.set_role(proto::ROLE_SOURCE);
  request.set_container_id("web");
  EXPECT_EQ(service->Preflight(request).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AgentServiceTest, CheckpointOfAnAbsentContainerFreezesNothing) {
  auto service = MakeService("host-a", dir_.path());
  auto result = service->CheckpointSend(CheckpointRequest(1, "t"));
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound) << result.status().ToString();
  EXPECT_TRUE(runtime_.checkpoints.empty());
}

// A source whose images were kept (the destination failed): rollback restores from them.
TEST_F(AgentServiceTest, SourceRollbackRestoresFromTheKeptImagesInSoft) {
  Journal journal(dir_.path());
  proto::MigrationRecord record = SourceRecord(proto::PHASE_CHECKPOINTED);
  record.set_cgroup_mode(proto::CGROUP_MODE_IGNORE);
  record.set_images_dir(dir_.path() + "/migrations/m1/images");
  fs::create_directories(record.images_dir());
  std::ofstream(record.images_dir() + "/inventory.img") << "inventory";
  ASSERT_TRUE(journal.Save(record).ok());
  auto service = MakeService("host-a", dir_.path());
  auto status = service->Rollback(RollbackOf("m1"));
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->phase(), proto::PHASE_ROLLED_BACK);
  ASSERT_EQ(runtime_.restores.size(), 1u);
  EXPECT_EQ(runtime_.restores[0].image_dir, record.images_dir());
  EXPECT_EQ(runtime_.restores[0].bundle_dir, "/bundles/web");
  EXPECT_EQ(runtime_.restores[0].cgroup_mode, CgroupMode::kSoft);
  EXPECT_EQ(journal.Load("m1")->phase(), proto::PHASE_ROLLED_BACK);
}

TEST_F(AgentServiceTest, SourceRollbackOfARunningContainerRestoresNothing) {
  Journal journal(dir_.path());
  proto::MigrationRecord record = SourceRecord(proto::PHASE_CHECKPOINTING);
  ASSERT_TRUE(journal.Save(record).ok());
  AddRunning("web", "/bundles/web");
  auto service = MakeService("host-a", dir_.path());
  auto status = service->Rollback(RollbackOf("m1"));
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->phase(), proto::PHASE_ROLLED_BACK);
  EXPECT_TRUE(runtime_.restores.empty());
}

TEST_F(AgentServiceTest, RecoverCleansDestinationsAndRestoresInterruptedCheckpoints) {
  Journal journal(dir_.path());
  proto::MigrationRecord received;
  received.set_migration_id("dst-prepared");
  received.set_container_id("a");
  received.set_role(proto::ROLE_DESTINATION);
  received.set_phase(proto::PHASE_PREPARED);
  received.set_bundle_dir(dir_.path() + "/containers/a");
  received.set_images_dir(dir_.path() + "/migrations/dst-prepared/images");
  fs::create_directories(received.bundle_dir());
  fs::create_directories(received.images_dir());
  ASSERT_TRUE(journal.Save(received).ok());

  proto::MigrationRecord running = received;
  running.set_migration_id("dst-restored");
  running.set_container_id("b");
  running.set_phase(proto::PHASE_RESTORED);
  running.set_bundle_dir(dir_.path() + "/containers/b");
  fs::create_directories(running.bundle_dir());
  ASSERT_TRUE(journal.Save(running).ok());

  proto::MigrationRecord dumping;
  dumping.set_migration_id("src-checkpointing");
  dumping.set_container_id("c");
  dumping.set_role(proto::ROLE_SOURCE);
  dumping.set_phase(proto::PHASE_CHECKPOINTING);
  dumping.set_images_dir(dir_.path() + "/migrations/src-checkpointing/images");
  dumping.set_source_bundle("/bundles/c");
  fs::create_directories(dumping.images_dir());
  std::ofstream(dumping.images_dir() + "/inventory.img") << "inventory";
  ASSERT_TRUE(journal.Save(dumping).ok());

  proto::MigrationRecord dumped = dumping;
  dumped.set_migration_id("src-checkpointed");
  dumped.set_container_id("d");
  dumped.set_phase(proto::PHASE_CHECKPOINTED);
  ASSERT_TRUE(journal.Save(dumped).ok());

  auto service = MakeService("node", dir_.path());
  ASSERT_TRUE(service->Recover().ok());

  EXPECT_EQ(journal.Load("dst-prepared")->phase(), proto::PHASE_ROLLED_BACK);
  EXPECT_FALSE(fs::exists(received.bundle_dir()));
  EXPECT_FALSE(fs::exists(received.images_dir()));
  EXPECT_EQ(journal.Load("dst-restored")->phase(), proto::PHASE_RESTORED);
  EXPECT_TRUE(fs::exists(running.bundle_dir()));
  EXPECT_EQ(journal.Load("src-checkpointing")->phase(), proto::PHASE_ROLLED_BACK);
  ASSERT_EQ(runtime_.restores.size(), 1u);
  EXPECT_EQ(runtime_.restores[0].container_id, "c");
  // The destination may run "d": its images stay and nothing is restored.
  EXPECT_EQ(journal.Load("src-checkpointed")->phase(), proto::PHASE_CHECKPOINTED);
}

TEST_F(AgentServiceTest, RecoveryWaitsForAnInterruptedDumpAndThawsWhatItLeftFrozen) {
  proto::MigrationRecord record = SaveInterruptedDump();
  runtime_.containers["web"] = {"web", "paused", 4242, "/bundles/web"};
  pid_t dump = HoldOpen(record.images_dir(), "0.7");
  ASSERT_GT(dump, 0);
  auto service = MakeService("host-a", dir_.path());
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(service->Recover().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500))
      << "recovery did not wait for the dump that still held the images";
  int wstatus = 0;
  waitpid(dump, &wstatus, 0);
  EXPECT_EQ(Journal(dir_.path()).Load("m1")->phase(), proto::PHASE_ROLLED_BACK);
  EXPECT_EQ(runtime_.resumed, std::vector<std::string>{"web"});
  EXPECT_TRUE(runtime_.killed.empty()) << "a frozen, whole container was killed";
  EXPECT_TRUE(runtime_.restores.empty());
  EXPECT_EQ(runtime_.containers["web"].status, "running");
}

TEST_F(AgentServiceTest, RollbackChangesNothingWhileAnInterruptedDumpRuns) {
  proto::MigrationRecord record = SaveInterruptedDump();
  runtime_.containers["web"] = {"web", "paused", 4242, "/bundles/web"};
  pid_t dump = HoldOpen(record.images_dir(), "30");
  ASSERT_GT(dump, 0);
  orphan_wait_ = std::chrono::milliseconds(300);
  auto service = MakeService("host-a", dir_.path());
  ASSERT_TRUE(service->Recover().ok());  // logs and leaves the record for a later rollback
  EXPECT_EQ(Journal(dir_.path()).Load("m1")->phase(), proto::PHASE_CHECKPOINTING);
  auto refused = service->Rollback(RollbackOf("m1"));
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("an interrupted dump or restore still uses"), std::string::npos)
      << refused.status().ToString();
  EXPECT_NE(refused.status().message().find(std::to_string(dump)), std::string::npos);
  EXPECT_TRUE(runtime_.resumed.empty());
  EXPECT_TRUE(runtime_.killed.empty());
  EXPECT_TRUE(runtime_.restores.empty());
  kill(dump, SIGKILL);
  int wstatus = 0;
  waitpid(dump, &wstatus, 0);
  auto done = service->Rollback(RollbackOf("m1"));
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->phase(), proto::PHASE_ROLLED_BACK);
  EXPECT_EQ(runtime_.resumed, std::vector<std::string>{"web"});
}

TEST_F(AgentServiceTest, CommitOnTheDestinationNeedsARestoredContainer) {
  Journal journal(dir_.path());
  proto::MigrationRecord record;
  record.set_migration_id("m1");
  record.set_container_id("web");
  record.set_role(proto::ROLE_DESTINATION);
  record.set_phase(proto::PHASE_PREPARED);
  ASSERT_TRUE(journal.Save(record).ok());
  auto service = MakeService("host-b", dir_.path());
  proto::CommitRequest request;
  request.set_migration_id("m1");
  EXPECT_EQ(service->Commit(request).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(service->Commit(proto::CommitRequest()).status().code(),
            StatusCode::kInvalidArgument);
}

// The whole agent side of a migration between two services: bundle and images really
// stream (TLS + zstd) from the source to the destination's receiver, the destination restores
// from what it received, both commit.
TEST_F(AgentServiceTest, SourceAndDestinationMigrateOverRealStreams) {
  testing::TestPki pki(dir_.path() + "/pki-root");
  tls::TlsFiles node_a = pki.Issue("host-a", tls::Role::kNode);
  auto streams = StartStreams(pki);
  ASSERT_TRUE(streams.ok()) << streams.status().ToString();

  fs::create_directories(dir_.path() + "/a");
  fs::create_directories(dir_.path() + "/b");
  auto source = MakeService("host-a", dir_.path() + "/a", nullptr, *tls::MakeClientContext(node_a));
  auto destination = MakeService("host-b", dir_.path() + "/b", streams->get());

  const std::string bundle = dir_.path() + "/user-bundle";
  fs::create_directories(bundle + "/rootfs/bin");
  std::ofstream(bundle + "/config.json") << testing::kRuncSpec;
  std::ofstream(bundle + "/rootfs/bin/app") << std::string(50000, 'x');
  AddRunning("web", bundle);

  proto::PrepareReceiveRequest prepare;
  prepare.set_migration_id("m1");
  prepare.set_container_id("web");
  prepare.set_source_node("host-a");
  auto prepared = destination->PrepareReceive(prepare);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_NE(prepared->bundle_token(), prepared->images_token());

  proto::StreamTarget target;
  target.set_node_name("host-b");
  target.set_address("127.0.0.1");
  target.set_data_port(prepared->data_port());

  proto::CheckpointSendRequest checkpoint;
  checkpoint.set_migration_id("m1");
  checkpoint.set_container_id("web");
  checkpoint.set_cgroup_mode(proto::CGROUP_MODE_IGNORE);
  *checkpoint.mutable_target() = target;
  checkpoint.mutable_target()->set_token(prepared->images_token());
  checkpoint.set_bundle_token(prepared->bundle_token());
  auto dumped = source->CheckpointSend(checkpoint);
  ASSERT_TRUE(dumped.ok()) << dumped.status().ToString();
  EXPECT_EQ(dumped->dump_mode().effective(), proto::CGROUP_MODE_IGNORE);
  EXPECT_GE(dumped->stats().raw_bytes(), 300000u);
  EXPECT_GE(dumped->bundle_stats().raw_bytes(), 50000u);

  proto::RestoreRequest restore;
  restore.set_migration_id("m1");
  restore.set_container_id("web");
  restore.set_cgroup_mode(proto::CGROUP_MODE_IGNORE);
  auto restored = destination->Restore(restore);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  ASSERT_EQ(runtime_.restores.size(), 1u);
  const auto& r = runtime_.restores[0];
  EXPECT_EQ(r.cgroups_path.value_or(""), "/migrate/web");  // the agent's parent + id
  EXPECT_EQ(r.bundle_dir, dir_.path() + "/b/containers/web/m1");
  EXPECT_EQ(ReadAll(r.bundle_dir + "/rootfs/bin/app"), std::string(50000, 'x'));
  EXPECT_EQ(ReadAll(r.image_dir + "/pages-2.img"), std::string(100002, 'c'));

  proto::CommitRequest commit;
  commit.set_migration_id("m1");
  auto committed_b = destination->Commit(commit);
  ASSERT_TRUE(committed_b.ok()) << committed_b.status().ToString();
  auto committed_a = source->Commit(commit);
  ASSERT_TRUE(committed_a.ok()) << committed_a.status().ToString();
  EXPECT_EQ(committed_a->phase(), proto::PHASE_COMMITTED);
  EXPECT_FALSE(fs::exists(dir_.path() + "/a/migrations/m1/images"));
  EXPECT_FALSE(fs::exists(r.image_dir));
  EXPECT_TRUE(fs::exists(r.bundle_dir + "/config.json"));  // the container runs from it
}

// The controller polls progress while checkpoint-send holds the migration's step lock for the
// whole freeze: the status must come back at once (a deadlock here would hang the test).
TEST_F(AgentServiceTest, StatusAnswersDuringTheFreeze) {
  auto service = MakeService("host-a", dir_.path());
  AddRunning("web", "/bundles/web");
  Result<proto::MigrationStatus> seen = Status::Internal("not polled");
  runtime_.during_checkpoint = [&] { seen = service->GetStatus("m1"); };
  // Port 1: nothing listens, the stream fails later.
  (void)service->CheckpointSend(CheckpointRequest(1, std::string(64, 'a')));
  ASSERT_TRUE(seen.ok()) << seen.status().ToString();
  EXPECT_EQ(seen->phase(), proto::PHASE_CHECKPOINTING);
  EXPECT_EQ(seen->container_id(), "web");
  EXPECT_EQ(seen->role(), proto::ROLE_SOURCE);
}

TEST_F(AgentServiceTest, DestinationRefusesAStreamTokenItDidNotIssue) {
  testing::TestPki pki(dir_.path() + "/pki-root");
  tls::TlsFiles node_a = pki.Issue("host-a", tls::Role::kNode);
  auto streams = StartStreams(pki);
  ASSERT_TRUE(streams.ok());
  auto source = MakeService("host-a", dir_.path() + "/a", nullptr, *tls::MakeClientContext(node_a));
  const std::string bundle = dir_.path() + "/user-bundle";
  fs::create_directories(bundle);
  std::ofstream(bundle + "/config.json") << "{}";
  AddRunning("web", bundle);
  proto::CheckpointSendRequest checkpoint =
      CheckpointRequest((*streams)->port(), std::string(64, 'f'));
  checkpoint.set_bundle_token(std::string(64, 'e'));
  auto sent = source->CheckpointSend(checkpoint);
  EXPECT_FALSE(sent.ok());
  EXPECT_EQ(sent.status().code(), StatusCode::kPermissionDenied) << sent.status().ToString();
  // The images were dumped and are kept: the source can restore from them.
  EXPECT_EQ(runtime_.checkpoints.size(), 1u);
  EXPECT_TRUE(fs::exists(dir_.path() + "/a/migrations/m1/images/pages-0.img"));
}

}  // namespace
}  // namespace migrate::agent::test
