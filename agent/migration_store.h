// The agent's migrations: the in-memory entry of each (loaded from the journal or begun by a
// request), the claim each unfinished migration holds on its container, and the one way a
// migration's phase changes (Advance: checked against the state machine, journaled, then
// published to status queries).
//
// Ownership rule: at most one unfinished migration per container on this agent. A second
// prepare-receive or checkpoint-send for a container that an unfinished migration holds is
// refused with AlreadyExists naming the holder, until that migration has ended.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/journal.h"
#include "agent/migration_table.h"
#include "proto/agent_state.pb.h"
#include "transfer/stream/stream_types.h"

namespace migrate::agent {

class AgentMetrics;

struct Migration {
  std::timed_mutex mutex;  // serialises the migration's steps; guards `record`
  std::atomic<int> enders{0};  // commit/rollback calls waiting for `mutex` (LockForEnding)
  proto::MigrationRecord record;
  // Live counters of this node's outgoing stream; `cancel` stops it (rollback, shutdown).
  transfer::TransferProgress send_progress;
  transfer::CancelFlag cancel;
  // When `record` entered its phase in this run of the agent (metrics); empty for a
  // migration loaded from the journal until its next phase.
  std::optional<std::chrono::steady_clock::time_point> phase_since;

  // What status queries show: `record` as last journaled. Status queries must not wait for
  // `mutex` (a checkpoint holds it for minutes), nor read `record` while a step writes it.
  proto::MigrationRecord Published() const;

 private:
  friend class MigrationStore;
  mutable std::mutex published_mutex_;
  proto::MigrationRecord published_;
};
using MigrationPtr = std::shared_ptr<Migration>;
using StepLock = std::unique_lock<std::timed_mutex>;

// The step lock of `m` for a commit or rollback, which may arrive while a step holds it for
// minutes (an operator's `migrate rollback` during a freeze). One such caller waits, up to
// `wait`; any other is told at once to retry: waiting callers must never fill the agent's
// workers. Unavailable either way (the controller repeats those calls).
Result<StepLock> LockForEnding(Migration& m, std::chrono::milliseconds wait);

class MigrationStore {
 public:
  // `metrics` (optional) is told of every phase change and every migration abandoned.
  explicit MigrationStore(const Journal& journal, AgentMetrics* metrics = nullptr)
      : journal_(journal), metrics_(metrics) {}

  // Registers every journaled migration (unfinished ones claim their containers) and sets the
  // unreadable ones aside. Returns the unfinished migrations, for recovery.
  Result<std::vector<MigrationPtr>> LoadJournal();

  // The migration, from memory or the journal. NotFound when this agent never journaled it;
  // DataLoss when its record is quarantined.
  Result<MigrationPtr> Find(const std::string& migration_id);

  // A new migration of `container_id` in `role`, not yet journaled: it claims the container.
  // AlreadyExists when the id is taken or an unfinished migration holds the container.
  // The caller journals it with Advance(), or gives it up with Abandon().
  Result<MigrationPtr> Begin(const std::string& migration_id, const std::string& container_id,
                             proto::Role role);
  // Forgets a migration begun but never journaled (refused before it touched anything).
  void Abandon(const MigrationPtr& m);

  // Moves `m` (whose step lock the caller holds) on by `event`: checks the table, journals
  // the new phase, publishes it. On a journal failure nothing changes, in memory either.
  Status Advance(Migration& m, Event event, std::string message = "");
  // Journals a change of the record's other fields in the current phase.
  Status Save(Migration& m);

  // The unfinished migration holding `container_id` here, if any.
  std::string HolderOf(const std::string& container_id) const;
  std::vector<QuarantinedRecord> quarantined() const;
  int unfinished() const;
  std::vector<MigrationPtr> All() const;
  void Forget(const std::string& migration_id);  // after housekeeping removed its folder

  const Journal& journal() const { return journal_; }

 private:
  void Publish(Migration& m);
  // Tells the metrics of the phase change just journaled; restarts the phase's clock.
  void Observe(Migration& m, Event event, proto::Phase from);
  void Register(const MigrationPtr& m);  // mutex_ held

  const Journal& journal_;
  AgentMetrics* const metrics_;
  mutable std::mutex mutex_;  // guards everything below
  std::map<std::string, MigrationPtr> migrations_;
  std::map<std::string, std::string> claims_;  // container id -> migration id
  std::map<std::string, QuarantinedRecord> quarantined_;
};

}  // namespace migrate::agent
