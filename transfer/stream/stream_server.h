// The receiving side of data streams (destination agent). One StreamServer per agent listens
// on a mutual-TLS endpoint; each migration registers one one-time token per stream with
// Expect(). A stream that presents the token, from a peer whose certificate names the
// expected source node, is received into a fresh directory under `staging_dir`, verified
// (every chunk, every file digest, the trailer manifest) and only then renamed to
// `final_dir`. On any error the staging directory is removed and `final_dir` never appears.
// A migration may also register a page link (ExpectLink): the same token and certificate
// rules, then the connection is handed over as it is (post-copy's lazy page traffic).
//
// Threads: the server owns its threads (one acceptor, one per connection plus one
// decompressing writer per connection). All public methods are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "transfer/base/status.h"
#include "transfer/stream/byte_budget.h"
#include "transfer/stream/stream_types.h"
#include "transfer/stream/tls_connection.h"
#include "transfer/tls/tls.h"

namespace migrate::transfer {

struct ExpectedStream {
  std::string final_dir;                // must not exist yet; its parent must exist
  std::string staging_dir;              // existing directory on the same file system as final_dir
  std::string expected_peer_node_name;  // must be a SAN DNS name of the sender (role node)
  std::string label;                    // for logs: migration id
  StreamLimits limits;
  // Bytes agreed in preflight, shared by the migration's streams (AgreedStreamBytes); null:
  // only `limits`.
  std::shared_ptr<ByteBudget> budget;
  SymlinkPolicy symlinks = SymlinkPolicy::kNone;  // kContainerRoot for a bundle
  SpecialFilePolicy special_files = SpecialFilePolicy::kNone;  // kFifosAndSockets for a bundle
  bool preserve_ownership = true;  // chown entries to the sender's uid/gid (needs root)
  bool fsync = true;               // fdatasync files and directories before the commit
  FaultHook fault_hook;            // tests only
};

// A page link the server expects: after the HELLO it answers ACCEPT and hands the
// connection to `on_connect`.
struct ExpectedLink {
  std::string expected_peer_node_name;  // must be a SAN DNS name of the client (role node)
  std::string label;                    // for logs: migration id
  // Called once, on the connection's own thread, with the connection after ACCEPT (no cancel
  // flag set on it; its io_timeout is the server's handshake_timeout). The link's slot is
  // finished, and counted against max_connections, until it returns. The server's destructor
  // waits for it: make it return first (PageLink::Stop).
  std::function<void(std::unique_ptr<TlsConnection>)> on_connect;
};

struct StreamServerOptions {
  std::string bind_address = "0.0.0.0";
  uint16_t port = 0;                                    // 0: any free port; see port()
  tls::ContextPtr tls;                                  // from tls::MakeServerContext (required)
  // Streams received at once (after HELLO named an expected token); one more is refused
  // with kUnavailable, its token left unused.
  int max_connections = 16;
  // Connections still in their TLS handshake or HELLO, counted apart from the streams; when
  // full, the oldest of them is dropped for the newcomer.
  int max_handshakes = 64;
  std::chrono::milliseconds handshake_timeout{10'000};  // TLS handshake + HELLO, as a whole
  int decompress_threads = 2;  // chunk writers per connection, besides the network reader
  // Optional: told of every stream received and every connection refused. Must outlive the
  // server.
  StreamObserver* observer = nullptr;
};

class StreamServer {
 public:
  // Binds and starts listening and accepting.
  static Result<std::unique_ptr<StreamServer>> Start(const StreamServerOptions& options);
  // Stops accepting, cancels every running stream (their staging is removed) and joins.
  ~StreamServer();
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  uint16_t port() const;

  // Registers a one-time token. kAlreadyExists if the token is known; kInvalidArgument if the
  // token is shorter than 16 bytes, final_dir exists, or staging_dir is missing or on another
  // file system than final_dir's parent.
  Status Expect(const std::string& token, ExpectedStream expected);

  // Registers a one-time token for a page link. kAlreadyExists if the token is known;
  // kInvalidArgument if it is shorter than 16 bytes, or the node name or on_connect is
  // missing. Wait() on the token returns once on_connect has returned (empty stats);
  // Cancel() before the link connects makes a later connect refused (Wait: kAborted);
  // Cancel() of a running link does nothing (its owner stops it).
  Status ExpectLink(const std::string& token, ExpectedLink expected);

  // Blocks until the token's stream has finished (verified and committed: its stats; or its
  // error), or `deadline` passes (kDeadlineExceeded; the stream keeps running). kNotFound for
  // an unknown token. May be called again after a deadline; the outcome is kept until
  // Forget().
  Result<TransferStats> Wait(const std::string& token, Clock::time_point deadline);

  // Aborts the token's stream (running or not yet connected); its staging is removed and
  // Wait() returns kAborted. No effect on a finished stream.
  void Cancel(const std::string& token);

  // Drops a finished token's outcome (a finished token can never be used again anyway).
  void Forget(const std::string& token);

  // Live counters of the token's stream (zeros before it connects); kNotFound if unknown.
  Result<ProgressSnapshot> Progress(const std::string& token) const;

  struct Impl;

 private:
  explicit StreamServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace migrate::transfer
