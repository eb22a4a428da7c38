// The store of migrations: claims, the one way a phase changes, and the step lock a commit
// or rollback takes.
#include "agent/migration_store.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "tests/support/faulty_state_files.h"
#include "tests/transfer/test_pki.h"

namespace migrate::agent {
namespace {

TEST(MigrationStoreTest, AJournalFailureChangesNothingInMemoryEither) {
  migrate::testing::TempDir dir;
  migrate::testing::FaultyStateFiles files;
  Journal journal(files, dir.path());
  MigrationStore store(journal);
  auto m = store.Begin("m1", "web", proto::ROLE_SOURCE);
  ASSERT_TRUE(m.ok());
  files.FailAt(0, Status::IoError("no space left on device"), /*sticky=*/true);
  EXPECT_EQ(store.Advance(**m, Event::kCheckpointBegin).code(), StatusCode::kIoError);
  EXPECT_EQ((*m)->record.phase(), proto::PHASE_UNSPECIFIED);
  EXPECT_EQ((*m)->Published().phase(), proto::PHASE_UNSPECIFIED);
  files.Heal();
  ASSERT_TRUE(store.Advance(**m, Event::kCheckpointBegin).ok());
  EXPECT_EQ(journal.Load("m1")->phase(), proto::PHASE_CHECKPOINTING);
  EXPECT_EQ(store.Advance(**m, Event::kRestoreBegin).code(), StatusCode::kFailedPrecondition)
      << "a source never restores";
}

TEST(MigrationStoreTest, TheClaimIsReleasedWhenTheMigrationEnds) {
  migrate::testing::TempDir dir;
  Journal journal(dir.path());
  MigrationStore store(journal);
  auto m = store.Begin("m1", "web", proto::ROLE_DESTINATION);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(store.Advance(**m, Event::kPrepareReceive).ok());
  EXPECT_EQ(store.HolderOf("web"), "m1");
  EXPECT_EQ(store.Begin("m2", "web", proto::ROLE_SOURCE).status().code(),
            StatusCode::kAlreadyExists);
  ASSERT_TRUE(store.Advance(**m, Event::kRollbackBegin).ok());
  EXPECT_EQ(store.HolderOf("web"), "m1") << "rolling back is not ended";
  ASSERT_TRUE(store.Advance(**m, Event::kRollbackDone).ok());
  EXPECT_EQ(store.HolderOf("web"), "");
  EXPECT_TRUE(store.Begin("m2", "web", proto::ROLE_SOURCE).ok());
}

// While a step holds a migration's lock, one commit or rollback waits for it; the others are
// told to retry at once instead of filling the agent's workers.
TEST(MigrationStoreTest, OneEnderWaitsTheOthersAreToldToRetry) {
  Migration m;
  m.record.set_migration_id("m1");
  StepLock step(m.mutex);  // a checkpoint runs
  auto first = std::async(std::launch::async,
                          [&] { return LockForEnding(m, std::chrono::seconds(10)).ok(); });
  while (m.enders.load() == 0) std::this_thread::yield();
  auto second = LockForEnding(m, std::chrono::seconds(10));
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("waiting already"), std::string::npos);
  step.unlock();
  EXPECT_TRUE(first.get());
  auto busy = std::async(std::launch::async, [&] {
    return LockForEnding(m, std::chrono::milliseconds(50)).status().code();
  });
  EXPECT_EQ(busy.get(), StatusCode::kOk);
}

// The refusals name the migration (an id long enough to live on the heap: the message must not
// be built from a copy of the record that is gone by then).
TEST(MigrationStoreTest, TheRetryAnswerNamesTheMigration) {
  migrate::testing::TempDir dir;
  Journal journal(dir.path());
  MigrationStore store(journal);
  const std::string id(64, 'a');
  auto m = store.Begin(id, "web", proto::ROLE_DESTINATION);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(store.Advance(**m, Event::kPrepareReceive).ok());
  StepLock step((*m)->mutex);
  auto busy = LockForEnding(**m, std::chrono::milliseconds(20));
  EXPECT_EQ(busy.status().message(), "migration " + id + " is busy (a step of it runs): retry later");
  auto first = std::async(std::launch::async,
                          [&] { return LockForEnding(**m, std::chrono::seconds(10)).ok(); });
  while ((*m)->enders.load() == 0) std::this_thread::yield();
  auto second = LockForEnding(**m, std::chrono::seconds(10));
  EXPECT_EQ(second.status().message(),
            "a commit or rollback of migration " + id + " is waiting already: retry later");
  step.unlock();
  EXPECT_TRUE(first.get());
}

}  // namespace
}  // namespace migrate::agent
