#include "agent/migration_store.h"

#include <chrono>

#include "agent/agent_metrics.h"
#include "transfer/base/log.h"
#include "transfer/base/unix_time.h"

namespace migrate::agent {
namespace {

uint64_t NowUnixMillis() { return UnixMillis(std::chrono::system_clock::now()); }

}  // namespace

Result<StepLock> LockForEnding(Migration& m, std::chrono::milliseconds wait) {
  StepLock lock(m.mutex, std::try_to_lock);
  if (lock.owns_lock()) return lock;
  const std::string id = m.Published().migration_id();  // a copy: Published() is a temporary
  if (m.enders.fetch_add(1) > 0) {
    m.enders.fetch_sub(1);
    return Status::Unavailable("a commit or rollback of migration " + id +
                               " is waiting already: retry later");
  }
  const bool taken = lock.try_lock_for(wait);
  m.enders.fetch_sub(1);
  if (!taken) {
    return Status::Unavailable("migration " + id + " is busy (a step of it runs): retry later");
  }
  return lock;
}

proto::MigrationRecord Migration::Published() const {
  std::lock_guard<std::mutex> lock(published_mutex_);
  return published_;
}

void MigrationStore::Publish(Migration& m) {
  std::lock_guard<std::mutex> lock(m.published_mutex_);
  m.published_ = m.record;
}

void MigrationStore::Register(const MigrationPtr& m) {
  migrations_[m->record.migration_id()] = m;
  if (!HasEnded(m->record.phase())) claims_[m->record.container_id()] = m->record.migration_id();
}

Result<std::vector<MigrationPtr>> MigrationStore::LoadJournal() {
  MIGRATE_ASSIGN_OR_RETURN(JournalContents contents, journal_.LoadAll());
  std::vector<MigrationPtr> unfinished;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const QuarantinedRecord& q : contents.quarantined) {
    MIGRATE_LOG(kError, q.migration_id)
        << "journal record quarantined (nothing of this migration is touched until an operator "
           "looked at it): "
        << q.error;
    quarantined_[q.migration_id] = q;
  }
  for (proto::MigrationRecord& record : contents.records) {
    auto m = std::make_shared<Migration>();
    m->record = std::move(record);
    Publish(*m);
    const std::string holder = claims_.count(m->record.container_id()) != 0
                                   ? claims_[m->record.container_id()]
                                   : std::string();
    if (!holder.empty() && !HasEnded(m->record.phase())) {
      MIGRATE_LOG(kWarn, m->record.migration_id())
          << "container " << m->record.container_id() << " is also held by unfinished migration "
          << holder;
    }
    Register(m);
    if (!HasEnded(m->record.phase())) unfinished.push_back(m);
  }
  return unfinished;
}

Result<MigrationPtr> MigrationStore::Find(const std::string& migration_id) {
  if (!IsValidMigrationId(migration_id)) {
    return Status::InvalidArgument("invalid migration id '" + migration_id + "'");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto q = quarantined_.find(migration_id); q != quarantined_.end()) {
    return Status::DataLoss("migration " + migration_id + " is quarantined: its journal record " +
                            q->second.path + " cannot be read (" + q->second.error + ")");
  }
  if (auto it = migrations_.find(migration_id); it != migrations_.end()) return it->second;
  Result<proto::MigrationRecord> record = journal_.Load(migration_id);
  if (!record.ok()) return record.status();
  auto m = std::make_shared<Migration>();
  m->record = std::move(record).value();
  Publish(*m);
  Register(m);
  return m;
}

Result<MigrationPtr> MigrationStore::Begin(const std::string& migration_id,
                                           const std::string& container_id, proto::Role role) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (migrations_.count(migration_id) != 0 || quarantined_.count(migration_id) != 0 ||
      journal_.Load(migration_id).status().code() != StatusCode::kNotFound) {
    return Status::AlreadyExists("migration " + migration_id + " already exists on this agent");
  }
  if (auto held = claims_.find(container_id); held != claims_.end()) {
    return Status::AlreadyExists("container " + container_id + " is held by unfinished migration " +
                                 held->second + " on this agent: end it first (commit or "
                                 "`migrate rollback " + held->second + " ...`)");
  }
  auto m = std::make_shared<Migration>();
  m->record.set_migration_id(migration_id);
  m->record.set_container_id(container_id);
  m->record.set_role(role);
  m->record.set_created_unix_ms(NowUnixMillis());
  m->phase_since = std::chrono::steady_clock::now();
  Publish(*m);
  Register(m);
  return m;
}

void MigrationStore::Abandon(const MigrationPtr& m) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string& id = m->record.migration_id();
  auto it = migrations_.find(id);
  if (it == migrations_.end() || it->second != m) return;
  if (metrics_ != nullptr) metrics_->Refused(m->record.role());
  migrations_.erase(it);
  auto claim = claims_.find(m->record.container_id());
  if (claim != claims_.end() && claim->second == id) claims_.erase(claim);
}

Status MigrationStore::Advance(Migration& m, Event event, std::string message) {
  proto::MigrationRecord& r = m.record;
  MIGRATE_RETURN_IF_ERROR(CheckEvent(r, event));
  const proto::MigrationRecord before = r;
  r.set_phase(*NextPhase(r.role(), r.phase(), event));
  r.set_message(std::move(message));
  r.set_updated_unix_ms(NowUnixMillis());
  if (Status saved = journal_.Save(r); !saved.ok()) {
    r = before;  // memory mirrors the journal
    return saved.WithContext(std::string(EventName(event)));
  }
  MIGRATE_LOG(kInfo, r.migration_id())
      << EventName(event) << ": phase " << PhaseName(r.phase())
      << (r.message().empty() ? "" : ": " + r.message());
  Publish(m);
  Observe(m, event, before.phase());
  if (HasEnded(r.phase())) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto claim = claims_.find(r.container_id());
    if (claim != claims_.end() && claim->second == r.migration_id()) claims_.erase(claim);
  }
  return Status::Ok();
}

void MigrationStore::Observe(Migration& m, Event event, proto::Phase from) {
  const auto now = std::chrono::steady_clock::now();
  const proto::Phase to = m.record.phase();
  if (metrics_ != nullptr) {
    std::optional<Seconds> time_in_from;
    if (m.phase_since) time_in_from = now - *m.phase_since;
    metrics_->Advanced(m.record.role(), event, from, to, time_in_from);
  }
  if (to != from) m.phase_since = now;
}

Status MigrationStore::Save(Migration& m) {
  m.record.set_updated_unix_ms(NowUnixMillis());
  MIGRATE_RETURN_IF_ERROR(journal_.Save(m.record));
  Publish(m);
  return Status::Ok();
}

std::string MigrationStore::HolderOf(const std::string& container_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = claims_.find(container_id);
  return it == claims_.end() ? std::string() : it->second;
}

std::vector<QuarantinedRecord> MigrationStore::quarantined() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<QuarantinedRecord> out;
  for (const auto& [id, q] : quarantined_) out.push_back(q);
  return out;
}

int MigrationStore::unfinished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int>(claims_.size());
}

std::vector<MigrationPtr> MigrationStore::All() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<MigrationPtr> out;
  for (const auto& [id, m] : migrations_) out.push_back(m);
  return out;
}

void MigrationStore::Forget(const std::string& migration_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = migrations_.find(migration_id);
  if (it != migrations_.end() && HasEnded(it->second->Published().phase())) migrations_.erase(it);
}

}  // namespace migrate::agent
