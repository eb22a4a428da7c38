// A TLS connection with blocking calls that each have a timeout and notice cancellation:
// the socket is non-blocking and every OpenSSL call that would block waits in poll() in
// slices of at most 100 ms. Used by the data stream on its worker threads (never on an Asio
// I/O thread). One thread at a time may use a connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "transfer/stream/byte_source.h"
#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"
#include "transfer/tls/tls.h"

namespace migrate::transfer {

class TlsConnection final : public ByteSource {
 public:
  // TCP connect to host:port (first address that answers), then the TLS handshake as a
  // client, verifying the server's certificate against `server_name` (tls::ExpectServerName).
  static Result<std::unique_ptr<TlsConnection>> Connect(const std::string& host, uint16_t port,
                                                        const tls::ContextPtr& ctx,
                                                        const std::string& server_name,
                                                        Clock::time_point deadline,
                                                        const CancelFlag* cancel);

  // Takes ownership of an accepted socket and runs the server handshake.
  static Result<std::unique_ptr<TlsConnection>> Accept(int fd, const tls::ContextPtr& ctx,
                                                       Clock::time_point deadline,
                                                       const CancelFlag* cancel);

  ~TlsConnection();  // closes without close_notify if Shutdown() was not called
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Each blocking call below fails with kDeadlineExceeded after io_timeout (or at the
  // deadline it is given), or kAborted once `cancel` is set.
  void set_io_timeout(std::chrono::milliseconds timeout) { io_timeout_ = timeout; }
  std::chrono::milliseconds io_timeout() const override { return io_timeout_; }
  void set_cancel(const CancelFlag* cancel) { cancel_ = cancel; }

  Status WriteAll(const void* data, size_t size);
  // Reads 1..size bytes; 0 means the peer closed cleanly (close_notify).
  Result<size_t> ReadSome(void* buf, size_t size);
  Result<size_t> ReadSome(void* buf, size_t size, Clock::time_point deadline) override;
  // Reads exactly `size` bytes within io_timeout; a clean close before that is kDataLoss.
  Status ReadExact(void* buf, size_t size);
  // True when a read would not block (decrypted bytes pending or the socket is readable).
  bool ReadableNow();

  // Non-blocking calls for a caller that polls fd() itself (the page link). TryRead reads
  // what is there: 0 when nothing is (poll for input, or for output after a WANT_WRITE:
  // both are polled by such callers), kUnavailable when the peer closed (close_notify or
  // not). TryWrite writes all `size` bytes or none yet: after a 0, call it again with the
  // same bytes (they may have moved) and the same size once the socket is writable.
  Result<size_t> TryRead(void* buf, size_t size);
  Result<size_t> TryWrite(const void* data, size_t size);
  // True when OpenSSL holds received bytes (decrypted or not) that poll() on fd() no longer
  // reports.
  bool HasBufferedInput();

  // Orderly close: sends close_notify, then reads and discards until the peer's
  // close_notify or EOF (at most `drain_timeout`), so that no unread data makes the kernel
  // answer with a reset that truncates what the peer has not read yet.
  Status Shutdown(std::chrono::milliseconds drain_timeout);
  // Closes the socket at once (no close_notify: the peer sees a truncated stream).
  void Abort();

  SSL* ssl() { return ssl_; }
  int fd() const { return fd_; }
  uint64_t bytes_written() const { return bytes_written_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  TlsConnection(int fd, SSL* ssl);
  // A connection over the (non-blocking) socket `fd`, not yet handshaken; owns `fd` from the
  // call on, also on error.
  static Result<std::unique_ptr<TlsConnection>> Wrap(int fd, const tls::ContextPtr& ctx,
                                                     const CancelFlag* cancel);
  // The status of a failed OpenSSL call (SSL_get_error `err`, not a WANT_*).
  Status Failure(int err, const char* what);
  enum class Want { kRead, kWrite };
  // Waits until the socket is ready for `want`, the deadline passes or cancel is set.
  Status WaitFor(Want want, Clock::time_point deadline, const char* what);
  // Runs one OpenSSL call until it completes; returns its >0 result, 0 on clean close.
  // One non-blocking OpenSSL call: true when it completed, false when it would block.
  template <typename Op>
  Result<bool> Once(Op op, const char* what);
  template <typename Op>
  Result<int> Drive(Op op, Clock::time_point deadline, const char* what);

  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::chrono::milliseconds io_timeout_{30'000};
  const CancelFlag* cancel_ = nullptr;
  bool shut_down_ = false;
  uint64_t bytes_written_ = 0;
  uint64_t bytes_read_ = 0;
};


}  // namespace migrate::transfer
