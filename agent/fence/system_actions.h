// The real side effects of the fences: the system's clocks, the state file, the restored copy's
// cgroups, and the source's freezer, page socket, CRIU process and network namespace.
#pragma once

#include <string>
#include <vector>

#include "agent/fence/destination_fence.h"
#include "agent/fence/source_fence.h"
#include "agent/fence/watched_process.h"
#include "transfer/base/unique_fd.h"

namespace migrate::fence {

class SystemClock final : public FenceClock {
 public:
  int64_t MonotonicNs() override;
  uint64_t UnixMs() override;
};

class StateFile final : public StateSink {
 public:
  explicit StateFile(std::string path) : path_(std::move(path)) {}
  Status Write(const FenceState& state) override;

 private:
  std::string path_;
};

// Kills every listed cgroup (cgroup_control.h: KillCgroup), each verified.
class CgroupKiller final : public DestinationActions {
 public:
  explicit CgroupKiller(std::vector<std::string> cgroups) : cgroups_(std::move(cgroups)) {}
  Status KillCopy() override;

 private:
  std::vector<std::string> cgroups_;
};

struct SourceResources {
  transfer::UniqueFd page_socket;  // the TCP connection to CRIU's page server
  std::string freezer;             // the container's freezer cgroup dir
  transfer::UniqueFd netns;        // the container's network namespace
  WatchedProcess criu;
};

class SystemSourceActions final : public SourceActions {
 public:
  explicit SystemSourceActions(SourceResources resources) : r_(std::move(resources)) {}

  void ClosePageSocket() override;
  Status StopCriu() override;
  Status UnlockNetwork() override;
  Status Thaw() override;
  Status KillTasks() override;
  Status SendFin() override;
  Status WaitCriuExit() override;

 private:
  SourceResources r_;
};

}  // namespace migrate::fence
