// The page link: post-copy's channel between the two agents for CRIU's lazy page traffic. One end
// relays a local socket (the source agent's TCP connection to CRIU's page server, or the
// destination agent's socketpair to `criu lazy-pages`) over a mutual-TLS connection made with
// ConnectLink / StreamServer::ExpectLink, both ways, byte-exact: bytes read from the local fd
// travel as LINK_DATA frames (zstd-compressed when that is smaller), LINK_DATA from the peer is
// written to the local fd. Control messages (the lease's PING/PONG, done, committed, killed, cut)
// travel beside the data as LINK_CONTROL frames. Layout: the page link section of
// proto/stream.proto.
//
// Threads: Run() is the link's one thread (a TlsConnection allows one at a time): a poll loop over
// the TLS socket, the local fd and a wake-up eventfd. The handler is called on it. Stop, Send,
// CloseLocal and stats are thread-safe. Memory is bounded: reading the local fd pauses while 1 MiB
// waits for the network, reading the network while 4 MiB wait for the local fd.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "proto/stream.pb.h"
#include "transfer/base/status.h"
#include "transfer/base/unique_fd.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/stream/tls_connection.h"

namespace migrate::transfer {

struct PageLinkOptions {
  std::string label;                   // for errors and logs: migration id
  int zstd_level = 1;                  // <= 0: never compress
  size_t max_data_frame = 256 * 1024;  // raw bytes read from the local fd per frame (1 .. 4 MiB)
  std::chrono::milliseconds ping_interval{0};  // > 0: this side pings (the destination)
  // Nothing at all from the peer this long (while this side can take it): kDeadlineExceeded.
  std::chrono::milliseconds io_timeout{10'000};
  // Tests only: may modify outgoing LINK_DATA payloads (index counts LINK_DATA frames from 0).
  std::function<void(uint64_t index, std::string& payload)> tamper_hook;
};

// What the link tells its owner, on the link's thread. Calls must be quick: the link waits.
class PageLinkHandler {
 public:
  virtual ~PageLinkHandler() = default;
  // The peer's PING(seq). True: answer PONG(seq) (the source answers only while its fence holds).
  virtual bool OnPing(uint64_t seq) = 0;
  // The peer answered this side's PING(seq), sent at `sent`.
  virtual void OnPong(uint64_t seq, std::chrono::steady_clock::time_point sent) = 0;
  // Any other control message: done, committed, killed or cut.
  virtual void OnControl(const proto::stream::LinkControl& message) = 0;
  // The local fd reached EOF: reading it stops, writing to it and the link go on.
  virtual void OnLocalClosed() = 0;
};

class PageLink {
 public:
  // `conn`: connected and past HELLO/ACCEPT. `local_fd` is not owned (never closed here) and is
  // made non-blocking. `handler` must outlive Run().
  PageLink(std::unique_ptr<TlsConnection> conn, int local_fd, PageLinkOptions options,
           PageLinkHandler& handler);
  ~PageLink();
  PageLink(const PageLink&) = delete;
  PageLink& operator=(const PageLink&) = delete;

  // Relays until Stop() (OK, once the queued frames are out and the TLS close is sent) or an error,
  // after which the connection is reset: kUnavailable (the link broke or the peer closed it),
  // kDataLoss (a corrupt, unknown or unexpected frame, bad zstd, a PONG for no PING of ours),
  // kDeadlineExceeded (io_timeout), kIoError (the local fd failed), kInvalidArgument (bad options).
  // Call once.
  Status Run();
  // Ends Run() soon (thread-safe; also before Run starts).
  void Stop();
  // Queues a control message for the peer (thread-safe); Run's thread sends it.
  void Send(proto::stream::LinkControl message);
  // Stops using the local fd: no more reads or writes; data from the peer is dropped from now on
  // (thread-safe; the fd stays open).
  void CloseLocal();

  struct Stats {
    uint64_t to_peer_raw = 0;     // bytes read from the local fd
    uint64_t to_peer_wire = 0;    // frame bytes sent (headers and control frames included)
    uint64_t from_peer_raw = 0;   // bytes the peer's LINK_DATA decoded to
    uint64_t from_peer_wire = 0;  // frame bytes received
    uint64_t frames_in = 0;
    uint64_t frames_out = 0;
  };
  Stats stats() const;  // thread-safe

 private:
  // Bytes waiting for a file descriptor, taken from the front.
  class Backlog {
   public:
    size_t size() const { return buf_.size() - pos_; }
    bool empty() const { return pos_ == buf_.size(); }
    const char* data() const { return buf_.data() + pos_; }
    // `n` more bytes at the end, for the caller to fill.
    char* Extend(size_t n);
    void Append(std::string bytes);
    // Drops `n` bytes from the front (the buffer is compacted once drained or `compact_at`
    // bytes have gone).
    void Consume(size_t n, size_t compact_at);
    void Clear();

   private:
    std::string buf_;
    size_t pos_ = 0;
  };

  Status Loop();
  Status Prepare();
  // Takes what other threads asked for; true when Stop() was called.
  bool TakeRequests();
  void Wake();
  void PingIfDue(Clock::time_point now);
  Status PollOnce();
  Status CheckSilence(Clock::time_point now);
  bool WantTlsRead() const;

  // Network side.
  Status ReadTls();
  Status ParseFrames();
  Status OnData(std::string_view payload);
  Status OnControlFrame(std::string_view payload);
  Status OnPongFrame(uint64_t seq);
  Status WriteTls();
  Status FlushAndClose();
  void QueueFrame(std::string frame);
  void QueueControl(const proto::stream::LinkControl& message);

  // Local side.
  Status ReadLocal();
  Status WriteLocal();
  void QueueData(const char* data, size_t size);
  void DropLocal();

  std::unique_ptr<TlsConnection> conn_;
  const int local_fd_;
  const PageLinkOptions options_;
  PageLinkHandler& handler_;
  UniqueFd wake_fd_;

  std::mutex mu_;  // guards the requests below
  std::vector<proto::stream::LinkControl> requests_;
  bool stop_requested_ = false;
  bool close_local_requested_ = false;

  // Run's thread only.
  bool local_socket_ = false;
  bool local_eof_ = false;     // reading stopped
  bool local_closed_ = false;  // CloseLocal: neither reads nor writes
  bool tls_stalled_ = false;   // OpenSSL holds only part of a record: wait for the socket
  Backlog out_;                // frames for the peer
  size_t write_len_ = 0;       // a TryWrite of this many bytes is pending (0: none)
  std::string in_;             // bytes from the peer, frames not yet handled
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  Backlog to_local_;      // decoded bytes for the local fd
  std::string read_buf_;  // one read of the local fd
  ChunkCompressor compressor_;
  ChunkDecompressor decompressor_;
  uint64_t data_frames_out_ = 0;
  uint64_t next_ping_seq_ = 0;
  std::map<uint64_t, Clock::time_point> pings_;  // sent, not answered yet
  Clock::time_point next_ping_{};
  Clock::time_point last_heard_{};

  std::atomic<uint64_t> to_peer_raw_{0};
  std::atomic<uint64_t> to_peer_wire_{0};
  std::atomic<uint64_t> from_peer_raw_{0};
  std::atomic<uint64_t> from_peer_wire_{0};
  std::atomic<uint64_t> frames_in_{0};
  std::atomic<uint64_t> frames_out_{0};
};

}  // namespace migrate::transfer
