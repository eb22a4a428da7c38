// A restarted agent: what it waits for, what it decides in each phase, and what it cleans up
// (docs/agent.md, "Journal and restarts", "Housekeeping"). Each test is a sequence that
// broke the one-copy rule or left things behind before.
#include <signal.h>

#include <atomic>
#include <chrono>

#include "agent/orphans.h"
#include "tests/agent/daemon/agent_test_fixture.h"

namespace migrate::agent::test {
namespace {

using RecoveryTest = AgentTest;

uint64_t UnixMillisAgo(std::chrono::hours ago) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   (std::chrono::system_clock::now() - ago).time_since_epoch())
                                   .count());
}

proto::MigrationRecord DestinationRecord(const std::string& state, const std::string& id,
                                         proto::Phase phase) {
  proto::MigrationRecord record;
  record.set_migration_id(id);
  record.set_container_id("web");
  record.set_role(proto::ROLE_DESTINATION);
  record.set_phase(phase);
  record.set_peer_node("host-a");
  record.set_bundle_dir(state + "/containers/web/" + id);
  record.set_images_dir(state + "/migrations/" + id + "/images");
  return record;
}

// The destination restarts while runc restore and CRIU still run (they are not the agent's
// children). Deciding at once would roll back, then the orphaned restore would finish: a
// second copy beside the source's. Recovery waits for it, then removes what it restored.
TEST_F(RecoveryTest, ADestinationRestartedMidRestoreWaitsForTheOrphanedRestore) {
  proto::MigrationRecord record = DestinationRecord(dir_.path(), "m1", proto::PHASE_RESTORING);
  fs::create_directories(record.images_dir());
  fs::create_directories(record.bundle_dir());
  ASSERT_TRUE(Journal(dir_.path()).Save(record).ok());
  pid_t orphan = HoldOpen(record.images_dir(), "0.7");
  ASSERT_GT(orphan, 0);
  std::atomic<bool> finished{false};
  auto finish_when_ended = [&](int options) {
    if (!finished && waitpid(orphan, nullptr, options) == orphan) {
      finished = true;
      runtime_.AddRunning("web", record.bundle_dir());  // the orphaned restore completed
    }
  };
  runtime_.before_state = [&] { finish_when_ended(WNOHANG); };
  auto service = MakeService("host-b", dir_.path());
  ASSERT_TRUE(service->Recover().ok());
  finish_when_ended(0);
  EXPECT_EQ(runtime_.StatusOf("web"), "absent") << "the orphaned restore left a second copy";
  EXPECT_EQ(runtime_.killed, std::vector<std::string>{"web"});
  EXPECT_EQ(Journal(dir_.path()).Load("m1")->phase(), proto::PHASE_ROLLED_BACK);
  EXPECT_FALSE(fs::exists(record.bundle_dir()));
}

// A graceful stop (SIGTERM: the service is destroyed, every stream cancelled) during the
// freeze must be no worse than a kill: the dump finished but was never delivered, so the
// restarted agent restores the container here.
TEST_F(RecoveryTest, AGracefulStopDuringTheFreezeRestoresTheContainerAtRestart) {
  StartTwoHosts();
  a_.runtime.AddRunning("web", MakeBundle("user-bundle"));
  auto prepared = b_.service->PrepareReceive(PrepareRequest("m1"));
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  const std::string points = dir_.path() + "/failpoints";
  AgentDeps deps = Deps("host-a", a_.state, a_.runtime, a_.criu);
  deps.client_tls = *tls::MakeClientContext(pki_->Issue("host-a", tls::Role::kNode));
  deps.failpoints = Failpoints({"source.dump_returned"}, points);
  a_.service = std::make_unique<AgentService>(deps, 2);

  proto::CheckpointSendRequest checkpoint =
      CheckpointRequest(prepared->data_port(), prepared->images_token());
  checkpoint.set_bundle_token(prepared->bundle_token());
  std::promise<ApiResponse> answer;
  ApiRequest request;
  request.method = "POST";
  request.target = "/v1/checkpoint-send";
  request.body = checkpoint.SerializeAsString();
  request.peer.common_name = "controller";
  request.peer.role = tls::Role::kController;
  a_.service->Handle(request, [&answer](ApiResponse r) { answer.set_value(std::move(r)); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!fs::exists(points + "/source.dump_returned") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(fs::exists(points + "/source.dump_returned")) << "the dump never ended";
  a_.service.reset();  // SIGTERM: cancel everything, join the workers
  EXPECT_NE(answer.get_future().get().status, 200u);
  EXPECT_EQ(Journal(a_.state).Load("m1")->phase(), proto::PHASE_CHECKPOINTING);

  StartHost(a_, "a");  // the agent starts again on the same state directory
  ASSERT_TRUE(a_.service->Recover().ok());
  EXPECT_EQ(a_.runtime.StatusOf("web"), "running");
  EXPECT_EQ(Journal(a_.state).Load("m1")->phase(), proto::PHASE_ROLLED_BACK);
}

// A stream that fails after a complete dump leaves the phase at CHECKPOINTING: the destination
// never had the images, so nothing but this host can run the container.
TEST_F(RecoveryTest, AStreamFailureAfterTheDumpIsNotCheckpointed) {
  auto service = MakeService("host-a", dir_.path());
  AddRunning("web", MakeBundle("user-bundle"));
  EXPECT_FALSE(service->CheckpointSend(CheckpointRequest(1, std::string(64, 'a'))).ok());
  EXPECT_EQ(Journal(dir_.path()).Load("m1")->phase(), proto::PHASE_CHECKPOINTING);
  service = MakeService("host-a", dir_.path());
  ASSERT_TRUE(service->Recover().ok());
  EXPECT_EQ(runtime_.StatusOf("web"), "running");
}

// One unreadable record is quarantined (reported, untouched); every other migration is still
// recovered, and the agent starts.
TEST_F(RecoveryTest, ACorruptRecordIsQuarantinedAndTheOthersRecovered) {
  Journal journal(dir_.path());
  proto::MigrationRecord good = DestinationRecord(dir_.path(), "good", proto::PHASE_PREPARED);
  fs::create_directories(good.images_dir());
  ASSERT_TRUE(journal.Save(good).ok());
  fs::create_directories(journal.MigrationDir("bad"));
  const std::string garbage = "\xff\xff\xff not a record";
  std::ofstream(journal.RecordPath("bad")) << garbage;

  auto service = MakeService("host-b", dir_.path());
  ASSERT_TRUE(service->Recover().ok());
  EXPECT_EQ(journal.Load("good")->phase(), proto::PHASE_ROLLED_BACK);
  EXPECT_EQ(ReadAll(journal.RecordPath("bad")), garbage);
  auto caps = service->Capabilities();
  ASSERT_TRUE(caps.ok());
  ASSERT_EQ(caps->quarantined_size(), 1);
  EXPECT_EQ(caps->quarantined(0).migration_id(), "bad");
  EXPECT_EQ(caps->quarantined(0).path(), journal.RecordPath("bad"));
  EXPECT_EQ(service->GetStatus("bad").status().code(), StatusCode::kDataLoss);
}

// A commit that had begun is finished at restart, never rolled back.
TEST_F(RecoveryTest, ACommitBegunBeforeTheRestartIsFinished) {
  Journal journal(dir_.path());
  proto::MigrationRecord record = SourceRecord(proto::PHASE_COMMITTING);
  record.set_images_dir(dir_.path() + "/migrations/m1/images");
  fs::create_directories(record.images_dir());
  ASSERT_TRUE(journal.Save(record).ok());
  auto service = MakeService("host-a", dir_.path());
  ASSERT_TRUE(service->Recover().ok());
  EXPECT_EQ(journal.Load("m1")->phase(), proto::PHASE_COMMITTED);
  EXPECT_FALSE(fs::exists(record.images_dir()));
  EXPECT_TRUE(runtime_.restores.empty());
}

TEST_F(RecoveryTest, StagingAndUnjournaledFoldersLeftByAKillAreRemovedAtStart) {
  fs::create_directories(dir_.path() + "/staging/stream-1234/rootfs");
  fs::create_directories(dir_.path() + "/migrations/never-journaled/images");
  auto service = MakeService("host-b", dir_.path());
  ASSERT_TRUE(service->Recover().ok());
  EXPECT_TRUE(fs::is_empty(dir_.path() + "/staging"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/migrations/never-journaled"));
}

// Ended migrations go after the retention time; kept images and unfinished ones stay.
TEST_F(RecoveryTest, HousekeepingRemovesEndedMigrationsPastTheRetentionTime) {
  Journal journal(dir_.path());
  auto save = [&](const std::string& id, proto::Phase phase, std::chrono::hours age, bool keep) {
    proto::MigrationRecord record = DestinationRecord(dir_.path(), id, phase);
    record.set_container_id("c-" + id);
    record.set_updated_unix_ms(UnixMillisAgo(age));
    record.set_keep_images(keep);
    fs::create_directories(record.images_dir());
    ASSERT_TRUE(journal.Save(record).ok());
  };
  save("old-committed", proto::PHASE_COMMITTED, std::chrono::hours(100), false);
  save("old-rolled-back", proto::PHASE_ROLLED_BACK, std::chrono::hours(73), false);
  save("old-kept", proto::PHASE_COMMITTED, std::chrono::hours(100), true);
  save("recent", proto::PHASE_COMMITTED, std::chrono::hours(1), false);
  save("unfinished", proto::PHASE_RESTORED, std::chrono::hours(100), false);
  auto service = MakeService("host-b", dir_.path());
  ASSERT_TRUE(service->Recover().ok());
  EXPECT_FALSE(fs::exists(journal.MigrationDir("old-committed")));
  EXPECT_FALSE(fs::exists(journal.MigrationDir("old-rolled-back")));
  EXPECT_TRUE(fs::exists(journal.MigrationDir("old-kept") + "/images"));
  EXPECT_TRUE(fs::exists(journal.MigrationDir("recent")));
  EXPECT_TRUE(fs::exists(journal.MigrationDir("unfinished")));
  EXPECT_EQ(service->GetStatus("old-committed").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace migrate::agent::test

namespace migrate::agent::test {
namespace {

using OrphansTest = AgentTest;

// What a failed runtime call leaves using a migration's folder is killed, nothing else.
TEST_F(OrphansTest, KillOrphansKillsWhatUsesTheFolderOnly) {
  const std::string mine = dir_.path() + "/images";
  const std::string other = dir_.path() + "/images-other";
  fs::create_directories(mine);
  fs::create_directories(other);
  pid_t orphan = HoldOpen(mine, "30");
  pid_t bystander = HoldOpen(other, "30");
  ASSERT_GT(orphan, 0);
  ASSERT_GT(bystander, 0);
  ASSERT_TRUE(KillOrphans(mine, "m1").ok());
  int status = 0;
  ASSERT_EQ(waitpid(orphan, &status, 0), orphan);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(waitpid(bystander, &status, WNOHANG), 0) << "a process of another folder was killed";
  kill(bystander, SIGKILL);
  waitpid(bystander, &status, 0);
}

}  // namespace
}  // namespace migrate::agent::test
