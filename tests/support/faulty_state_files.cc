#include "tests/support/faulty_state_files.h"

namespace migrate::testing {

void FaultyStateFiles::FailAt(int fail_at, Status failure, bool sticky) {
  failure_ = std::move(failure);
  sticky_ = sticky;
  calls_ = 0;
  fail_at_ = fail_at;
}

Status FaultyStateFiles::Step(const char* op, const std::string& path) {
  const int n = calls_++;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    log_.push_back(std::string(op) + " " + path);
  }
  const int at = fail_at_;
  if (at >= 0 && (n == at || (sticky_ && n > at))) {
    return failure_.WithContext(std::string(op) + " " + path);
  }
  return Status::Ok();
}

std::vector<std::string> FaultyStateFiles::log() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return log_;
}

Status FaultyStateFiles::WriteAtomic(const std::string& path, const std::string& contents) {
  MIGRATE_RETURN_IF_ERROR(Step("write", path));
  return agent::PosixStateFiles().WriteAtomic(path, contents);
}

Result<std::string> FaultyStateFiles::Read(const std::string& path) {
  return agent::PosixStateFiles().Read(path);
}

Status FaultyStateFiles::MakeDirs(const std::string& path) {
  MIGRATE_RETURN_IF_ERROR(Step("mkdir", path));
  return agent::PosixStateFiles().MakeDirs(path);
}

Status FaultyStateFiles::RemoveTree(const std::string& path) {
  MIGRATE_RETURN_IF_ERROR(Step("remove", path));
  return agent::PosixStateFiles().RemoveTree(path);
}

Result<std::vector<std::string>> FaultyStateFiles::List(const std::string& dir) {
  return agent::PosixStateFiles().List(dir);
}

bool FaultyStateFiles::Exists(const std::string& path) {
  return agent::PosixStateFiles().Exists(path);
}

}  // namespace migrate::testing
