// The agent's state machine table: its shape, what a restart does in every phase, and that
// docs/agent.md shows exactly this table.
#include "agent/migration_table.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace migrate::agent {
namespace {

const proto::Phase kEveryPhase[] = {
    proto::PHASE_PREPARED,   proto::PHASE_CHECKPOINTING, proto::PHASE_CHECKPOINTED,
    proto::PHASE_RESTORING,  proto::PHASE_RESTORED,      proto::PHASE_COMMITTING,
    proto::PHASE_COMMITTED,  proto::PHASE_ROLLING_BACK,  proto::PHASE_ROLLED_BACK,
    proto::PHASE_FAILED};

TEST(MigrationTableTest, EndedPhasesHaveNoWayOut) {
  for (const Transition& t : Transitions()) {
    EXPECT_FALSE(HasEnded(t.from)) << PhaseName(t.from) << " --" << EventName(t.event) << "-->";
  }
}

TEST(MigrationTableTest, ACommitOnceBegunCanNeverBeRolledBack) {
  for (proto::Role role : {proto::ROLE_SOURCE, proto::ROLE_DESTINATION}) {
    EXPECT_FALSE(NextPhase(role, proto::PHASE_COMMITTING, Event::kRollbackBegin));
    EXPECT_FALSE(NextPhase(role, proto::PHASE_COMMITTED, Event::kRollbackBegin));
    EXPECT_FALSE(NextPhase(role, proto::PHASE_ROLLING_BACK, Event::kCommitBegin));
  }
}

TEST(MigrationTableTest, EveryUnfinishedPhaseCanBeEndedOneWayOrTheOther) {
  for (const Transition& t : Transitions()) {
    if (HasEnded(t.to)) continue;
    const bool commit = NextPhase(t.role, t.to, Event::kCommitBegin).has_value();
    const bool rollback = NextPhase(t.role, t.to, Event::kRollbackBegin).has_value();
    EXPECT_TRUE(commit || rollback) << RoleName(t.role) << " " << PhaseName(t.to);
  }
}

TEST(MigrationTableTest, EachRoleHasItsOwnSteps) {
  EXPECT_FALSE(NextPhase(proto::ROLE_SOURCE, proto::PHASE_UNSPECIFIED, Event::kPrepareReceive));
  EXPECT_FALSE(
      NextPhase(proto::ROLE_DESTINATION, proto::PHASE_UNSPECIFIED, Event::kCheckpointBegin));
  EXPECT_FALSE(NextPhase(proto::ROLE_SOURCE, proto::PHASE_CHECKPOINTED, Event::kRestoreBegin));
  // A restore happens once: a second one finds RESTORING or RESTORED.
  EXPECT_FALSE(NextPhase(proto::ROLE_DESTINATION, proto::PHASE_RESTORING, Event::kRestoreBegin));
}

// Where the other side may run the container, a restart must not decide alone.
TEST(MigrationTableTest, RestartActionsFollowWhoMayRunTheContainer) {
  using proto::ROLE_DESTINATION;
  using proto::ROLE_SOURCE;
  EXPECT_EQ(OnRestart(ROLE_DESTINATION, proto::PHASE_PREPARED), RestartAction::kRollBack);
  EXPECT_EQ(OnRestart(ROLE_DESTINATION, proto::PHASE_RESTORING), RestartAction::kRollBack);
  EXPECT_EQ(OnRestart(ROLE_DESTINATION, proto::PHASE_RESTORED), RestartAction::kAwaitController);
  EXPECT_EQ(OnRestart(ROLE_SOURCE, proto::PHASE_CHECKPOINTING), RestartAction::kRollBack);
  EXPECT_EQ(OnRestart(ROLE_SOURCE, proto::PHASE_CHECKPOINTED), RestartAction::kAwaitController);
  for (proto::Role role : {ROLE_SOURCE, ROLE_DESTINATION}) {
    EXPECT_EQ(OnRestart(role, proto::PHASE_COMMITTING), RestartAction::kFinishCommit);
    EXPECT_EQ(OnRestart(role, proto::PHASE_ROLLING_BACK), RestartAction::kRollBack);
    EXPECT_EQ(OnRestart(role, proto::PHASE_FAILED), RestartAction::kAwaitOperator);
    EXPECT_EQ(OnRestart(role, proto::PHASE_COMMITTED), RestartAction::kNone);
    EXPECT_EQ(OnRestart(role, proto::PHASE_ROLLED_BACK), RestartAction::kNone);
  }
}

TEST(MigrationTableTest, CheckEventNamesTheMigrationRoleAndPhase) {
  proto::MigrationRecord record;
  record.set_migration_id("m7");
  record.set_role(proto::ROLE_DESTINATION);
  record.set_phase(proto::PHASE_COMMITTED);
  Status refused = CheckEvent(record, Event::kRollbackBegin);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(), "rollback: migration m7 is COMMITTED on its destination here");
  record.set_phase(proto::PHASE_RESTORED);
  EXPECT_TRUE(CheckEvent(record, Event::kCommitBegin).ok());
}

// docs/agent.md carries the table (headed "| role | from | event | to |") with the same rows
// as the code, no more, no fewer.
TEST(MigrationTableTest, TheDocsShowExactlyThisTable) {
  std::ifstream in(std::string(MIGRATE_SOURCE_DIR) + "/docs/agent.md");
  ASSERT_TRUE(in) << "docs/agent.md";
  std::set<std::string> documented;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line == "| role | from | event | to |") in_table = true;
    if (line.empty()) in_table = false;
    if (in_table && (line.rfind("| source |", 0) == 0 || line.rfind("| destination |", 0) == 0)) {
      documented.insert(line);
    }
  }
  ASSERT_FALSE(documented.empty()) << "no table headed \"| role | from | event | to |\"";
  std::set<std::string> code;
  for (const Transition& t : Transitions()) {
    std::string from = t.from == proto::PHASE_UNSPECIFIED ? "(new)" : PhaseName(t.from);
    code.insert("| " + RoleName(t.role) + " | " + from + " | " + std::string(EventName(t.event)) +
                " | " + PhaseName(t.to) + " |");
  }
  for (const std::string& row : code) EXPECT_TRUE(documented.count(row)) << "missing: " << row;
  for (const std::string& row : documented) EXPECT_TRUE(code.count(row)) << "not in code: " << row;
}

TEST(MigrationTableTest, EveryPhaseHasAName) {
  for (proto::Phase phase : kEveryPhase) {
    EXPECT_EQ(PhaseName(phase).find("PHASE_"), std::string::npos);
    EXPECT_FALSE(PhaseName(phase).empty());
  }
}

}  // namespace
}  // namespace migrate::agent
