// Ownership: an agent touches only what a migration of its own created, and at most one
// unfinished migration per container per agent exists. Each test is a sequence that broke
// the one-copy rule before (docs/agent.md, "Ownership").
#include <future>

#include "tests/agent/daemon/agent_test_fixture.h"

namespace migrate::agent::test {
namespace {

using OwnershipTest = AgentTest;

// A migration left prepared on the destination (its controller died), a retry of the same
// container, then a late rollback of the stale one: the retry's container must run on,
// from files the stale rollback cannot reach.
TEST_F(OwnershipTest, AStaleRollbackLeavesTheRetriedMigrationsContainerAlone) {
  StartTwoHosts();
  a_.runtime.AddRunning("web", MakeBundle("user-bundle"));
  ASSERT_TRUE(b_.service->PrepareReceive(PrepareRequest("stale")).ok());

  // While "stale" is unfinished, host-b refuses a second migration of "web", naming it.
  auto second = b_.service->PrepareReceive(PrepareRequest("retry"));
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists) << second.status().ToString();
  EXPECT_NE(second.status().message().find("stale"), std::string::npos);

  ASSERT_TRUE(b_.service->Rollback(RollbackOf("stale")).ok());
  ASSERT_TRUE(Migrate("retry", proto::CGROUP_MODE_SOFT, /*commit=*/true).ok());
  const std::string bundle = b_.state + "/containers/web/retry";
  ASSERT_EQ(b_.runtime.StatusOf("web"), "running");
  ASSERT_EQ(b_.runtime.containers["web"].bundle, bundle);

  auto late = b_.service->Rollback(RollbackOf("stale"));  // the operator, much later
  ASSERT_TRUE(late.ok()) << late.status().ToString();
  EXPECT_EQ(late->phase(), proto::PHASE_ROLLED_BACK);
  EXPECT_EQ(b_.runtime.StatusOf("web"), "running");
  EXPECT_TRUE(fs::exists(bundle + "/config.json"));
  EXPECT_TRUE(b_.runtime.killed.empty());
  EXPECT_EQ(CopiesRunning(), 1);
}

// A rollback kills only a container this migration restored: one of the same name running
// from another bundle is someone else's.
TEST_F(OwnershipTest, RollbackNeverKillsASameNamedContainerItDidNotRestore) {
  Journal journal(dir_.path());
  proto::MigrationRecord record;
  record.set_migration_id("m1");
  record.set_container_id("web");
  record.set_role(proto::ROLE_DESTINATION);
  record.set_phase(proto::PHASE_RESTORING);
  record.set_peer_node("host-a");
  record.set_bundle_dir(dir_.path() + "/containers/web/m1");
  record.set_images_dir(dir_.path() + "/migrations/m1/images");
  record.set_container_restored(true);  // what the old agent journaled before runc refused
  ASSERT_TRUE(journal.Save(record).ok());
  AddRunning("web", "/srv/bundles/web");
  auto service = MakeService("host-b", dir_.path());
  auto done = service->Rollback(RollbackOf("m1"));
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(done->phase(), proto::PHASE_ROLLED_BACK);
  EXPECT_EQ(runtime_.StatusOf("web"), "running");
  EXPECT_TRUE(runtime_.killed.empty());
}

// Restore refuses to start over a same-named container, and journals nothing that would let
// a rollback kill it.
TEST_F(OwnershipTest, RestoreRefusesOverASameNamedContainer) {
  StartTwoHosts();
  ASSERT_TRUE(b_.service->PrepareReceive(PrepareRequest("m1")).ok());
  b_.runtime.AddRunning("web", "/srv/bundles/web");
  proto::RestoreRequest restore;
  restore.set_migration_id("m1");
  restore.set_container_id("web");
  restore.set_cgroup_mode(proto::CGROUP_MODE_SOFT);
  auto refused = b_.service->Restore(restore);
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists) << refused.status().ToString();
  EXPECT_TRUE(b_.runtime.restores.empty());
  EXPECT_EQ(Journal(b_.state).Load("m1")->phase(), proto::PHASE_PREPARED);
  ASSERT_TRUE(b_.service->Rollback(RollbackOf("m1")).ok());
  EXPECT_EQ(b_.runtime.StatusOf("web"), "running");
}

// Two migrations of one container at once: the second checkpoint is refused while the first
// is freezing, before it touches anything.
TEST_F(OwnershipTest, ASecondCheckpointOfTheSameContainerIsRefusedWhileTheFirstRuns) {
  auto service = MakeService("host-a", dir_.path());
  AddRunning("web", MakeBundle("user-bundle"));
  Result<proto::CheckpointSendResponse> second = Status::Internal("not tried");
  runtime_.during_checkpoint = [&] {
    auto attempt = std::async(std::launch::async, [&] {
      return service->CheckpointSend(CheckpointRequest(1, std::string(64, 'b'), "m2"));
    });
    if (attempt.wait_for(std::chrono::seconds(5)) == std::future_status::ready) {
      second = attempt.get();
    } else {
      second = Status::DeadlineExceeded("the second checkpoint waited for the first");
      attempt.wait();  // let it end before the test does
    }
  };
  (void)service->CheckpointSend(CheckpointRequest(1, std::string(64, 'a'), "m1"));
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists) << second.status().ToString();
  EXPECT_NE(second.status().message().find("m1"), std::string::npos);
  EXPECT_EQ(runtime_.checkpoints.size(), 1u);
  EXPECT_FALSE(fs::exists(dir_.path() + "/migrations/m2"));
}

TEST_F(OwnershipTest, PreflightSaysWhichMigrationHoldsTheContainer) {
  StartTwoHosts();
  ASSERT_TRUE(b_.service->PrepareReceive(PrepareRequest("m1")).ok());
  proto::PreflightRequest request;
  request.set_migration_id("m2");
  request.set_role(proto::ROLE_DESTINATION);
  request.set_container_id("web");
  request.set_cgroup_mode(proto::CGROUP_MODE_SOFT);
  auto response = b_.service->Preflight(request);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  const proto::PreflightCheck* free = FindCheck(*response, "container-free");
  ASSERT_NE(free, nullptr);
  EXPECT_FALSE(free->ok());
  EXPECT_NE(free->detail().find("m1"), std::string::npos) << free->detail();
}

// "I know nothing of it" is not "rolled back": a wrong host, or one that lost its state
// directory, must not let the source believe nothing of the migration runs there.
TEST_F(OwnershipTest, RollbackOfAnUnknownMigrationIsNotFound) {
  auto service = MakeService("host-b", dir_.path());
  auto answer = service->Rollback(RollbackOf("never-seen"));
  EXPECT_EQ(answer.status().code(), StatusCode::kNotFound) << answer.status().ToString();
}

// A rollback addressed to the wrong pair of hosts changes nothing.
TEST_F(OwnershipTest, RollbackNamingAnotherPeerChangesNothing) {
  Journal journal(dir_.path());
  proto::MigrationRecord record = SourceRecord(proto::PHASE_CHECKPOINTED);
  record.set_images_dir(dir_.path() + "/migrations/m1/images");
  ASSERT_TRUE(journal.Save(record).ok());
  auto service = MakeService("host-a", dir_.path());
  proto::RollbackRequest request = RollbackOf("m1");
  request.set_peer_node("host-c");
  auto refused = service->Rollback(request);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("host-b"), std::string::npos);
  EXPECT_TRUE(runtime_.restores.empty());
  EXPECT_EQ(journal.Load("m1")->phase(), proto::PHASE_CHECKPOINTED);
  auto status = service->GetStatus("m1");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->peer_node(), "host-b");
}

TEST_F(OwnershipTest, ACommittedMigrationCannotBeRolledBack) {
  StartTwoHosts();
  a_.runtime.AddRunning("web", MakeBundle("user-bundle"));
  ASSERT_TRUE(Migrate("m1", proto::CGROUP_MODE_SOFT, /*commit=*/true).ok());
  for (Host* host : {&a_, &b_}) {
    auto refused = host->service->Rollback(RollbackOf("m1"));
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(refused.status().message().find("COMMITTED"), std::string::npos);
  }
  EXPECT_EQ(CopiesRunning(), 1);
  EXPECT_EQ(b_.runtime.StatusOf("web"), "running");
}

}  // namespace
}  // namespace migrate::agent::test
