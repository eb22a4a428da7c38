// The fence's decision core, apart from every side effect: deadline bookkeeping, the control
// protocol and the state it reports. DestinationFence and SourceFence hold the role's rules;
// the clock, the actions and the state file sit behind the small interfaces below, so the
// rules are tested with fakes and the real effects (system_actions.h) on their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/fence/fence_command.h"
#include "agent/fence/fence_state.h"

namespace migrate::fence {

class FenceClock {
 public:
  virtual ~FenceClock() = default;
  // CLOCK_MONOTONIC in nanoseconds: the clock of LEASE-UNTIL and HOLD-UNTIL.
  virtual int64_t MonotonicNs() = 0;
  virtual uint64_t UnixMs() = 0;
};

// Where the fence's state goes at every change (the state file).
class StateSink {
 public:
  virtual ~StateSink() = default;
  virtual Status Write(const FenceState& state) = 0;
};

// What a role shares: Handle() answers one control line, Tick() acts once the deadline has
// passed, and both check the deadline first, so a command that arrives late never saves what
// the deadline condemned. Once finished() the fence has done its one job and the process exits
// with exit_code().
class FenceCore {
 public:
  virtual ~FenceCore() = default;

  // Writes the first state ("armed" / "holding").
  void Start();
  // One line without its newline -> the answer, without its newline.
  std::string Handle(std::string_view line);
  void Tick();
  // The agent went away: the fence runs on and acts at its deadline.
  void OnControlClosed();

  // When Tick() will act; nullopt when no time is set (a committed source, a finished fence).
  std::optional<int64_t> deadline_ns() const;
  bool finished() const { return exit_code_.has_value(); }
  int exit_code() const { return exit_code_.value_or(0); }
  const FenceState& state() const { return state_; }

 protected:
  FenceCore(FenceClock* clock, StateSink* sink, FenceState initial, int64_t first_deadline_ns);

  // The role's answer to a parsed command; ERROR for a verb of the other role.
  virtual std::string Dispatch(const FenceCommand& command) = 0;
  // The deadline passed while no command ended the fence.
  virtual void OnDeadline() = 0;

  static std::string NotOurs(const FenceCommand& command, std::string_view role);
  void ExtendDeadline(int64_t until_ns);
  void ClearDeadline() { deadline_ns_.reset(); }
  void SetState(std::string state, std::string reason);
  // Recorded with the next SetState().
  void SetRanMs(uint64_t ran_ms) { state_.ran_ms = ran_ms; }
  // Ends the fence: the loop stops, the process exits with `code`.
  void Finish(int code);
  // Ends the fence after its last action: `state` and `answer` when `status` is OK, else state
  // "failed", exit code 1 and FAILED <message>.
  std::string End(const Status& status, std::string state, std::string reason, std::string answer);
  FenceClock* clock() { return clock_; }

 private:
  FenceClock* clock_;
  StateSink* sink_;
  FenceState state_;
  std::optional<int64_t> deadline_ns_;
  std::optional<int> exit_code_;
};

// "FAILED <message on one line>".
std::string FailedAnswer(const Status& status);

}  // namespace migrate::fence
