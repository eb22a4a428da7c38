#include "agent/api_server.h"

#include <utility>  // before asio: g++ 12 + Boost 1.74

#include <fcntl.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <map>
#include <string_view>
#include <thread>
#include <type_traits>

#include "agent/connection_limiter.h"
#include "transfer/stream/fd_reserve.h"
#include "transfer/base/log.h"

namespace migrate::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using ErrorCode = beast::error_code;

// Expected ends of a connection are not worth a warning.
bool IsOrdinaryClose(const ErrorCode& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::ssl::error::stream_truncated || ec == asio::error::operation_aborted ||
         ec == asio::error::connection_reset || ec == beast::error::timeout;
}

using Stage = ConnectionLimiter::Stage;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using PlainStream = beast::tcp_stream;

// What the listener and Stop() need of a session, whichever its stream.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // From any thread: closes the connection.
  virtual void Close() = 0;
};

// Shared between the listener and its sessions: which connections are open (so that Stop()
// and the limiter can close them) and at which stage each is.
struct SessionRegistry {
  SessionRegistry(int max_handshakes, int max_connections)
      : limiter(max_handshakes, max_connections) {}
  std::mutex mutex;
  std::map<uint64_t, std::weak_ptr<SessionBase>> sessions;  // by id
  ConnectionLimiter limiter;
};

// One connection: over mutual TLS (TlsStream), or plain HTTP on a loopback address
// (PlainStream: no handshake, no peer identity).
template <class Stream>
class Session final : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(tcp::socket socket, asio::ssl::context* ctx, const ApiServerOptions& options,
          RequestHandler handler, std::shared_ptr<SessionRegistry> registry, uint64_t id)
      : stream_(MakeStream(std::move(socket), ctx)),
        options_(options),
        handler_(std::move(handler)),
        registry_(std::move(registry)),
        id_(id) {}

  void Run() {
    {
      std::lock_guard<std::mutex> lock(registry_->mutex);
      registry_->sessions[id_] = this->weak_from_this();
    }
    // Start on the session's strand: every handler of this session runs there.
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::OnRun, this->shared_from_this()));
  }

  void Close() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      ErrorCode ignored;
      beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both,
                                                               ignored);
      beast::get_lowest_layer(self->stream_).close();
    });
  }

  ~Session() override {
    registry_->limiter.Remove(id_);
    std::lock_guard<std::mutex> lock(registry_->mutex);
    registry_->sessions.erase(id_);
  }

 private:
  // Guaranteed copy elision: neither stream type needs to be movable.
  static Stream MakeStream(tcp::socket socket, asio::ssl::context* ctx) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *ctx);
    } else {
      return Stream(std::move(socket));
    }
  }

  void Fail(const ErrorCode& ec, const char* what) {
    if (IsOrdinaryClose(ec)) {
      MIGRATE_LOG(kDebug, "") << options_.name << ": " << what << ": " << ec.message();
    } else {
      MIGRATE_LOG(kWarn, "") << options_.name << ": " << what << " from " << remote_ << ": "
                             << ec.message();
    }
  }

  void Refused(std::string_view reason) {
    if (options_.on_refused) options_.on_refused(reason);
  }

  void OnRun() {
    ErrorCode ec;
    auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    remote_ = ec ? std::string("?") : endpoint.address().to_string() + ":" +
                                          std::to_string(endpoint.port());
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(
          std::chrono::seconds(options_.handshake_timeout_s));
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          beast::bind_front_handler(&Session::OnHandshake, this->shared_from_this()));
    } else {
      DoRead();
    }
  }

  void OnHandshake(ErrorCode ec) {
    // A plaintext client, a certificate from another CA, an expired one: all end here.
    if (ec) {
      Refused("handshake");
      return Fail(ec, "TLS handshake");
    }
    auto peer = tls::IdentifyPeer(stream_.native_handle());
    if (!peer.ok()) {
      Refused("identity");
      MIGRATE_LOG(kWarn, "") << options_.name << ": refusing " << remote_ << ": "
                             << peer.status().ToString();
      return DoClose();
    }
    peer_ = std::move(peer).value();
    DoRead();
  }

  void DoRead() {
    registry_->limiter.SetStage(id_, Stage::kIdle);  // may give way to a newcomer from now on
    parser_.emplace();
    parser_->body_limit(options_.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(options_.read_timeout_s));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, this->shared_from_this()));
  }

  void OnRead(ErrorCode ec, std::size_t /*bytes*/) {
    if (ec == http::error::end_of_stream) return DoClose();
    if (ec == http::error::body_limit) {
      return SendError(413, "body too large", /*keep_alive=*/false);
    }
    if (ec) return Fail(ec, "read");
    registry_->limiter.SetStage(id_, Stage::kBusy);
    auto request = parser_->release();
    keep_alive_ = request.keep_alive();
    ApiRequest api_request;
    api_request.method = std::string(request.method_string());
    api_request.target = std::string(request.target());
    api_request.body = std::move(request.body());
    api_request.peer = peer_;
    MIGRATE_LOG(kDebug, "") << options_.name << ": " << api_request.method << " " << api_request.target
                            << " from " << peer_.common_name << " (" << remote_ << ")";
    // The handler may take minutes (a checkpoint): no read timeout while it runs.
    beast::get_lowest_layer(stream_).expires_never();
    auto self = this->shared_from_this();
    auto executor = stream_.get_executor();
    auto responded = std::make_shared<std::atomic<bool>>(false);
    handler_(std::move(api_request), [self, executor, responded](ApiResponse response) {
      if (responded->exchange(true)) return;  // a second answer is a bug; ignore it
      asio::post(executor, [self, r = std::move(response)]() mutable {
        self->DoWrite(std::move(r));
      });
    });
  }

  void SendError(unsigned status, std::string message, bool keep_alive) {
    keep_alive_ = keep_alive;
    ApiResponse response;
    response.status = status;
    response.content_type = "text/plain";
    response.body = std::move(message);
    DoWrite(std::move(response));
  }

  void DoWrite(ApiResponse response) {
    auto message = std::make_shared<http::response<http::string_body>>();
    message->version(11);
    message->result(response.status);
    message->set(http::field::server, "migrate-agent");
    message->set(http::field::content_type, response.content_type);
    message->keep_alive(keep_alive_);
    message->body() = std::move(response.body);
    message->prepare_payload();
    beast::get_lowest_layer(stream_).expires_after(
        std::chrono::seconds(options_.write_timeout_s));
    http::async_write(stream_, *message,
                      [self = this->shared_from_this(), message](ErrorCode ec, std::size_t bytes) {
                        self->OnWrite(ec, bytes, message->need_eof());
                      });
  }

  void OnWrite(ErrorCode ec, std::size_t /*bytes*/, bool close) {
    if (ec) return Fail(ec, "write");
    if (close) return DoClose();
    DoRead();
  }

  void DoClose() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown(
          beast::bind_front_handler(&Session::OnShutdown, this->shared_from_this()));
    } else {
      ErrorCode ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  void OnShutdown(ErrorCode ec) {
    if (ec) Fail(ec, "shutdown");
  }

  Stream stream_;
  const ApiServerOptions options_;  // a copy: sessions may outlive the server object
  RequestHandler handler_;
  std::shared_ptr<SessionRegistry> registry_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  tls::PeerIdentity peer_;
  std::string remote_;
  bool keep_alive_ = true;
  const uint64_t id_;
};

class BeastApiServer final : public ApiServer {
 public:
  BeastApiServer(ApiServerOptions options, tls::ContextPtr tls_context, RequestHandler handler)
      : options_(std::move(options)),
        tls_context_(std::move(tls_context)),
        handler_(std::move(handler)),
        acceptor_(asio::make_strand(ioc_)),
        backoff_(acceptor_.get_executor()),
        registry_(std::make_shared<SessionRegistry>(options_.max_handshakes,
                                                    options_.max_connections)) {}

  ~BeastApiServer() override { Stop(); }

  Status Listen() {
    ErrorCode ec;
    auto address = asio::ip::make_address(options_.address, ec);
    if (ec) return Status::InvalidArgument("listen address '" + options_.address + "': " +
                                           ec.message());
    tcp::endpoint endpoint(address, options_.port);
    std::string where = options_.address + ":" + std::to_string(options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return Status::IoError("open " + where + ": " + ec.message());
    // Asio opens sockets without close-on-exec: never let runc or CRIU inherit the listener.
    ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return Status::IoError("SO_REUSEADDR " + where + ": " + ec.message());
    acceptor_.bind(endpoint, ec);
    if (ec) return Status::Unavailable("bind " + where + ": " + ec.message());
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::IoError("listen " + where + ": " + ec.message());
    acceptor_.non_blocking(true, ec);
    if (ec) return Status::IoError("non-blocking " + where + ": " + ec.message());
    protocol_ = endpoint.protocol();
    port_ = acceptor_.local_endpoint().port();
    DoAccept();
    thread_ = std::thread([this] { ioc_.run(); });
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }

  void Post(std::function<void()> work) override { asio::post(ioc_, std::move(work)); }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [this] {
      ErrorCode ignored;
      acceptor_.close(ignored);
      backoff_.cancel();
    });
    std::vector<std::shared_ptr<SessionBase>> live;
    {
      std::lock_guard<std::mutex> lock(registry_->mutex);
      for (auto& [id, weak] : registry_->sessions) {
        if (auto session = weak.lock()) live.push_back(std::move(session));
      }
    }
    for (auto& session : live) session->Close();
    live.clear();
    // Handlers still running on workers keep their sessions alive; once their connections
    // are closed nothing is left for the I/O thread to do.
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
    // The I/O thread is gone: closing here is safe, and the port is free once Stop returns.
    ErrorCode ignored;
    acceptor_.close(ignored);
  }

 private:
  // Accepts with accept4 (SOCK_CLOEXEC, atomically) when the listener is readable, rather
  // than async_accept: Asio's accepted sockets would be inherited by every spawned program,
  // and its loop cannot shed connections when the process is out of descriptors.
  void DoAccept() {
    acceptor_.async_wait(tcp::acceptor::wait_read,
                         beast::bind_front_handler(&BeastApiServer::OnReadable, this));
  }

  void OnReadable(ErrorCode ec) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (ec) {
      MIGRATE_LOG(kWarn, "") << options_.name << ": accept: " << ec.message();
    }
    for (int i = 0; i < 64; ++i) {  // a burst, then other work gets its turn
      int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr,
                         transfer::kAcceptFlags | SOCK_NONBLOCK);
      if (fd >= 0) {
        Admit(fd);
        continue;
      }
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (transfer::FdReserve::IsExhaustion(errno)) {
        if (reserve_.ShedOne(acceptor_.native_handle())) continue;
        return BackOff();  // not even the reserve: wait instead of spinning
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        MIGRATE_LOG(kWarn, "") << options_.name << ": accept: " << std::strerror(errno);
      }
      break;
    }
    DoAccept();
  }

  void BackOff() {
    backoff_.expires_after(std::chrono::milliseconds(100));
    backoff_.async_wait([this](ErrorCode ec) {
      if (!ec && !stopped_) DoAccept();
    });
  }

  void Admit(int fd) {
    tcp::socket socket(asio::make_strand(ioc_));
    ErrorCode ec;
    socket.assign(protocol_, fd, ec);
    if (ec) {
      ::close(fd);
      return;
    }
    // Each answer is a few small TLS records: Nagle would hold the last one for the client's
    // delayed ACK (40 ms a request, inside a migration's downtime).
    socket.set_option(tcp::no_delay(true), ec);
    const uint64_t id = next_id_++;
    ConnectionLimiter::Admission admission = registry_->limiter.Admit(id);
    if (admission.evict) CloseSession(*admission.evict);
    if (!admission.admitted) {
      MIGRATE_LOG(kWarn, "") << options_.name << ": " << options_.max_connections
                             << " connections busy with requests: refusing one more";
      if (options_.on_refused) options_.on_refused("limit");
      return;  // the socket closes as it goes out of scope
    }
    if (tls_context_) {
      std::make_shared<Session<TlsStream>>(std::move(socket), tls_context_.get(), options_,
                                           handler_, registry_, id)
          ->Run();
    } else {
      std::make_shared<Session<PlainStream>>(std::move(socket), nullptr, options_, handler_,
                                             registry_, id)
          ->Run();
    }
  }

  void CloseSession(uint64_t id) {
    std::shared_ptr<SessionBase> session;
    {
      std::lock_guard<std::mutex> lock(registry_->mutex);
      auto it = registry_->sessions.find(id);
      if (it != registry_->sessions.end()) session = it->second.lock();
    }
    if (session) session->Close();
  }

  ApiServerOptions options_;
  tls::ContextPtr tls_context_;
  RequestHandler handler_;
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
  std::shared_ptr<SessionRegistry> registry_;
  transfer::FdReserve reserve_{"api"};
  tcp protocol_ = tcp::v4();
  std::thread thread_;
  uint16_t port_ = 0;
  uint64_t next_id_ = 1;
  std::atomic<bool> stopped_{false};
};

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiServerOptions& options,
                                                    tls::ContextPtr tls_context,
                                                    RequestHandler handler) {
  if (!tls_context) return Status::InvalidArgument("api server: no TLS context");
  auto server = std::make_unique<BeastApiServer>(options, std::move(tls_context),
                                                 std::move(handler));
  MIGRATE_RETURN_IF_ERROR(server->Listen().WithContext("agent API"));
  return std::unique_ptr<ApiServer>(std::move(server));
}

Result<std::unique_ptr<ApiServer>> ApiServer::StartPlain(const ApiServerOptions& options,
                                                         RequestHandler handler) {
  ErrorCode ec;
  auto address = asio::ip::make_address(options.address, ec);
  if (ec || !address.is_loopback()) {
    return Status::InvalidArgument("plain HTTP is served on a loopback address only, not '" +
                                   options.address + "'");
  }
  auto server = std::make_unique<BeastApiServer>(options, nullptr, std::move(handler));
  MIGRATE_RETURN_IF_ERROR(server->Listen().WithContext(options.name));
  return std::unique_ptr<ApiServer>(std::move(server));
}

}  // namespace migrate::agent
