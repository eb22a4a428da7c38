#include "agent/orphans.h"

#include <signal.h>

#include <thread>
#include <vector>

#include "agent/runtime/host_stats.h"
#include "transfer/base/log.h"

namespace migrate::agent {

namespace {

std::string PidList(const std::vector<int>& pids) {
  std::string list;
  for (int pid : pids) list += (list.empty() ? "" : " ") + std::to_string(pid);
  return list;
}

}  // namespace

Status WaitForOrphans(const std::string& dir, std::chrono::milliseconds wait,
                      const std::string& migration_id) {
  if (dir.empty()) return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + wait;
  bool logged = false;
  for (;;) {
    MIGRATE_ASSIGN_OR_RETURN(std::vector<int> pids, runtime::ProcessesUsing(dir));
    if (pids.empty()) return Status::Ok();
    const std::string list = PidList(pids);
    if (!logged) {
      MIGRATE_LOG(kWarn, migration_id) << "an interrupted dump or restore still uses " << dir
                                       << " (pids " << list << "): waiting for it to end";
      logged = true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("an interrupted dump or restore still uses " + dir + " (pids " +
                                 list + "); nothing was changed: roll back again once it ended");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status KillOrphans(const std::string& dir, const std::string& migration_id) {
  if (dir.empty()) return Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (bool first = true;; first = false) {
    MIGRATE_ASSIGN_OR_RETURN(std::vector<int> pids, runtime::ProcessesUsing(dir));
    if (pids.empty()) return Status::Ok();
    if (first) {
      MIGRATE_LOG(kWarn, migration_id) << "killing what the failed runtime call left using "
                                       << dir << " (pids " << PidList(pids) << ")";
    }
    for (int pid : pids) ::kill(pid, SIGKILL);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Unavailable("processes " + PidList(pids) + " still use " + dir +
                                 " after SIGKILL");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace migrate::agent
