#include "agent/fence/source_fence.h"

#include <utility>

namespace migrate::fence {

SourceFence::SourceFence(FenceClock* clock, StateSink* sink, SourceActions* actions,
                         std::string label, pid_t pid)
    : FenceCore(clock, sink, InitialFenceState("source", std::move(label), "holding", pid),
                clock->MonotonicNs() + kFirstHoldNs),
      actions_(actions) {}

std::string SourceFence::Dispatch(const FenceCommand& command) {
  switch (command.verb) {
    case Verb::kHoldUntil:
      ExtendDeadline(command.number);
      return "OK";
    case Verb::kCommit:
      ClearDeadline();
      if (state().state != "committed") {
        SetState("committed", "the destination may hold the only complete copy");
      }
      return "COMMITTED";
    case Verb::kResume:
      return Resume(command.reason);
    case Verb::kRelease:
      return Release();
    default:
      return NotOurs(command, "source");
  }
}

void SourceFence::OnDeadline() { Resume("hold deadline passed"); }

std::string SourceFence::Resume(std::string reason) {
  return End(ResumeSteps(), "resumed", std::move(reason), "RESUMED");
}

std::string SourceFence::Release() {
  return End(ReleaseSteps(), "released", "the destination has every page", "RELEASED");
}

// Each step stops the sequence when it fails: thawing with CRIU alive or its network lock in
// place, or sending the FIN while tasks live, would be worse than staying frozen.
Status SourceFence::ResumeSteps() {
  actions_->ClosePageSocket();
  MIGRATE_RETURN_IF_ERROR(actions_->StopCriu());
  MIGRATE_RETURN_IF_ERROR(actions_->UnlockNetwork());
  return actions_->Thaw();
}

Status SourceFence::ReleaseSteps() {
  MIGRATE_RETURN_IF_ERROR(actions_->KillTasks());
  MIGRATE_RETURN_IF_ERROR(actions_->SendFin());
  MIGRATE_RETURN_IF_ERROR(actions_->Thaw());
  return actions_->WaitCriuExit();
}

}  // namespace migrate::fence
