// AgentClient over HTTP/1.1 + mutual TLS (transfer/tls/tls.h): one connection per call, so that
// calls from two threads (CheckpointSend and the progress poll) never share a stream.
// The server must present a certificate of role node whose SAN DNS is the inventory name.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "controller/agent_client.h"
#include "proto/controller.pb.h"
#include "transfer/tls/tls.h"

namespace migrate::controller {

struct HttpsClientOptions {
  std::chrono::milliseconds connect_timeout{10'000};      // TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{120'000};     // ordinary calls (restore included)
  std::chrono::milliseconds transfer_timeout{1'800'000};  // checkpoint-send (images + bundle)
  std::chrono::milliseconds poll_timeout{5'000};          // GET /v1/migrations/<id>
  size_t max_response_bytes = 64 << 20;
};

class HttpsAgentClient final : public AgentClient {
 public:
  HttpsAgentClient(proto::InventoryHost host, tls::ContextPtr context, HttpsClientOptions options);

  const std::string& node_name() const override { return host_.name(); }

  Result<proto::Health> GetHealth() override;
  Result<proto::Capabilities> GetCapabilities() override;
  Result<proto::ContainerInfo> Inspect(const proto::InspectRequest& req) override;
  Result<proto::PreflightResponse> Preflight(const proto::PreflightRequest& req) override;
  Result<proto::PrepareReceiveResponse> PrepareReceive(
      const proto::PrepareReceiveRequest& req) override;
  Result<proto::CheckpointSendResponse> CheckpointSend(
      const proto::CheckpointSendRequest& req) override;
  Result<proto::RestoreResponse> Restore(const proto::RestoreRequest& req) override;
  Result<proto::MigrationStatus> Commit(const proto::CommitRequest& req) override;
  Result<proto::MigrationStatus> Rollback(const proto::RollbackRequest& req) override;
  Result<proto::MigrationStatus> GetMigration(const std::string& migration_id) override;
  Result<proto::MigrationList> ListMigrations() override;
  Result<proto::ContainerList> ListContainers() override;

 private:
  // One request/response on a fresh connection. `body` is null for GET. Returns the 2xx body,
  // or the agent's ApiError as a Status (context: "<node>: <METHOD> <target>").
  Result<std::string> Call(bool post, const std::string& target, const std::string* body,
                           std::chrono::milliseconds timeout);

  template <typename Response>
  Result<Response> Get(const std::string& target, std::chrono::milliseconds timeout);
  template <typename Response, typename Request>
  Result<Response> Post(const std::string& target, const Request& request,
                        std::chrono::milliseconds timeout);

  proto::InventoryHost host_;
  tls::ContextPtr context_;
  HttpsClientOptions options_;
};

class HttpsAgentClientFactory final : public AgentClientFactory {
 public:
  // Loads the controller's certificate, key and CA (errors name the file).
  static Result<std::unique_ptr<HttpsAgentClientFactory>> Create(
      const proto::ControllerTlsFiles& files, HttpsClientOptions options);

  Result<std::unique_ptr<AgentClient>> Connect(const proto::InventoryHost& host) override;

 private:
  HttpsAgentClientFactory(tls::ContextPtr context, HttpsClientOptions options)
      : context_(std::move(context)), options_(options) {}

  tls::ContextPtr context_;
  HttpsClientOptions options_;
};

}  // namespace migrate::controller
