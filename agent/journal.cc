#include "agent/journal.h"

namespace migrate::agent {
namespace {

Status InvalidId(const std::string& id) {
  return Status::InvalidArgument("journal: invalid migration id '" + id + "'");
}

}  // namespace

bool IsValidMigrationId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Journal::Journal(StateFiles& files, std::string state_dir)
    : files_(files), state_dir_(std::move(state_dir)) {}

Journal::Journal(std::string state_dir) : Journal(PosixStateFiles(), std::move(state_dir)) {}

std::string Journal::MigrationDir(const std::string& migration_id) const {
  return state_dir_ + "/migrations/" + migration_id;
}

std::string Journal::RecordPath(const std::string& migration_id) const {
  return MigrationDir(migration_id) + "/journal.pb";
}

Status Journal::Save(const proto::MigrationRecord& record) const {
  if (!IsValidMigrationId(record.migration_id())) return InvalidId(record.migration_id());
  std::string data;
  if (!record.SerializeToString(&data)) return Status::Internal("journal: serialize failed");
  MIGRATE_RETURN_IF_ERROR(
      files_.MakeDirs(MigrationDir(record.migration_id())).WithContext("journal"));
  return files_.WriteAtomic(RecordPath(record.migration_id()), data).WithContext("journal");
}

Result<proto::MigrationRecord> Journal::Load(const std::string& migration_id) const {
  if (!IsValidMigrationId(migration_id)) return InvalidId(migration_id);
  const std::string path = RecordPath(migration_id);
  Result<std::string> data = files_.Read(path);
  if (!data.ok()) {
    if (data.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("journal: no migration " + migration_id);
    }
    return data.status().WithContext("journal");
  }
  proto::MigrationRecord record;
  if (!record.ParseFromString(*data)) {
    return Status::DataLoss("journal: " + path + " is not a valid record");
  }
  if (record.migration_id() != migration_id) {
    return Status::DataLoss("journal: " + path + " names migration '" + record.migration_id() +
                            "'");
  }
  return record;
}

Result<JournalContents> Journal::LoadAll() const {
  JournalContents contents;
  const std::string root = state_dir_ + "/migrations";
  Result<std::vector<std::string>> names = files_.List(root);
  if (!names.ok()) return names.status().WithContext("journal");
  for (const std::string& id : *names) {
    if (!IsValidMigrationId(id)) continue;  // not ours
    Result<proto::MigrationRecord> record = Load(id);
    if (record.ok()) {
      contents.records.push_back(std::move(record).value());
    } else if (record.status().code() == StatusCode::kNotFound) {
      contents.unjournaled_dirs.push_back(MigrationDir(id));
    } else {
      contents.quarantined.push_back({id, RecordPath(id), record.status().message()});
    }
  }
  return contents;
}

Status Journal::Remove(const std::string& migration_id) const {
  if (!IsValidMigrationId(migration_id)) return InvalidId(migration_id);
  return files_.RemoveTree(MigrationDir(migration_id)).WithContext("journal");
}

}  // namespace migrate::agent
