// The agent's HTTPS server: HTTP/1.1 over mutual TLS (Boost.Beast), or plain HTTP on a
// loopback address (StartPlain: the metrics endpoint). One session per connection, one strand
// per session, a timeout on every network operation (each as a
// whole: a handshake or request that trickles in is cut at its deadline). Connections are
// capped (ConnectionLimiter), accepted sockets are close-on-exec, and a process out of
// descriptors sheds connections instead of spinning (transfer::FdReserve).
//
// The server only moves bytes and authenticates: every request is handed, with the verified
// peer identity, to a RequestHandler, which answers through a callback (from any thread).
// Slow work (runc, CRIU, transfers) never runs on the I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "transfer/base/status.h"
#include "transfer/tls/tls.h"

namespace migrate::agent {

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v1/restore"
  std::string body;
  tls::PeerIdentity peer;
};

struct ApiResponse {
  unsigned status = 200;
  std::string content_type = "application/x-protobuf";
  std::string body;
};

using Respond = std::function<void(ApiResponse)>;
// Called on an I/O thread; must not block. `respond` may be called from any thread, once.
using RequestHandler = std::function<void(ApiRequest, Respond)>;

struct ApiServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 0;  // 0: any free port, see ApiServer::port()
  std::size_t max_body_bytes = 16 << 20;
  // Connections in their TLS handshake, counted apart; the oldest gives way to a newcomer.
  int max_handshakes = 1024;
  // All connections; when full, the longest idle one (or a handshake) gives way, and a
  // newcomer is refused only when every connection is busy with a request.
  int max_connections = 4096;
  int handshake_timeout_s = 10;  // the whole TLS handshake
  int read_timeout_s = 60;  // idle keep-alive and request read
  int write_timeout_s = 60;
  std::string name = "api";  // for logs
  // Optional: told of every connection closed before a request: "handshake" (TLS failed),
  // "identity" (no usable peer certificate), "limit" (every connection busy).
  std::function<void(std::string_view reason)> on_refused;
};

class ApiServer {
 public:
  virtual ~ApiServer() = default;
  // The bound port (useful with port 0).
  virtual uint16_t port() const = 0;
  // Stops accepting, closes sessions, joins the I/O thread. Idempotent.
  virtual void Stop() = 0;
  // Runs `work` on the I/O thread after what is queued there (the systemd watchdog's probe
  // that the thread is alive); never once Stop() was called.
  virtual void Post(std::function<void()> work) = 0;

  // Binds, listens and starts one I/O thread. Errors name the address that failed.
  static Result<std::unique_ptr<ApiServer>> Start(const ApiServerOptions& options,
                                                  tls::ContextPtr tls_context,
                                                  RequestHandler handler);
  // The same server in plain HTTP (requests carry no peer identity), for a loopback address
  // only: InvalidArgument for any other.
  static Result<std::unique_ptr<ApiServer>> StartPlain(const ApiServerOptions& options,
                                                       RequestHandler handler);
};

}  // namespace migrate::agent
