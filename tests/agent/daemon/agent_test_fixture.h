// Shared set-up of the agent daemon's tests: agents (AgentService) over a fake runtime and a
// fake CRIU, each with its own state directory, the real journal, and, where a test needs
// them, the real stream receiver and sender over loopback.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>

#include "agent/agent_service.h"
#include "tests/support/fake_runtime.h"
#include "tests/support/oci_spec.h"
#include "tests/transfer/test_pki.h"

namespace migrate::agent::test {

namespace fs = std::filesystem;
using testing::FakeRuntime;

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One node: its runtime, CRIU and state directory, and the agent serving it.
struct Host {
  FakeRuntime runtime;
  testing::FakeCriuRunner criu_runner;
  runtime::Criu criu{&criu_runner};
  std::string state;
  std::unique_ptr<AgentService> service;
};

class AgentTest : public ::testing::Test {
 protected:
  AgentDeps Deps(const std::string& name, const std::string& state, FakeRuntime& runtime,
                 runtime::Criu& criu) {
    AgentDeps deps;
    deps.config.set_node_name(name);
    deps.config.set_state_dir(state);
    deps.config.set_cgroup_parent("/migrate");
    deps.config.set_runc_root("/run/fake");
    *deps.config.mutable_received_containers() = received_policy_;
    deps.runtime = &runtime;
    deps.criu = &criu;
    deps.runner = &runner_;
    deps.agent_version = "test";
    deps.orphan_wait = orphan_wait_;
    deps.files = files_;
    return deps;
  }

  // An agent over the fixture's shared runtime (runtime_).
  std::unique_ptr<AgentService> MakeService(const std::string& name, const std::string& state,
                                            transfer::StreamServer* streams = nullptr,
                                            tls::ContextPtr client_tls = nullptr) {
    AgentDeps deps = Deps(name, state, runtime_, criu_);
    deps.streams = streams;
    deps.client_tls = std::move(client_tls);
    return std::make_unique<AgentService>(deps, 2);
  }

  // An agent with a runtime of its own, for tests that watch where the container runs.
  void StartHost(Host& host, const std::string& name, transfer::StreamServer* streams = nullptr,
                 tls::ContextPtr client_tls = nullptr, StateFiles* files = nullptr) {
    host.state = dir_.path() + "/" + name;
    fs::create_directories(host.state);
    AgentDeps deps = Deps(name, host.state, host.runtime, host.criu);
    if (files != nullptr) deps.files = files;
    deps.streams = streams;
    deps.client_tls = std::move(client_tls);
    host.service = std::make_unique<AgentService>(deps, 2);
  }

  // A checkpoint-send of container "web" (migration `id`, soft) to host-b at 127.0.0.1:port.
  static proto::CheckpointSendRequest CheckpointRequest(uint32_t port, std::string token,
                                                        const std::string& id = "m1") {
    proto::CheckpointSendRequest request;
    request.set_migration_id(id);
    request.set_container_id("web");
    request.set_cgroup_mode(proto::CGROUP_MODE_SOFT);
    request.mutable_target()->set_node_name("host-b");
    request.mutable_target()->set_address("127.0.0.1");
    request.mutable_target()->set_data_port(port);
    request.mutable_target()->set_token(std::move(token));
    return request;
  }

  static proto::PrepareReceiveRequest PrepareRequest(const std::string& id) {
    proto::PrepareReceiveRequest prepare;
    prepare.set_migration_id(id);
    prepare.set_container_id("web");
    prepare.set_source_node("host-a");
    return prepare;
  }

  // The source's journal record of migration "m1" for container "web".
  static proto::MigrationRecord SourceRecord(proto::Phase phase) {
    proto::MigrationRecord record;
    record.set_migration_id("m1");
    record.set_container_id("web");
    record.set_role(proto::ROLE_SOURCE);
    record.set_phase(phase);
    record.set_peer_node("host-b");
    record.set_source_bundle("/bundles/web");
    return record;
  }

  static proto::RollbackRequest RollbackOf(const std::string& migration_id) {
    proto::RollbackRequest request;
    request.set_migration_id(migration_id);
    return request;
  }

  static proto::CommitRequest CommitOf(const std::string& migration_id) {
    proto::CommitRequest request;
    request.set_migration_id(migration_id);
    return request;
  }

  // host-b's stream receiver on loopback, with a certificate from `pki`.
  static Result<std::unique_ptr<transfer::StreamServer>> StartStreams(testing::TestPki& pki) {
    transfer::StreamServerOptions options;
    options.bind_address = "127.0.0.1";
    options.tls = *tls::MakeServerContext(pki.Issue("host-b", tls::Role::kNode));
    return transfer::StreamServer::Start(options);
  }

  static const proto::PreflightCheck* FindCheck(const proto::PreflightResponse& r,
                                                const std::string& name) {
    for (const auto& c : r.checks()) {
      if (c.name() == name) return &c;
    }
    return nullptr;
  }

  void AddRunning(const std::string& id, const std::string& bundle) {
    runtime_.AddRunning(id, bundle);
  }

  // A bundle for container "web" at <dir>/<name>.
  std::string MakeBundle(const std::string& name) {
    const std::string bundle = dir_.path() + "/" + name;
    fs::create_directories(bundle + "/rootfs/bin");
    std::ofstream(bundle + "/config.json") << testing::kRuncSpec;
    std::ofstream(bundle + "/rootfs/bin/app") << std::string(50000, 'x');
    return bundle;
  }

  ApiResponse Call(AgentService& service, const std::string& method, const std::string& target,
                   const std::string& body, tls::Role role) {
    ApiRequest request;
    request.method = method;
    request.target = target;
    request.body = body;
    request.peer.common_name = "peer";
    request.peer.role = role;
    std::promise<ApiResponse> answer;
    service.Handle(request, [&answer](ApiResponse r) { answer.set_value(std::move(r)); });
    return answer.get_future().get();
  }

  // A process holding `dir` open for `seconds`, as a dump or restore in progress (runc, CRIU)
  // holds its image directory. Returns once the child holds it (the pipe's close-on-exec end
  // closes at the exec).
  static pid_t HoldOpen(const std::string& dir, const char* seconds) {
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
      if (open(dir.c_str(), O_RDONLY | O_DIRECTORY) < 0) _exit(126);
      execl("/bin/sleep", "sleep", seconds, static_cast<char*>(nullptr));
      _exit(127);
    }
    close(ready[1]);
    char byte;
    while (read(ready[0], &byte, 1) < 0 && errno == EINTR) {
    }
    close(ready[0]);
    return pid;
  }

  // The source's record of "m1" interrupted while dumping, and its image directory.
  proto::MigrationRecord SaveInterruptedDump() {
    proto::MigrationRecord record = SourceRecord(proto::PHASE_CHECKPOINTING);
    record.set_images_dir(dir_.path() + "/migrations/m1/images");
    fs::create_directories(record.images_dir());
    EXPECT_TRUE(Journal(dir_.path()).Save(record).ok());
    return record;
  }

  // host-a and host-b, each with its own runtime, over real streams (host-b receives).
  // `a_files` and `b_files` (may be null: the real file system) are each host's StateFiles.
  void StartTwoHosts(StateFiles* a_files = nullptr, StateFiles* b_files = nullptr) {
    pki_ = std::make_unique<testing::TestPki>(dir_.path() + "/pki-root");
    auto streams = StartStreams(*pki_);
    ASSERT_TRUE(streams.ok()) << streams.status().ToString();
    streams_ = std::move(streams).value();
    a_tls_ = *tls::MakeClientContext(pki_->Issue("host-a", tls::Role::kNode));
    StartHost(a_, "a", nullptr, a_tls_, a_files);
    StartHost(b_, "b", streams_.get(), nullptr, b_files);
  }

  // Prepare on host-b, checkpoint on host-a (container "web", streams for real), restore on
  // host-b; commits both when `commit`. The first failing step's status, else OK.
  Status Migrate(const std::string& id, proto::CgroupMode mode, bool commit) {
    proto::PrepareReceiveRequest prepare = PrepareRequest(id);
    prepare.set_approved_config_sha256(approved_config_sha256_);
    auto prepared = b_.service->PrepareReceive(prepare);
    if (!prepared.ok()) return prepared.status().WithContext("prepare");
    proto::CheckpointSendRequest checkpoint =
        CheckpointRequest(prepared->data_port(), prepared->images_token(), id);
    checkpoint.set_cgroup_mode(mode);
    checkpoint.set_bundle_token(prepared->bundle_token());
    auto dumped = a_.service->CheckpointSend(checkpoint);
    if (!dumped.ok()) return dumped.status().WithContext("checkpoint");
    proto::RestoreRequest restore;
    restore.set_migration_id(id);
    restore.set_container_id("web");
    restore.set_cgroup_mode(mode);
    auto restored = b_.service->Restore(restore);
    if (!restored.ok()) return restored.status().WithContext("restore");
    if (!commit) return Status::Ok();
    auto committed_b = b_.service->Commit(CommitOf(id));
    if (!committed_b.ok()) return committed_b.status().WithContext("commit on host-b");
    auto committed_a = a_.service->Commit(CommitOf(id));
    if (!committed_a.ok()) return committed_a.status().WithContext("commit on host-a");
    return Status::Ok();
  }

  // How many of the two hosts run container "web" (the one-copy rule: never more than one).
  int CopiesRunning() {
    return (a_.runtime.StatusOf("web") == "running" ? 1 : 0) +
           (b_.runtime.StatusOf("web") == "running" ? 1 : 0);
  }

  std::unique_ptr<testing::TestPki> pki_;
  std::unique_ptr<transfer::StreamServer> streams_;
  tls::ContextPtr a_tls_;
  Host a_;
  Host b_;
  std::chrono::milliseconds orphan_wait_{std::chrono::seconds(10)};
  proto::ReceivedContainerPolicy received_policy_;  // every agent's, set before it starts
  std::string approved_config_sha256_;  // what Migrate's prepare-receive names ("" none)
  StateFiles* files_ = nullptr;
  migrate::testing::TempDir dir_;
  FakeRuntime runtime_;
  testing::FakeCriuRunner runner_;
  runtime::Criu criu_{&runner_};
};

}  // namespace migrate::agent::test
