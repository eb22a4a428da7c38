// The controller's view of one node agent: one method per call of proto/agent_api.proto.
// The real implementation is HttpsAgentClient (HTTP/1.1 over mutual TLS); tests use fakes.
#pragma once

#include <memory>
#include <string>

#include "proto/agent_api.pb.h"
#include "proto/controller.pb.h"
#include "transfer/base/status.h"

namespace migrate::controller {

// Every method is a blocking request/response. An agent's refusal (non-2xx + ApiError) comes
// back as a Status with the agent's code and message; transport failures as kUnavailable or
// kDeadlineExceeded; a peer that is not the expected node as kPermissionDenied.
// Implementations must allow calls from two threads at once (the controller polls
// GetMigration while CheckpointSend is in flight).
class AgentClient {
 public:
  virtual ~AgentClient() = default;

  // The inventory name of the node this client talks to.
  virtual const std::string& node_name() const = 0;

  virtual Result<proto::Health> GetHealth() = 0;              // GET /v1/health
  virtual Result<proto::Capabilities> GetCapabilities() = 0;  // GET /v1/capabilities
  virtual Result<proto::ContainerInfo> Inspect(const proto::InspectRequest& req) = 0;
  virtual Result<proto::PreflightResponse> Preflight(const proto::PreflightRequest& req) = 0;
  virtual Result<proto::PrepareReceiveResponse> PrepareReceive(
      const proto::PrepareReceiveRequest& req) = 0;
  // The freeze. Long: may take as long as the images take to stream.
  virtual Result<proto::CheckpointSendResponse> CheckpointSend(
      const proto::CheckpointSendRequest& req) = 0;
  virtual Result<proto::RestoreResponse> Restore(const proto::RestoreRequest& req) = 0;
  virtual Result<proto::MigrationStatus> Commit(const proto::CommitRequest& req) = 0;
  virtual Result<proto::MigrationStatus> Rollback(const proto::RollbackRequest& req) = 0;
  // GET /v1/migrations/<id>
  virtual Result<proto::MigrationStatus> GetMigration(const std::string& migration_id) = 0;
  virtual Result<proto::MigrationList> ListMigrations() = 0;  // GET /v1/migrations
  virtual Result<proto::ContainerList> ListContainers() = 0;  // GET /v1/containers
};

// Makes clients for inventory hosts (connections are opened lazily, per call).
class AgentClientFactory {
 public:
  virtual ~AgentClientFactory() = default;
  virtual Result<std::unique_ptr<AgentClient>> Connect(const proto::InventoryHost& host) = 0;
};

}  // namespace migrate::controller
