// StateFiles over the real file system that fails on purpose: the Nth call that changes
// something (write, mkdir, remove) fails with a chosen status, as a full disk or a failing
// fsync would. Counting every call first, then failing each in turn, exercises every
// failure point of a sequence (the way Beast's tests rerun an operation with a failure
// injected at step 0, 1, 2, ...).
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "agent/state_files.h"

namespace migrate::testing {

class FaultyStateFiles final : public agent::StateFiles {
 public:
  // Fails mutating call number `fail_at` (0-based) and, when `sticky`, every one after it.
  void FailAt(int fail_at, Status failure, bool sticky = false);
  void Heal() { fail_at_ = -1; }
  int mutating_calls() const { return calls_; }
  std::vector<std::string> log() const;  // "op path" per mutating call

  Status WriteAtomic(const std::string& path, const std::string& contents) override;
  Result<std::string> Read(const std::string& path) override;
  Status MakeDirs(const std::string& path) override;
  Status RemoveTree(const std::string& path) override;
  Result<std::vector<std::string>> List(const std::string& dir) override;
  bool Exists(const std::string& path) override;

 private:
  Status Step(const char* op, const std::string& path);

  std::atomic<int> calls_{0};
  std::atomic<int> fail_at_{-1};
  bool sticky_ = false;
  Status failure_;
  mutable std::mutex mutex_;  // guards log_
  std::vector<std::string> log_;
};

}  // namespace migrate::testing
