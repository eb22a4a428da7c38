// Per-migration journal: the agent's durable memory of its part in each migration, so that
// a restarted agent ends every migration in a consistent state.
//
// Layout: <state_dir>/migrations/<migration_id>/journal.pb. Each Save() replaces the file
// atomically (write to a temporary, fsync, rename, fsync the folder): a crash leaves either
// the old or the new record, never a torn one.
#pragma once

#include <string>
#include <vector>

#include "proto/agent_state.pb.h"
#include "transfer/status.h"

namespace migrate::agent {

class Journal {
 public:
  explicit Journal(std::string state_dir);

  // <state_dir>/migrations/<id>; the id must be a safe name (checked by Save/Load).
  std::string MigrationDir(const std::string& migration_id) const;

  Status Save(const proto::MigrationRecord& record) const;
  Result<proto::MigrationRecord> Load(const std::string& migration_id) const;
  // Every journaled migration; records that cannot be read are reported, not skipped.
  Result<std::vector<proto::MigrationRecord>> LoadAll() const;
  // Removes the migration's folder and everything in it.
  Status Remove(const std::string& migration_id) const;

 private:
  std::string state_dir_;
};

// Migration ids are made by the controller: 1-64 characters of [A-Za-z0-9_-].
bool IsValidMigrationId(const std::string& id);

}  // namespace migrate::agent
