#include "agent/fence/fence_core.h"

#include <algorithm>
#include <utility>

#include "transfer/base/log.h"

namespace migrate::fence {

FenceCore::FenceCore(FenceClock* clock, StateSink* sink, FenceState initial,
                     int64_t first_deadline_ns)
    : clock_(clock), sink_(sink), state_(std::move(initial)), deadline_ns_(first_deadline_ns) {}

void FenceCore::Start() { SetState(state_.state, state_.reason); }

std::string FenceCore::Handle(std::string_view line) {
  Tick();
  if (finished()) return "ERROR the fence has ended: " + state_.state;
  Result<FenceCommand> command = ParseFenceCommand(line);
  if (!command.ok()) return "ERROR " + command.status().message();
  if (command->verb == Verb::kStatus) return "STATE " + state_.state;
  return Dispatch(*command);
}

void FenceCore::Tick() {
  if (finished() || !deadline_ns_ || clock_->MonotonicNs() < *deadline_ns_) return;
  deadline_ns_.reset();
  OnDeadline();
}

void FenceCore::OnControlClosed() {
  MIGRATE_LOG(kWarn, state_.label) << "fence: the agent closed the control socket; state "
                                   << state_.state << ", acting alone from now on";
}

std::optional<int64_t> FenceCore::deadline_ns() const {
  if (finished()) return std::nullopt;
  return deadline_ns_;
}

std::string FenceCore::NotOurs(const FenceCommand& command, std::string_view role) {
  return "ERROR " + std::string(VerbName(command.verb)) + " is not a " + std::string(role) +
         " command";
}

void FenceCore::ExtendDeadline(int64_t until_ns) {
  if (deadline_ns_) deadline_ns_ = std::max(*deadline_ns_, until_ns);
}

void FenceCore::SetState(std::string state, std::string reason) {
  state_.state = std::move(state);
  state_.reason = std::move(reason);
  state_.updated_unix_ms = clock_->UnixMs();
  MIGRATE_LOG(kInfo, state_.label) << "fence (" << state_.role << "): " << state_.state
                                   << (state_.reason.empty() ? "" : ": ") << state_.reason;
  Status written = sink_->Write(state_);
  // The state file is a report; failing to write it must not stop the fencing itself.
  if (!written.ok()) {
    MIGRATE_LOG(kError, state_.label) << "fence: " << written.ToString();
  }
}

void FenceCore::Finish(int code) {
  exit_code_ = code;
  deadline_ns_.reset();
}

std::string FenceCore::End(const Status& status, std::string state, std::string reason,
                           std::string answer) {
  if (!status.ok()) {
    SetState("failed", reason + ": " + status.ToString());
    Finish(1);
    return FailedAnswer(status);
  }
  SetState(std::move(state), std::move(reason));
  Finish(0);
  return answer;
}

std::string FailedAnswer(const Status& status) {
  std::string message = status.ToString();
  std::replace(message.begin(), message.end(), '\n', ' ');
  return "FAILED " + message;
}

}  // namespace migrate::fence
