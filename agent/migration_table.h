// The agent's state machine: for each role, the phases a migration goes through, the events
// that move it on, and what a restarted agent does in each phase. Every journal write goes
// through this table (MigrationStore::Advance), every request handler asks it whether its step
// may run, and start-up recovery takes its action from it. docs/agent.md shows the same table.
//
//   destination  (new) -prepare-receive-> PREPARED -restore-> RESTORING -> RESTORED
//                RESTORED -commit-> COMMITTING -> COMMITTED
//                PREPARED | RESTORING | RESTORED -rollback-> ROLLING_BACK -> ROLLED_BACK
//   source       (new) -checkpoint-send-> CHECKPOINTING -> CHECKPOINTED
//                CHECKPOINTED -commit-> COMMITTING -> COMMITTED
//                CHECKPOINTING | CHECKPOINTED | FAILED -rollback-> ROLLING_BACK
//                ROLLING_BACK -> ROLLED_BACK (runs here again) | FAILED (needs an operator)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/agent_api.pb.h"
#include "proto/agent_state.pb.h"
#include "transfer/base/status.h"

namespace migrate::agent {

enum class Event {
  kPrepareReceive,    // destination: streams expected
  kCheckpointBegin,   // source: journaled before the freeze
  kCheckpointFailed,  // source: the dump or a stream failed; the images were not delivered
  kCheckpointDone,    // source: images complete and kept, both streams verified
  kRestoreBegin,      // destination: journaled before the runtime restores
  kRestoreFailed,     // destination: the restore failed (a rollback follows)
  kRestoreDone,       // destination: the container runs here
  kCommitBegin,       // both: from here a commit can only be finished
  kCommitDone,
  kRollbackBegin,     // both: from here a rollback can only be finished
  kRollbackDone,
  kRollbackFailed,    // source: restoring here failed (FAILED); destination: retry later
};

std::string_view EventName(Event event);

// What a restarted agent does with a migration it finds in a phase.
enum class RestartAction {
  kNone,             // ended: only housekeeping touches it
  kRollBack,         // nobody else can have the container: undo here (waits for orphans first)
  kFinishCommit,     // the commit had begun: finish it
  kAwaitController,  // the other side may run the container: only commit or rollback decides
  kAwaitOperator,    // FAILED: see the record's message
};

std::string_view RestartActionName(RestartAction action);

struct Transition {
  proto::Role role;
  proto::Phase from;
  Event event;
  proto::Phase to;
};

// The whole table, for the docs and its tests.
const std::vector<Transition>& Transitions();

// The phase `event` leads to from `from`, or nothing when the table has no such transition.
std::optional<proto::Phase> NextPhase(proto::Role role, proto::Phase from, Event event);

// FailedPrecondition naming the migration's role and phase when `event` cannot happen now.
Status CheckEvent(const proto::MigrationRecord& record, Event event);

RestartAction OnRestart(proto::Role role, proto::Phase phase);

// COMMITTED or ROLLED_BACK: nothing of the migration is pending on this agent.
bool HasEnded(proto::Phase phase);

// "PREPARED", "CHECKPOINTING", ... (without the PHASE_ prefix).
std::string PhaseName(proto::Phase phase);
std::string RoleName(proto::Role role);

}  // namespace migrate::agent
