#include "agent/migration_table.h"

namespace migrate::agent {
namespace {

using proto::Phase;
constexpr proto::Role kSrc = proto::ROLE_SOURCE;
constexpr proto::Role kDst = proto::ROLE_DESTINATION;

const std::vector<Transition> kTable = {
    {kDst, proto::PHASE_UNSPECIFIED, Event::kPrepareReceive, proto::PHASE_PREPARED},
    {kDst, proto::PHASE_PREPARED, Event::kRestoreBegin, proto::PHASE_RESTORING},
    {kDst, proto::PHASE_RESTORING, Event::kRestoreFailed, proto::PHASE_RESTORING},
    {kDst, proto::PHASE_RESTORING, Event::kRestoreDone, proto::PHASE_RESTORED},
    {kDst, proto::PHASE_RESTORED, Event::kCommitBegin, proto::PHASE_COMMITTING},
    {kDst, proto::PHASE_COMMITTING, Event::kCommitBegin, proto::PHASE_COMMITTING},
    {kDst, proto::PHASE_COMMITTING, Event::kCommitDone, proto::PHASE_COMMITTED},
    {kDst, proto::PHASE_PREPARED, Event::kRollbackBegin, proto::PHASE_ROLLING_BACK},
    {kDst, proto::PHASE_RESTORING, Event::kRollbackBegin, proto::PHASE_ROLLING_BACK},
    {kDst, proto::PHASE_RESTORED, Event::kRollbackBegin, proto::PHASE_ROLLING_BACK},
    {kDst, proto::PHASE_ROLLING_BACK, Event::kRollbackBegin, proto::PHASE_ROLLING_BACK},
    {kDst, proto::PHASE_ROLLING_BACK, Event::kRollbackDone, proto::PHASE_ROLLED_BACK},
    {kDst, proto::PHASE_ROLLING_BACK, Event::kRollbackFailed, proto::PHASE_ROLLING_BACK},

    {kSrc, proto::PHASE_UNSPECIFIED, Event::kCheckpointBegin, proto::PHASE_CHECKPOINTING},
    {kSrc, proto::PHASE_CHECKPOINTING, Event::kCheckpointFailed, proto::PHASE_CHECKPOINTING},
    {kSrc, proto::PHASE_CHECKPOINTING, Event::kCheckpointDone, proto::PHASE_CHECKPOINTED},
    {kSrc, proto::PHASE_CHECKPOINTED, Event::kCommitBegin, proto::PHASE_COMMITTING},
    {kSrc, proto::PHASE_COMMITTING, Event::kCommitBegin, proto::PHASE_COMMITTING},
    {kSrc, proto::PHASE_COMMITTING, Event::kCommitDone, proto::PHASE_COMMITTED},
    {kSrc, proto::PHASE_CHECKPOINTING, Event::kRollbackBegin, proto::PHASE_ROLLING_BACK},
    {kSrc, proto::PHASE_CHECKPOINTED, Event::kRollbackBegin, proto::PHASE_ROLLING_BACK},
    {kSrc, proto::PHASE_FAILED, Event::kRollbackBegin, proto::PHASE_ROLLING_BACK},
    {kSrc, proto::PHASE_ROLLING_BACK, Event::kRollbackBegin, proto::PHASE_ROLLING_BACK},
    {kSrc, proto::PHASE_ROLLING_BACK, Event::kRollbackDone, proto::PHASE_ROLLED_BACK},
    {kSrc, proto::PHASE_ROLLING_BACK, Event::kRollbackFailed, proto::PHASE_FAILED},
};

}  // namespace

std::string_view EventName(Event event) {
  switch (event) {
    case Event::kPrepareReceive: return "prepare-receive";
    case Event::kCheckpointBegin: return "checkpoint";
    case Event::kCheckpointFailed: return "checkpoint failed";
    case Event::kCheckpointDone: return "checkpoint done";
    case Event::kRestoreBegin: return "restore";
    case Event::kRestoreFailed: return "restore failed";
    case Event::kRestoreDone: return "restore done";
    case Event::kCommitBegin: return "commit";
    case Event::kCommitDone: return "commit done";
    case Event::kRollbackBegin: return "rollback";
    case Event::kRollbackDone: return "rollback done";
    case Event::kRollbackFailed: return "rollback failed";
  }
  return "unknown";
}

std::string_view RestartActionName(RestartAction action) {
  switch (action) {
    case RestartAction::kNone: return "none";
    case RestartAction::kRollBack: return "roll back";
    case RestartAction::kFinishCommit: return "finish the commit";
    case RestartAction::kAwaitController: return "await commit or rollback";
    case RestartAction::kAwaitOperator: return "await an operator";
  }
  return "unknown";
}

const std::vector<Transition>& Transitions() { return kTable; }

std::optional<proto::Phase> NextPhase(proto::Role role, proto::Phase from, Event event) {
  for (const Transition& t : kTable) {
    if (t.role == role && t.from == from && t.event == event) return t.to;
  }
  return std::nullopt;
}

Status CheckEvent(const proto::MigrationRecord& record, Event event) {
  if (NextPhase(record.role(), record.phase(), event)) return Status::Ok();
  return Status::FailedPrecondition(std::string(EventName(event)) + ": migration " +
                                    record.migration_id() + " is " + PhaseName(record.phase()) +
                                    " on its " + RoleName(record.role()) + " here");
}

RestartAction OnRestart(proto::Role role, proto::Phase phase) {
  switch (phase) {
    case proto::PHASE_COMMITTED:
    case proto::PHASE_ROLLED_BACK:
    case proto::PHASE_UNSPECIFIED:
      return RestartAction::kNone;
    case proto::PHASE_COMMITTING:
      return RestartAction::kFinishCommit;
    case proto::PHASE_ROLLING_BACK:
      return RestartAction::kRollBack;
    case proto::PHASE_FAILED:
      return RestartAction::kAwaitOperator;
    case proto::PHASE_RESTORED:
    case proto::PHASE_CHECKPOINTED:
      // The other side may run the container (destination) or have been asked to (source).
      return RestartAction::kAwaitController;
    default:
      break;
  }
  // PREPARED, RESTORING (destination), CHECKPOINTING (source): the controller never learnt
  // that this step finished, so the other side never ran the container on its word.
  return role == kDst || role == kSrc ? RestartAction::kRollBack : RestartAction::kAwaitOperator;
}

bool HasEnded(proto::Phase phase) {
  return phase == proto::PHASE_COMMITTED || phase == proto::PHASE_ROLLED_BACK;
}

std::string PhaseName(proto::Phase phase) {
  std::string name = proto::Phase_Name(phase);
  return name.rfind("PHASE_", 0) == 0 ? name.substr(6) : name;
}

std::string RoleName(proto::Role role) {
  switch (role) {
    case proto::ROLE_SOURCE: return "source";
    case proto::ROLE_DESTINATION: return "destination";
    default: return "unknown role";
  }
}

}  // namespace migrate::agent
