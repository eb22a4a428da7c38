// A failure injected at every file-system step of a whole migration (journal writes, folders
// made and removed), on either host, transient or lasting: whatever fails, the container runs
// on exactly one host at every step, and once the agents were told to end the migration (and,
// for a lasting failure, restarted with the disk healed) it runs on exactly one host with
// nothing of the migration left behind. The controller's part is played by EndLikeController,
// which follows the controller's rules (controller/migration.h): roll back the destination
// first, and the source only once the destination confirmed or was never asked to restore.
#include "tests/agent/daemon/agent_test_fixture.h"
#include "tests/support/faulty_state_files.h"

namespace migrate::agent::test {
namespace {

enum class Reached { kNothing, kPrepared, kCheckpointAsked, kRestoreAsked, kCommitted };

class FileFaultsTest : public AgentTest {
 protected:
  // The forward path; returns how far it got before the first failure.
  Reached Forward(const std::string& id) {
    auto prepared = b_.service->PrepareReceive(PrepareRequest(id));
    if (!prepared.ok()) return Reached::kNothing;
    proto::CheckpointSendRequest checkpoint =
        CheckpointRequest(prepared->data_port(), prepared->images_token(), id);
    checkpoint.set_bundle_token(prepared->bundle_token());
    auto dumped = a_.service->CheckpointSend(checkpoint);
    EXPECT_LE(CopiesRunning(), 1);
    if (!dumped.ok()) return Reached::kCheckpointAsked;
    proto::RestoreRequest restore;
    restore.set_migration_id(id);
    restore.set_container_id("web");
    restore.set_cgroup_mode(proto::CGROUP_MODE_SOFT);
    auto restored = b_.service->Restore(restore);
    EXPECT_LE(CopiesRunning(), 1);
    if (!restored.ok()) return Reached::kRestoreAsked;
    if (!b_.service->Commit(CommitOf(id)).ok()) return Reached::kRestoreAsked;
    (void)a_.service->Commit(CommitOf(id));  // the destination owns it now
    return Reached::kCommitted;
  }

  // What the controller (or `migrate rollback`) does after a failure.
  void EndLikeController(const std::string& id, Reached reached) {
    if (reached == Reached::kCommitted) {
      (void)a_.service->Commit(CommitOf(id));
      return;
    }
    auto undone = b_.service->Rollback(RollbackOf(id));
    const bool confirmed = undone.ok() || undone.status().code() == StatusCode::kNotFound;
    if (!undone.ok() && undone.status().message().find("COMMIT") != std::string::npos) {
      (void)b_.service->Commit(CommitOf(id));  // it had committed: finish the source
      (void)a_.service->Commit(CommitOf(id));
      return;
    }
    EXPECT_LE(CopiesRunning(), 1);
    if (reached >= Reached::kCheckpointAsked && (confirmed || reached < Reached::kRestoreAsked)) {
      (void)a_.service->Rollback(RollbackOf(id));
    }
  }

  // Both agents start again on their state directories (recovery runs).
  void Restart(testing::FaultyStateFiles& a_files, testing::FaultyStateFiles& b_files) {
    a_.service.reset();
    b_.service.reset();
    StartHost(a_, "a", nullptr, a_tls_, &a_files);
    StartHost(b_, "b", streams_.get(), nullptr, &b_files);
    ASSERT_TRUE(a_.service->Recover().ok());
    ASSERT_TRUE(b_.service->Recover().ok());
  }

  void ExpectOneCopyAndNothingLeft(const std::string& what) {
    SCOPED_TRACE(what);
    ASSERT_EQ(CopiesRunning(), 1);
    const bool moved = b_.runtime.StatusOf("web") == "running";
    for (Host* host : {&a_, &b_}) {
      auto status = host->service->GetStatus("m1");
      if (!status.ok()) continue;  // never journaled there
      EXPECT_EQ(status->phase(), moved ? proto::PHASE_COMMITTED : proto::PHASE_ROLLED_BACK)
          << host->state << ": " << status->message();
    }
    for (Host* host : {&a_, &b_}) {
      const std::string images = host->state + "/migrations/m1/images";
      EXPECT_FALSE(fs::exists(images)) << images;
      const std::string staging = host->state + "/staging";
      if (fs::exists(staging)) {
        EXPECT_TRUE(fs::is_empty(staging)) << staging;
      }
    }
    if (!moved) {
      EXPECT_FALSE(fs::exists(b_.state + "/containers/web/m1"));
    }
  }

  // Runs the migration with host `faulty`'s call `n` failing (and, when `lasting`, every later
  // one until the agents restart with the disk healed).
  void RunWithFault(bool on_source, int n, bool lasting) {
    testing::FaultyStateFiles a_files;
    testing::FaultyStateFiles b_files;
    StartTwoHosts(&a_files, &b_files);
    a_.runtime.AddRunning("web", MakeBundle("bundle-" + std::to_string(n)));
    (on_source ? a_files : b_files)
        .FailAt(n, Status::IoError("write: No space left on device"), lasting);
    const Reached reached = Forward("m1");
    EndLikeController("m1", reached);
    if (lasting) {
      a_files.Heal();
      b_files.Heal();
      Restart(a_files, b_files);
      EndLikeController("m1", reached);
    }
    ExpectOneCopyAndNothingLeft((on_source ? "host-a" : "host-b") + std::string(" call ") +
                                std::to_string(n) + (lasting ? " lasting" : " once"));
  }

  // How many mutating file calls host-a and host-b make in a whole, successful migration.
  std::pair<int, int> CountCalls() {
    testing::FaultyStateFiles a_files;
    testing::FaultyStateFiles b_files;
    StartTwoHosts(&a_files, &b_files);
    a_.runtime.AddRunning("web", MakeBundle("bundle-count"));
    EXPECT_EQ(Forward("m1"), Reached::kCommitted);
    return {a_files.mutating_calls(), b_files.mutating_calls()};
  }

  void Reset() {
    a_.service.reset();
    b_.service.reset();
    a_.runtime.containers.clear();
    b_.runtime.containers.clear();
    streams_.reset();
    fs::remove_all(dir_.path());
    fs::create_directories(dir_.path());
  }
};

TEST_F(FileFaultsTest, EveryFailurePointOnEitherHostEndsWithOneCopyAndNothingLeft) {
  const auto [a_calls, b_calls] = CountCalls();
  ASSERT_GT(a_calls, 4);
  ASSERT_GT(b_calls, 4);
  int cases = 0;
  for (bool lasting : {false, true}) {
    for (int n = 0; n < a_calls; ++n, ++cases) {
      Reset();
      RunWithFault(/*on_source=*/true, n, lasting);
    }
    for (int n = 0; n < b_calls; ++n, ++cases) {
      Reset();
      RunWithFault(/*on_source=*/false, n, lasting);
    }
  }
  EXPECT_EQ(cases, 2 * (a_calls + b_calls));
}

}  // namespace
}  // namespace migrate::agent::test
