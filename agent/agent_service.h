// The agent's API: every request of proto/agent_api.proto, and the agent's part of each
// migration (source or destination), journaled so that a restart ends in a consistent state.
//
// Threads: Handle() is called on the API server's I/O thread. Cheap requests (health,
// status) are answered there; everything that runs runc, CRIU or a transfer runs on the
// service's worker threads. One mutex per migration serialises its steps.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/api_server.h"
#include "agent/journal.h"
#include "agent/runtime/criu.h"
#include "agent/runtime/process_runner.h"
#include "agent/runtime/runtime.h"
#include "proto/agent_config.pb.h"
#include "transfer/stream_server.h"
#include "transfer/tls.h"

namespace boost::asio {
class thread_pool;
}

namespace migrate::agent {

struct AgentDeps {
  proto::AgentConfig config;             // complete (defaults applied, validated)
  runtime::Runtime* runtime = nullptr;
  runtime::Criu* criu = nullptr;
  runtime::ProcessRunner* runner = nullptr;
  transfer::StreamServer* streams = nullptr;  // this node's stream receiver
  tls::ContextPtr client_tls;                 // for streams this node sends
  std::string agent_version;
  // How long a rollback on the source waits for an interrupted dump (runc and CRIU outlive a
  // restart of the agent) to end before it gives up, changing nothing.
  std::chrono::milliseconds dump_wait{std::chrono::seconds(60)};
};

class AgentService {
 public:
  explicit AgentService(AgentDeps deps, int worker_threads = 4);
  ~AgentService();
  AgentService(const AgentService&) = delete;
  AgentService& operator=(const AgentService&) = delete;

  // Ends every journaled migration left unfinished by an earlier run of the agent in a
  // consistent state (see docs/agent.md). Call once before serving.
  Status Recover();

  // The API server's RequestHandler.
  void Handle(ApiRequest request, Respond respond);

  // Direct entry points (also used by Handle after decoding), each returns the response.
  Result<proto::Health> Health();
  Result<proto::Capabilities> Capabilities();
  Result<proto::ContainerInfo> Inspect(const proto::InspectRequest& request);
  Result<proto::PreflightResponse> Preflight(const proto::PreflightRequest& request);
  Result<proto::PrepareReceiveResponse> PrepareReceive(const proto::PrepareReceiveRequest& r);
  Result<proto::CheckpointSendResponse> CheckpointSend(const proto::CheckpointSendRequest& r);
  Result<proto::RestoreResponse> Restore(const proto::RestoreRequest& request);
  Result<proto::MigrationStatus> Commit(const proto::CommitRequest& request);
  Result<proto::MigrationStatus> Rollback(const proto::RollbackRequest& request);
  Result<proto::MigrationStatus> GetStatus(const std::string& migration_id);

 private:
  struct Migration;
  using MigrationPtr = std::shared_ptr<Migration>;

  // The in-memory entry of a migration (created or loaded from the journal).
  Result<MigrationPtr> Find(const std::string& migration_id);
  MigrationPtr FindOrCreate(const std::string& migration_id);
  Status Journal(Migration& m, proto::Phase phase, std::string message = "");

  std::string ContainerHome(const std::string& container_id) const;
  Status RestoreOnSource(Migration& m);
  Status WaitForDumpToEnd(const proto::MigrationRecord& r);
  Status RollbackDestination(Migration& m);
  proto::MigrationStatus StatusOf(Migration& m);

  AgentDeps deps_;
  agent::Journal journal_;
  std::unique_ptr<boost::asio::thread_pool> workers_;
  std::mutex mutex_;  // guards migrations_
  std::map<std::string, MigrationPtr> migrations_;
};

// Maps a Status to the HTTP status the API answers with.
unsigned HttpStatusFor(const Status& status);

}  // namespace migrate::agent
