// A scripted AgentClient for controller tests: canned answers per call, every call recorded
// (as "<node>:<Method>") in a log shared by both fakes, and a failure injected at the Nth call.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/agent_client.h"
#include "controller/clock.h"

namespace migrate::controller::testing {

// Shared by the fakes of one test: the order of calls across both hosts.
struct CallLog {
  std::mutex mu;
  std::vector<std::string> calls;  // GetMigration polls are not recorded here
  int fail_at = -1;                // 0-based index of the recorded call that fails
  Status injected = Status::Unavailable("injected failure");
  bool injected_hit = false;

  std::vector<std::string> Calls() {
    std::lock_guard<std::mutex> lock(mu);
    return calls;
  }
  // Records `call`; returns the injected failure when it is the chosen one.
  Status Record(const std::string& call) {
    std::lock_guard<std::mutex> lock(mu);
    const int index = static_cast<int>(calls.size());
    calls.push_back(call);
    if (index == fail_at) {
      injected_hit = true;
      return injected;
    }
    return Status::Ok();
  }
};

class FakeAgentClient : public AgentClient {
 public:
  FakeAgentClient(std::string name, CallLog* log) : name_(std::move(name)), log_(log) {}

  // Canned answers (tests edit them before the run).
  proto::Health health;
  proto::Capabilities capabilities;
  proto::ContainerInfo inspect;
  proto::PreflightResponse preflight;
  proto::PrepareReceiveResponse prepare_receive;
  proto::CheckpointSendResponse checkpoint_send;
  proto::RestoreResponse restore;
  proto::MigrationStatus commit;
  proto::MigrationStatus rollback;
  proto::MigrationStatus migration;
  proto::MigrationList migrations;
  proto::ContainerList containers;
  // Method name -> error returned instead of the canned answer.
  std::map<std::string, Status> errors;
  // Runs inside CheckpointSend before it answers (e.g. to wait for a progress poll).
  std::function<void()> during_checkpoint;

  // What the controller sent.
  std::vector<proto::PreflightRequest> preflight_requests;
  std::vector<proto::CheckpointSendRequest> checkpoint_requests;
  std::vector<proto::RestoreRequest> restore_requests;
  std::vector<proto::CommitRequest> commit_requests;
  std::vector<proto::RollbackRequest> rollback_requests;

  int migration_polls() {
    std::lock_guard<std::mutex> lock(poll_mu_);
    return polls_;
  }
  // Waits (bounded) until GetMigration was called at least `n` times.
  bool WaitForPolls(int n) {
    std::unique_lock<std::mutex> lock(poll_mu_);
    return poll_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return polls_ >= n; });
  }

  const std::string& node_name() const override { return name_; }

  Result<proto::Health> GetHealth() override { return Answer("GetHealth", health); }
  Result<proto::Capabilities> GetCapabilities() override {
    return Answer("GetCapabilities", capabilities);
  }
  Result<proto::ContainerInfo> Inspect(const proto::InspectRequest&) override {
    return Answer("Inspect", inspect);
  }
  Result<proto::PreflightResponse> Preflight(const proto::PreflightRequest& req) override {
    preflight_requests.push_back(req);
    return Answer("Preflight", preflight);
  }
  Result<proto::PrepareReceiveResponse> PrepareReceive(
      const proto::PrepareReceiveRequest&) override {
    return Answer("PrepareReceive", prepare_receive);
  }
  Result<proto::CheckpointSendResponse> CheckpointSend(
      const proto::CheckpointSendRequest& req) override {
    checkpoint_requests.push_back(req);
    if (during_checkpoint) during_checkpoint();
    return Answer("CheckpointSend", checkpoint_send);
  }
  Result<proto::RestoreResponse> Restore(const proto::RestoreRequest& req) override {
    restore_requests.push_back(req);
    return Answer("Restore", restore);
  }
  Result<proto::MigrationStatus> Commit(const proto::CommitRequest& req) override {
    commit_requests.push_back(req);
    return Answer("Commit", commit);
  }
  Result<proto::MigrationStatus> Rollback(const proto::RollbackRequest& req) override {
    rollback_requests.push_back(req);
    return Answer("Rollback", rollback);
  }
  Result<proto::MigrationStatus> GetMigration(const std::string&) override {
    std::lock_guard<std::mutex> lock(poll_mu_);
    ++polls_;
    poll_cv_.notify_all();
    auto it = errors.find("GetMigration");
    if (it != errors.end()) return it->second;
    return migration;
  }
  Result<proto::MigrationList> ListMigrations() override {
    return Answer("ListMigrations", migrations);
  }
  Result<proto::ContainerList> ListContainers() override {
    return Answer("ListContainers", containers);
  }

 private:
  template <typename T>
  Result<T> Answer(const std::string& method, const T& value) {
    MIGRATE_RETURN_IF_ERROR(log_->Record(name_ + ":" + method));
    auto it = errors.find(method);
    if (it != errors.end()) return it->second;
    return value;
  }

  std::string name_;
  CallLog* log_;
  std::mutex poll_mu_;
  std::condition_variable poll_cv_;
  int polls_ = 0;
};

// Advances by `step_ms` at every reading: timings are deterministic.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t step_ms = 10) : step_ms_(step_ms) {}
  int64_t NowMs() override {
    now_ += step_ms_;
    return now_;
  }
  void SleepMs(int64_t ms) override {
    now_ += ms;
    slept_ms += ms;
  }
  int64_t slept_ms = 0;

 private:
  int64_t step_ms_;
  int64_t now_ = 1000;
};

// Two healthy agents, host-a (source, runs container "web") and host-b (destination),
// whose canned answers make a migration in `mode` succeed.
struct FakePair {
  CallLog log;
  std::unique_ptr<FakeAgentClient> source;
  std::unique_ptr<FakeAgentClient> destination;
};
std::unique_ptr<FakePair> MakeHealthyPair(proto::CgroupMode mode = proto::CGROUP_MODE_SOFT);

}  // namespace migrate::controller::testing
