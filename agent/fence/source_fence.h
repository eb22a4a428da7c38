// The source's fence: the source's tasks stay frozen and whole while the destination may still
// need their pages. HOLD-UNTIL extends the hold (never shortens it); at the deadline the fence
// resumes the source on its own, unless COMMIT said that the destination may already hold the
// only complete copy: then only RESUME or RELEASE end it.
#pragma once

#include <sys/types.h>

#include <string>

#include "agent/fence/fence_core.h"

namespace migrate::fence {

// The source's side effects, in the order the fence uses them.
class SourceActions {
 public:
  virtual ~SourceActions() = default;
  // Resume: close the fence's page-socket fd (an RST when it is the last: CRIU fails the lazy
  // transfer and leaves the tasks alive, frozen).
  virtual void ClosePageSocket() = 0;
  // Resume: wait for CRIU to exit; SIGKILL it when it does not.
  virtual Status StopCriu() = 0;
  // Resume: remove CRIU's network lock from the container's network namespace.
  virtual Status UnlockNetwork() = 0;
  // Resume and release: thaw the freezer cgroup.
  virtual Status Thaw() = 0;
  // Release: SIGKILL every task of the (frozen) freezer cgroup; they die when thawed.
  virtual Status KillTasks() = 0;
  // Release: end the page connection with a FIN (CRIU: transfer complete).
  virtual Status SendFin() = 0;
  // Release: wait for CRIU to exit after the FIN.
  virtual Status WaitCriuExit() = 0;
};

class SourceFence final : public FenceCore {
 public:
  // Holding until clock->MonotonicNs() + kFirstHold.
  SourceFence(FenceClock* clock, StateSink* sink, SourceActions* actions, std::string label,
              pid_t pid);

  static constexpr int64_t kFirstHoldNs = 10'000'000'000;

 private:
  std::string Dispatch(const FenceCommand& command) override;
  void OnDeadline() override;
  // RESUMED or FAILED <message>; ends the fence.
  std::string Resume(std::string reason);
  // RELEASED or FAILED <message>; ends the fence.
  std::string Release();
  Status ResumeSteps();
  Status ReleaseSteps();

  SourceActions* actions_;
};

}  // namespace migrate::fence
