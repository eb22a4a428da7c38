#include "agent/housekeeping.h"

#include <chrono>

#include "transfer/base/log.h"

namespace migrate::agent {
namespace {

void RemoveLogged(StateFiles& files, const std::string& path, const std::string& why) {
  Status removed = files.RemoveTree(path);
  if (removed.ok()) {
    MIGRATE_LOG(kInfo, "") << "housekeeping: removed " << path << " (" << why << ")";
  } else {
    MIGRATE_LOG(kWarn, "") << "housekeeping: " << removed.message();
  }
}

}  // namespace

void Housekeeping::AtStart() {
  StateFiles& files = ctx_.files();
  auto staged = files.List(ctx_.StagingDir());
  if (staged.ok()) {
    for (const std::string& name : *staged) {
      RemoveLogged(files, ctx_.StagingDir() + "/" + name, "a stream cut off by a restart");
    }
  }
  auto contents = ctx_.journal().LoadAll();
  if (!contents.ok()) return;
  for (const std::string& dir : contents->unjournaled_dirs) {
    RemoveLogged(files, dir, "never journaled");
  }
}

int Housekeeping::Sweep() {
  const uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count());
  const uint64_t keep_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.deps().retention).count());
  int removed = 0;
  for (const MigrationPtr& m : ctx_.store().All()) {
    const proto::MigrationRecord r = m->Published();
    if (!HasEnded(r.phase()) || r.keep_images() || r.updated_unix_ms() + keep_ms > now) continue;
    Status gone = ctx_.journal().Remove(r.migration_id());
    if (!gone.ok()) {
      MIGRATE_LOG(kWarn, r.migration_id()) << "housekeeping: " << gone.message();
      continue;
    }
    ctx_.store().Forget(r.migration_id());
    MIGRATE_LOG(kInfo, r.migration_id())
        << "housekeeping: removed the folder of a migration " << PhaseName(r.phase())
        << " longer ago than the retention time (" << keep_ms / 3'600'000.0 << " h)";
    ++removed;
  }
  return removed;
}

}  // namespace migrate::agent
