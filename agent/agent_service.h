// The agent's API: decodes every request of proto/agent_api.proto, routes it to the part of
// the agent that owns it (preflight.h, source_steps.h, destination_steps.h, node_queries.h),
// encodes the answer. Commit, rollback and start-up recovery dispatch by the migration's role
// and phase through the state machine (migration_table.h).
//
// Threads: Handle() is called on the API server's I/O thread. Cheap requests (health,
// status) are answered there; everything that runs runc, CRIU or a transfer runs on the
// service's worker threads. One mutex per migration serialises its steps.
#pragma once

#include <memory>
#include <string>

#include "agent/agent_context.h"
#include "agent/api_server.h"
#include "agent/destination_steps.h"
#include "agent/housekeeping.h"
#include "agent/source_steps.h"

namespace boost::asio {
class thread_pool;
}

namespace migrate::agent {

class AgentService {
 public:
  explicit AgentService(AgentDeps deps, int worker_threads = 4);
  ~AgentService();  // cancels every running stream, then joins the workers
  AgentService(const AgentService&) = delete;
  AgentService& operator=(const AgentService&) = delete;

  // Ends every journaled migration left unfinished by an earlier run of the agent as the
  // state machine says (docs/agent.md): rolls back, finishes a commit, or waits for the
  // controller. Unreadable records are quarantined, the others recovered. Call once before
  // serving.
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
  Status RecoverOne(Migration& m);
  Status Dispatch(Migration& m, Event event);

  AgentContext ctx_;
  SourceSteps source_{ctx_};
  DestinationSteps destination_{ctx_};
  Housekeeping housekeeping_{ctx_};
  std::unique_ptr<boost::asio::thread_pool> workers_;
};

// Maps a Status to the HTTP status the API answers with.
unsigned HttpStatusFor(const Status& status);

}  // namespace migrate::agent
