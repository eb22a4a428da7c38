#include "transfer/stream/tls_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <utility>  // g++ 12 + Boost 1.74: asio needs it first.

namespace migrate::transfer {
namespace {

constexpr auto kPollSlice = std::chrono::milliseconds(100);

int MillisUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() < 0) return 0;
  return static_cast<int>(std::min(left, std::chrono::milliseconds(kPollSlice)).count());
}

Status SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return Status::FromErrno("set socket non-blocking", errno);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return Status::Ok();
}

// Non-blocking connect to one address, bounded by the deadline.
Status ConnectOne(int fd, const sockaddr* addr, socklen_t len, Clock::time_point deadline,
                  const CancelFlag* cancel) {
  if (connect(fd, addr, len) == 0) return Status::Ok();
  if (errno != EINPROGRESS) return Status::FromErrno("connect", errno);
  for (;;) {
    if (cancel != nullptr && cancel->cancelled()) return Status::Aborted("connect cancelled");
    if (Clock::now() >= deadline) return Status::DeadlineExceeded("connect timed out");
    pollfd p{fd, POLLOUT, 0};
    int r = poll(&p, 1, MillisUntil(deadline));
    if (r < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
    if (r > 0) break;
  }
  int err = 0;
  socklen_t err_len = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (err != 0) return Status::FromErrno("connect", err);
  return Status::Ok();
}

// OpenSSL writes with write(2): a peer that reset the connection would raise SIGPIPE and
// kill the process. This blocks SIGPIPE in the calling thread for the duration of one TLS
// call and swallows a SIGPIPE it caused (the write then fails with EPIPE), without touching
// process-wide signal dispositions.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

}  // namespace


TlsConnection::TlsConnection(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}

TlsConnection::~TlsConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) close(fd_);
}

void TlsConnection::Abort() {
  if (fd_ >= 0) {
    // Reset rather than FIN: the peer must not mistake this for an orderly end.
    linger lin{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
    close(fd_);
    fd_ = -1;
  }
  shut_down_ = true;
}

Status TlsConnection::WaitFor(Want want, Clock::time_point deadline, const char* what) {
  for (;;) {
    if (cancel_ != nullptr && cancel_->cancelled()) {
      return Status::Aborted(std::string(what) + ": cancelled");
    }
    if (fd_ < 0) return Status::Aborted(std::string(what) + ": connection closed locally");
    if (Clock::now() >= deadline) {
      return Status::DeadlineExceeded(std::string(what) + ": timed out after " +
                                      std::to_string(io_timeout_.count()) + " ms");
    }
    pollfd p{fd_, static_cast<short>(want == Want::kRead ? POLLIN : POLLOUT), 0};
    int r = poll(&p, 1, MillisUntil(deadline));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(what, errno);
    }
    if (r > 0) return Status::Ok();  // ready, or an error the next call reports
  }
}

Status TlsConnection::Failure(int err, const char* what) {
  if (err == SSL_ERROR_SYSCALL) {
    int e = errno;
    std::string text = tls::OpenSslErrorText(what);
    if (e == 0) return Status::Unavailable(text + ": connection closed by peer without TLS close");
    return Status::Unavailable(text + ": " + std::strerror(e));
  }
  unsigned long detail = ERR_peek_error();
  std::string text = tls::OpenSslErrorText(what);
  // Verification failures are refusals, not outages.
  if (ERR_GET_REASON(detail) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    long v = SSL_get_verify_result(ssl_);
    return Status::PermissionDenied(text + " (" + X509_verify_cert_error_string(v) + ")");
  }
  if (ERR_GET_REASON(detail) == SSL_R_TLSV1_ALERT_UNKNOWN_CA ||
      ERR_GET_REASON(detail) == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
      ERR_GET_REASON(detail) == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
      ERR_GET_REASON(detail) == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN ||
      ERR_GET_REASON(detail) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    return Status::PermissionDenied(text);
  }
  return Status::Unavailable(text);
}

template <typename Op>
Result<int> TlsConnection::Drive(Op op, Clock::time_point deadline, const char* what) {
  if (fd_ < 0) return Status::Aborted(std::string(what) + ": connection closed locally");
  SigpipeGuard no_sigpipe;
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int r = op();
    if (r > 0) return r;
    int err = SSL_get_error(ssl_, r);
    switch (err) {
      case SSL_ERROR_WANT_READ:
        MIGRATE_RETURN_IF_ERROR(WaitFor(Want::kRead, deadline, what));
        continue;
      case SSL_ERROR_WANT_WRITE:
        MIGRATE_RETURN_IF_ERROR(WaitFor(Want::kWrite, deadline, what));
        continue;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      default:
        return Failure(err, what);
    }
  }
}

Result<std::unique_ptr<TlsConnection>> TlsConnection::Connect(
    const std::string& host, uint16_t port, const tls::ContextPtr& ctx,
    const std::string& server_name, Clock::time_point deadline, const CancelFlag* cancel) {
  if (!ctx) return Status::InvalidArgument("no TLS client context");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port_text = std::to_string(port);
  int gai = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res);
  if (gai != 0) {
    return Status::Unavailable("resolve " + host + ": " + gai_strerror(gai));
  }
  Status last = Status::Unavailable("no address for " + host);
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("socket", errno);
      continue;
    }
    last = SetNonBlocking(fd);
    if (last.ok()) last = ConnectOne(fd, ai->ai_addr, ai->ai_addrlen, deadline, cancel);
    if (last.ok()) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    if (last.code() == StatusCode::kIoError) last = Status::Unavailable(last.message());
    return last.WithContext("connect to " + host + ":" + port_text);
  }
  MIGRATE_ASSIGN_OR_RETURN(std::unique_ptr<TlsConnection> conn, Wrap(fd, ctx, cancel));
  SSL* ssl = conn->ssl_;
  SSL_set_connect_state(ssl);
  MIGRATE_RETURN_IF_ERROR(tls::ExpectServerName(ssl, server_name));
  auto hs = conn->Drive([ssl] { return SSL_do_handshake(ssl); }, deadline, "TLS handshake");
  if (!hs.ok()) return hs.status().WithContext("connect to " + host + ":" + port_text);
  if (*hs == 0) return Status::Unavailable("TLS handshake: connection closed by server");
  return conn;
}

Result<std::unique_ptr<TlsConnection>> TlsConnection::Accept(int fd, const tls::ContextPtr& ctx,
                                                             Clock::time_point deadline,
                                                             const CancelFlag* cancel) {
  if (!ctx) {
    close(fd);
    return Status::InvalidArgument("no TLS server context");
  }
  Status st = SetNonBlocking(fd);
  if (!st.ok()) {
    close(fd);
    return st;
  }
  MIGRATE_ASSIGN_OR_RETURN(std::unique_ptr<TlsConnection> conn, Wrap(fd, ctx, cancel));
  SSL* ssl = conn->ssl_;
  SSL_set_accept_state(ssl);
  auto hs = conn->Drive([ssl] { return SSL_do_handshake(ssl); }, deadline, "TLS handshake");
  if (!hs.ok()) return hs.status();
  if (*hs == 0) return Status::Unavailable("TLS handshake: connection closed by client");
  return conn;
}

Result<std::unique_ptr<TlsConnection>> TlsConnection::Wrap(int fd, const tls::ContextPtr& ctx,
                                                           const CancelFlag* cancel) {
  SSL* ssl = SSL_new(ctx->native_handle());
  if (ssl == nullptr) {
    close(fd);
    return Status::Internal(tls::OpenSslErrorText("SSL_new"));
  }
  std::unique_ptr<TlsConnection> conn(new TlsConnection(fd, ssl));
  conn->cancel_ = cancel;
  SSL_set_fd(ssl, fd);
  SSL_set_read_ahead(ssl, 1);  // big socket reads, not 5 bytes + one record per read(2)
  SSL_set_default_read_buffer_len(ssl, 128 * 1024);
  return conn;
}

Status TlsConnection::WriteAll(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    size_t written = 0;
    auto deadline = Clock::now() + io_timeout_;
    auto r = Drive([&] { return SSL_write_ex(ssl_, p, size, &written); }, deadline, "TLS write");
    if (!r.ok()) return r.status();
    if (*r == 0) return Status::Unavailable("TLS write: peer closed the connection");
    p += written;
    size -= written;
    bytes_written_ += written;
  }
  return Status::Ok();
}

Result<size_t> TlsConnection::ReadSome(void* buf, size_t size) {
  return ReadSome(buf, size, Clock::now() + io_timeout_);
}

Result<size_t> TlsConnection::ReadSome(void* buf, size_t size, Clock::time_point deadline) {
  size_t got = 0;
  auto r = Drive([&] { return SSL_read_ex(ssl_, buf, size, &got); }, deadline, "TLS read");
  if (!r.ok()) return r.status();
  if (*r == 0) return size_t{0};
  bytes_read_ += got;
  return got;
}

Status TlsConnection::ReadExact(void* buf, size_t size) {
  return transfer::ReadExact(*this, buf, size, Clock::now() + io_timeout_);
}

template <typename Op>
Result<bool> TlsConnection::Once(Op op, const char* what) {
  if (fd_ < 0) return Status::Aborted(std::string(what) + ": connection closed locally");
  SigpipeGuard no_sigpipe;
  ERR_clear_error();
  errno = 0;
  int r = op();
  if (r > 0) return true;
  int err = SSL_get_error(ssl_, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return false;
  if (err == SSL_ERROR_ZERO_RETURN) {
    return Status::Unavailable(std::string(what) + ": peer closed the connection");
  }
  return Failure(err, what);
}

Result<size_t> TlsConnection::TryRead(void* buf, size_t size) {
  size_t got = 0;
  MIGRATE_ASSIGN_OR_RETURN(bool done,
                           Once([&] { return SSL_read_ex(ssl_, buf, size, &got); }, "TLS read"));
  bytes_read_ += got;
  return done ? got : size_t{0};
}

Result<size_t> TlsConnection::TryWrite(const void* data, size_t size) {
  size_t written = 0;
  MIGRATE_ASSIGN_OR_RETURN(
      bool done, Once([&] { return SSL_write_ex(ssl_, data, size, &written); }, "TLS write"));
  bytes_written_ += written;
  return done ? written : size_t{0};
}

bool TlsConnection::HasBufferedInput() { return fd_ >= 0 && SSL_has_pending(ssl_) == 1; }

bool TlsConnection::ReadableNow() {
  if (fd_ < 0) return false;
  if (SSL_pending(ssl_) > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

Status TlsConnection::Shutdown(std::chrono::milliseconds drain_timeout) {
  if (shut_down_ || fd_ < 0) return Status::Ok();
  shut_down_ = true;
  auto deadline = Clock::now() + drain_timeout;
  // First call sends our close_notify; it returns 0 until the peer's arrives.
  auto sent = Drive(
      [&] {
        int r = SSL_shutdown(ssl_);
        return r < 0 ? r : 1;
      },
      deadline, "TLS close");
  if (!sent.ok()) return sent.status();
  if (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) return Status::Ok();
  // Drain whatever the peer still sends until its close_notify (or EOF / error / timeout).
  char sink[16384];
  for (;;) {
    size_t got = 0;
    auto r = Drive([&] { return SSL_read_ex(ssl_, sink, sizeof(sink), &got); }, deadline,
                   "TLS close drain");
    if (!r.ok()) {
      // An EOF without close_notify after ours is common and harmless here.
      return r.status().code() == StatusCode::kDeadlineExceeded ? r.status() : Status::Ok();
    }
    if (*r == 0) return Status::Ok();
  }
}

}  // namespace migrate::transfer
