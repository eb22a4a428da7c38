// The only translation unit of the controller that includes Beast (slow to compile).
// clang-format off
#include <utility>  // g++ 12 + Boost 1.74: asio needs it first.
// clang-format on

#include "controller/https_agent_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace migrate::controller {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr char kContentType[] = "application/x-protobuf";

// Runs the io_context until the operation started by `start` completed; returns its error.
template <typename Start>
beast::error_code RunOperation(net::io_context& ioc, Start&& start) {
  beast::error_code result = net::error::would_block;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

Status TransportError(const std::string& what, const beast::error_code& ec) {
  if (ec == beast::error::timeout) return Status::DeadlineExceeded(what + ": timed out");
  return Status::Unavailable(what + ": " + ec.message());
}

}  // namespace

HttpsAgentClient::HttpsAgentClient(proto::InventoryHost host, tls::ContextPtr context,
                                   HttpsClientOptions options)
    : host_(std::move(host)), context_(std::move(context)), options_(options) {}

Result<std::string> HttpsAgentClient::Call(bool post, const std::string& target,
                                           const std::string* body,
                                           std::chrono::milliseconds timeout) {
  const std::string where = host_.name() + " (" + host_.address() + ":" +
                            std::to_string(host_.port()) + "): " + (post ? "POST " : "GET ") +
                            target;
  net::io_context ioc;
  beast::ssl_stream<beast::tcp_stream> stream(ioc, *context_);
  MIGRATE_RETURN_IF_ERROR(
      tls::ExpectServerName(stream.native_handle(), host_.name()).WithContext(where));

  tcp::resolver resolver(ioc);
  beast::tcp_stream& tcp_stream = beast::get_lowest_layer(stream);
  tcp::resolver::results_type endpoints;
  beast::error_code ec = RunOperation(ioc, [&](auto handler) {
    resolver.async_resolve(
        host_.address(), std::to_string(host_.port()),
        [&endpoints, handler](beast::error_code e, tcp::resolver::results_type results) mutable {
          endpoints = std::move(results);
          handler(e);
        });
  });
  if (ec) return TransportError(where + ": resolve " + host_.address(), ec);

  tcp_stream.expires_after(options_.connect_timeout);
  ec = RunOperation(ioc, [&](auto handler) { tcp_stream.async_connect(endpoints, handler); });
  if (ec) return TransportError(where + ": connect", ec);
  // The TLS Finished and the request are two small writes: with Nagle the request waits for
  // the agent's delayed ACK (40 ms a request, inside a migration's downtime).
  tcp_stream.socket().set_option(tcp::no_delay(true), ec);

  tcp_stream.expires_after(options_.connect_timeout);
  ec = RunOperation(
      ioc, [&](auto handler) { stream.async_handshake(net::ssl::stream_base::client, handler); });
  if (ec) {
    if (ec.category() == net::error::get_ssl_category()) {
      long verify = SSL_get_verify_result(stream.native_handle());
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "";
      return Status::PermissionDenied(where + ": TLS handshake refused: " + ec.message() + " (" +
                                      (why.empty() ? "" : why + "; ") +
                                      "is the agent's certificate issued by the cluster CA "
                                      "for the name \"" +
                                      host_.name() + "\" and not revoked?)");
    }
    return TransportError(where + ": TLS handshake", ec);
  }
  MIGRATE_ASSIGN_OR_RETURN(tls::PeerIdentity peer, tls::IdentifyPeer(stream.native_handle()));
  if (peer.role != tls::Role::kNode) {
    return Status::PermissionDenied(where + ": the peer's certificate has role " +
                                    std::string(tls::RoleName(peer.role)) + ", not node");
  }

  http::request<http::string_body> request{post ? http::verb::post : http::verb::get, target, 11};
  request.set(http::field::host, host_.name());
  request.set(http::field::user_agent, "migrate-controller");
  request.set(http::field::accept, kContentType);
  request.keep_alive(false);
  if (body != nullptr) {
    request.set(http::field::content_type, kContentType);
    request.body() = *body;
  }
  request.prepare_payload();

  tcp_stream.expires_after(timeout);
  ec = RunOperation(ioc, [&](auto handler) { http::async_write(stream, request, handler); });
  if (ec) return TransportError(where + ": send request", ec);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_response_bytes);
  tcp_stream.expires_after(timeout);
  ec = RunOperation(ioc, [&](auto handler) { http::async_read(stream, buffer, parser, handler); });
  if (ec) return TransportError(where + ": read response", ec);
  http::response<http::string_body> response = parser.release();

  // Orderly TLS close; the answer is complete, so a failure here changes nothing.
  tcp_stream.expires_after(std::chrono::seconds(2));
  (void)RunOperation(ioc, [&](auto handler) { stream.async_shutdown(handler); });

  const unsigned code = response.result_int();
  if (code >= 200 && code < 300) return std::move(response.body());
  proto::ApiError error;
  if (!response.body().empty() && error.ParseFromString(response.body()) && !error.code().empty()) {
    return Status(StatusCodeFromName(error.code()), where + ": " + error.message());
  }
  std::string text = response.body().substr(0, 200);
  return Status::Internal(where + ": HTTP " + std::to_string(code) + " " +
                          std::string(response.reason()) +
                          (text.empty() ? std::string() : ": " + text));
}

template <typename Response>
Result<Response> HttpsAgentClient::Get(const std::string& target,
                                       std::chrono::milliseconds timeout) {
  MIGRATE_ASSIGN_OR_RETURN(std::string body, Call(false, target, nullptr, timeout));
  Response response;
  if (!response.ParseFromString(body)) {
    return Status::DataLoss(host_.name() + ": GET " + target + ": the answer is not a " +
                            response.GetTypeName());
  }
  return response;
}

template <typename Response, typename Request>
Result<Response> HttpsAgentClient::Post(const std::string& target, const Request& request,
                                        std::chrono::milliseconds timeout) {
  std::string payload;
  if (!request.SerializeToString(&payload)) {
    return Status::Internal("cannot serialize " + request.GetTypeName());
  }
  MIGRATE_ASSIGN_OR_RETURN(std::string body, Call(true, target, &payload, timeout));
  Response response;
  if (!response.ParseFromString(body)) {
    return Status::DataLoss(host_.name() + ": POST " + target + ": the answer is not a " +
                            response.GetTypeName());
  }
  return response;
}

Result<proto::Health> HttpsAgentClient::GetHealth() {
  return Get<proto::Health>("/v1/health", options_.connect_timeout);
}

Result<proto::Capabilities> HttpsAgentClient::GetCapabilities() {
  return Get<proto::Capabilities>("/v1/capabilities", options_.request_timeout);
}

Result<proto::ContainerInfo> HttpsAgentClient::Inspect(const proto::InspectRequest& req) {
  return Post<proto::ContainerInfo>("/v1/inspect", req, options_.request_timeout);
}

Result<proto::PreflightResponse> HttpsAgentClient::Preflight(const proto::PreflightRequest& req) {
  return Post<proto::PreflightResponse>("/v1/preflight", req, options_.request_timeout);
}

Result<proto::PrepareReceiveResponse> HttpsAgentClient::PrepareReceive(
    const proto::PrepareReceiveRequest& req) {
  return Post<proto::PrepareReceiveResponse>("/v1/prepare-receive", req, options_.request_timeout);
}

Result<proto::CheckpointSendResponse> HttpsAgentClient::CheckpointSend(
    const proto::CheckpointSendRequest& req) {
  return Post<proto::CheckpointSendResponse>("/v1/checkpoint-send", req, options_.transfer_timeout);
}

Result<proto::RestoreResponse> HttpsAgentClient::Restore(const proto::RestoreRequest& req) {
  return Post<proto::RestoreResponse>("/v1/restore", req, options_.request_timeout);
}

Result<proto::MigrationStatus> HttpsAgentClient::Commit(const proto::CommitRequest& req) {
  return Post<proto::MigrationStatus>("/v1/commit", req, options_.request_timeout);
}

Result<proto::MigrationStatus> HttpsAgentClient::Rollback(const proto::RollbackRequest& req) {
  return Post<proto::MigrationStatus>("/v1/rollback", req, options_.request_timeout);
}

Result<proto::MigrationStatus> HttpsAgentClient::GetMigration(const std::string& migration_id) {
  for (char c : migration_id) {
    const bool safe = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      c == '-' || c == '_';
    if (!safe) return Status::InvalidArgument("bad migration id \"" + migration_id + "\"");
  }
  return Get<proto::MigrationStatus>("/v1/migrations/" + migration_id, options_.poll_timeout);
}

Result<proto::MigrationList> HttpsAgentClient::ListMigrations() {
  return Get<proto::MigrationList>("/v1/migrations", options_.request_timeout);
}

Result<proto::ContainerList> HttpsAgentClient::ListContainers() {
  return Get<proto::ContainerList>("/v1/containers", options_.request_timeout);
}

Result<std::unique_ptr<HttpsAgentClientFactory>> HttpsAgentClientFactory::Create(
    const proto::ControllerTlsFiles& files, HttpsClientOptions options) {
  tls::TlsFiles tls_files{files.ca(), files.cert(), files.key(), files.crl()};
  MIGRATE_ASSIGN_OR_RETURN(tls::ContextPtr context, tls::MakeClientContext(tls_files));
  return std::unique_ptr<HttpsAgentClientFactory>(
      new HttpsAgentClientFactory(std::move(context), options));
}

Result<std::unique_ptr<AgentClient>> HttpsAgentClientFactory::Connect(
    const proto::InventoryHost& host) {
  return std::unique_ptr<AgentClient>(new HttpsAgentClient(host, context_, options_));
}

}  // namespace migrate::controller
