// Per-migration journal: the agent's durable memory of its part in each migration, so that
// a restarted agent ends every migration in a consistent state.
//
// Layout: <state_dir>/migrations/<migration_id>/journal.pb, written through StateFiles (a
// temporary file, fsync, rename, fsync of the folder): a crash leaves either the old or the
// new record, never a torn one.
#pragma once

#include <string>
#include <vector>

#include "agent/state_files.h"
#include "proto/agent_state.pb.h"
#include "transfer/base/status.h"

namespace migrate::agent {

// A record that could not be read: that migration is set aside, the others go on.
struct QuarantinedRecord {
  std::string migration_id;
  std::string path;
  std::string error;
};

struct JournalContents {
  std::vector<proto::MigrationRecord> records;
  std::vector<QuarantinedRecord> quarantined;
  // Migration folders without a record (a kill between creating the folder and journaling):
  // nothing refers to them.
  std::vector<std::string> unjournaled_dirs;
};

class Journal {
 public:
  Journal(StateFiles& files, std::string state_dir);
  explicit Journal(std::string state_dir);  // on the real file system

  // <state_dir>/migrations/<id>; the id must be a safe name (checked by Save/Load).
  std::string MigrationDir(const std::string& migration_id) const;
  std::string RecordPath(const std::string& migration_id) const;

  Status Save(const proto::MigrationRecord& record) const;
  // NotFound when never journaled; DataLoss when the record cannot be read.
  Result<proto::MigrationRecord> Load(const std::string& migration_id) const;
  // Every journaled migration. Only a folder that cannot be listed is an error.
  Result<JournalContents> LoadAll() const;
  // Removes the migration's folder and everything in it.
  Status Remove(const std::string& migration_id) const;

 private:
  StateFiles& files_;
  std::string state_dir_;
};

// Migration ids are made by the controller: 1-64 characters of [A-Za-z0-9_-].
bool IsValidMigrationId(const std::string& id);

}  // namespace migrate::agent
