#include "agent/journal.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/transfer/test_pki.h"

namespace migrate::agent {
namespace {

proto::MigrationRecord Record(const std::string& id, proto::Phase phase) {
  proto::MigrationRecord record;
  record.set_migration_id(id);
  record.set_container_id("web-1");
  record.set_role(proto::ROLE_SOURCE);
  record.set_phase(phase);
  return record;
}

TEST(JournalTest, SaveThenLoadReturnsTheLatestRecord) {
  testing::TempDir dir;
  Journal journal(dir.path());
  ASSERT_TRUE(journal.Save(Record("m1", proto::PHASE_PREPARED)).ok());
  ASSERT_TRUE(journal.Save(Record("m1", proto::PHASE_CHECKPOINTED)).ok());
  auto loaded = journal.Load("m1");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->phase(), proto::PHASE_CHECKPOINTED);
  EXPECT_EQ(loaded->container_id(), "web-1");
  // No temporary file is left behind by the atomic replace.
  EXPECT_FALSE(std::filesystem::exists(journal.MigrationDir("m1") + "/journal.pb.tmp"));
}

TEST(JournalTest, LoadAllListsEveryJournaledMigration) {
  testing::TempDir dir;
  Journal journal(dir.path());
  ASSERT_TRUE(journal.Save(Record("a", proto::PHASE_PREPARED)).ok());
  ASSERT_TRUE(journal.Save(Record("b", proto::PHASE_RESTORED)).ok());
  std::filesystem::create_directories(dir.path() + "/migrations/never-journaled");
  auto all = journal.LoadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->records.size(), 2u);
  EXPECT_TRUE(all->quarantined.empty());
  ASSERT_EQ(all->unjournaled_dirs.size(), 1u);
  EXPECT_EQ(all->unjournaled_dirs[0], journal.MigrationDir("never-journaled"));
}

TEST(JournalTest, RefusesUnsafeIds) {
  testing::TempDir dir;
  Journal journal(dir.path());
  for (const std::string& id : std::vector<std::string>{"", "../x", "a/b", std::string(65, 'a'), "a b"}) {
    EXPECT_EQ(journal.Save(Record(id, proto::PHASE_PREPARED)).code(),
              StatusCode::kInvalidArgument)
        << id;
    EXPECT_EQ(journal.Load(id).status().code(), StatusCode::kInvalidArgument) << id;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/x"));
}

// One unreadable record is set aside (quarantined) with its reason; the others still load.
TEST(JournalTest, CorruptRecordIsQuarantinedNotFatalNorSilent) {
  testing::TempDir dir;
  Journal journal(dir.path());
  ASSERT_TRUE(journal.Save(Record("m1", proto::PHASE_PREPARED)).ok());
  ASSERT_TRUE(journal.Save(Record("m2", proto::PHASE_PREPARED)).ok());
  std::ofstream(journal.MigrationDir("m1") + "/journal.pb", std::ios::trunc) << "\xff\xff\xff";
  EXPECT_EQ(journal.Load("m1").status().code(), StatusCode::kDataLoss);
  auto all = journal.LoadAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->records.size(), 1u);
  EXPECT_EQ(all->records[0].migration_id(), "m2");
  ASSERT_EQ(all->quarantined.size(), 1u);
  EXPECT_EQ(all->quarantined[0].migration_id, "m1");
  EXPECT_EQ(all->quarantined[0].path, journal.RecordPath("m1"));
  EXPECT_NE(all->quarantined[0].error.find("not a valid record"), std::string::npos);
}

TEST(JournalTest, RecordForAnotherIdIsDataLoss) {
  testing::TempDir dir;
  Journal journal(dir.path());
  ASSERT_TRUE(journal.Save(Record("m1", proto::PHASE_PREPARED)).ok());
  std::filesystem::create_directories(journal.MigrationDir("m2"));
  std::filesystem::copy_file(journal.MigrationDir("m1") + "/journal.pb",
                             journal.MigrationDir("m2") + "/journal.pb");
  EXPECT_EQ(journal.Load("m2").status().code(), StatusCode::kDataLoss);
}

TEST(JournalTest, SaveFailsWhenTheStateDirCannotBeWritten) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/file") << "not a directory";
  Journal journal(dir.path() + "/file");
  Status saved = journal.Save(Record("m1", proto::PHASE_PREPARED));
  EXPECT_EQ(saved.code(), StatusCode::kIoError) << saved.ToString();
}

TEST(JournalTest, RemoveDeletesTheMigrationFolder) {
  testing::TempDir dir;
  Journal journal(dir.path());
  ASSERT_TRUE(journal.Save(Record("m1", proto::PHASE_PREPARED)).ok());
  ASSERT_TRUE(journal.Remove("m1").ok());
  EXPECT_EQ(journal.Load("m1").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace migrate::agent
