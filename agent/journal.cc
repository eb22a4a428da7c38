#include "agent/journal.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/runtime/file_util.h"

namespace migrate::agent {
namespace {

namespace fs = std::filesystem;

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

Journal::Journal(std::string state_dir) : state_dir_(std::move(state_dir)) {}

std::string Journal::MigrationDir(const std::string& migration_id) const {
  return state_dir_ + "/migrations/" + migration_id;
}

Status Journal::Save(const proto::MigrationRecord& record) const {
  if (!IsValidMigrationId(record.migration_id())) {
    return Status::InvalidArgument("journal: invalid migration id '" + record.migration_id() +
                                   "'");
  }
  std::string dir = MigrationDir(record.migration_id());
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("journal: create " + dir + ": " + ec.message());
  std::string data;
  if (!record.SerializeToString(&data)) return Status::Internal("journal: serialize failed");
  // Temporary file, fsync, rename, fsync of the folder: the old record or the new one.
  MIGRATE_RETURN_IF_ERROR(
      runtime::WriteFileAtomic(dir + "/journal.pb", data, 0600).WithContext("journal"));
  return runtime::SyncDirectory(dir).WithContext("journal");
}

Result<proto::MigrationRecord> Journal::Load(const std::string& migration_id) const {
  if (!IsValidMigrationId(migration_id)) {
    return Status::InvalidArgument("journal: invalid migration id '" + migration_id + "'");
  }
  std::string path = MigrationDir(migration_id) + "/journal.pb";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("journal: no migration " + migration_id);
  std::stringstream buffer;
  buffer << in.rdbuf();
  proto::MigrationRecord record;
  if (!record.ParseFromString(buffer.str())) {
    return Status::DataLoss("journal: " + path + " is not a valid record");
  }
  if (record.migration_id() != migration_id) {
    return Status::DataLoss("journal: " + path + " names migration '" + record.migration_id() +
                            "'");
  }
  return record;
}

Result<std::vector<proto::MigrationRecord>> Journal::LoadAll() const {
  std::vector<proto::MigrationRecord> records;
  std::string root = state_dir_ + "/migrations";
  std::error_code ec;
  if (!fs::exists(root, ec)) return records;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::string id = entry.path().filename().string();
    if (!entry.is_directory() || !IsValidMigrationId(id)) continue;
    if (!fs::exists(entry.path() / "journal.pb")) continue;  // never journaled
    MIGRATE_ASSIGN_OR_RETURN(auto record, Load(id));
    records.push_back(std::move(record));
  }
  if (ec) return Status::IoError("journal: list " + root + ": " + ec.message());
  return records;
}

Status Journal::Remove(const std::string& migration_id) const {
  if (!IsValidMigrationId(migration_id)) {
    return Status::InvalidArgument("journal: invalid migration id '" + migration_id + "'");
  }
  std::error_code ec;
  fs::remove_all(MigrationDir(migration_id), ec);
  if (ec) return Status::IoError("journal: remove " + MigrationDir(migration_id) + ": " +
                                 ec.message());
  return Status::Ok();
}

}  // namespace migrate::agent
