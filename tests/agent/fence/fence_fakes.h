// Fakes behind the fence core's interfaces: a clock the test moves, a state sink that keeps
// every state written, and actions that log their calls in order and fail on request.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/fence/destination_fence.h"
#include "agent/fence/source_fence.h"

namespace migrate::fence::testing {

class FakeClock final : public FenceClock {
 public:
  int64_t MonotonicNs() override { return now_ns; }
  uint64_t UnixMs() override { return unix_ms; }
  void AdvanceMs(int64_t ms) {
    now_ns += ms * 1'000'000;
    unix_ms += static_cast<uint64_t>(ms);
  }

  int64_t now_ns = 1'000'000'000'000;
  uint64_t unix_ms = 1'700'000'000'000;
};

class RecordingSink final : public StateSink {
 public:
  Status Write(const FenceState& state) override {
    written.push_back(state);
    return Status::Ok();
  }
  std::vector<std::string> States() const {
    std::vector<std::string> states;
    for (const FenceState& s : written) states.push_back(s.state);
    return states;
  }
  std::vector<FenceState> written;
};

// Every call appends its name to `calls`; a name in `failures` makes that call fail.
class ActionLog {
 public:
  Status Call(const std::string& name) {
    calls.push_back(name);
    auto it = failures.find(name);
    return it == failures.end() ? Status::Ok() : Status::IoError(it->second);
  }
  std::vector<std::string> calls;
  std::map<std::string, std::string> failures;
};

class FakeDestinationActions final : public DestinationActions, public ActionLog {
 public:
  Status KillCopy() override { return Call("kill"); }
};

class FakeSourceActions final : public SourceActions, public ActionLog {
 public:
  void ClosePageSocket() override { (void)Call("close-socket"); }
  Status StopCriu() override { return Call("stop-criu"); }
  Status UnlockNetwork() override { return Call("unlock-network"); }
  Status Thaw() override { return Call("thaw"); }
  Status KillTasks() override { return Call("kill-tasks"); }
  Status SendFin() override { return Call("fin"); }
  Status WaitCriuExit() override { return Call("wait-criu"); }
};

// LEASE-UNTIL / HOLD-UNTIL for `ms` after the clock's now.
inline std::string Until(const char* verb, const FakeClock& clock, int64_t ms) {
  return std::string(verb) + " " + std::to_string(clock.now_ns + ms * 1'000'000);
}

}  // namespace migrate::fence::testing
