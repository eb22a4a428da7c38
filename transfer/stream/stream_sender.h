// The sending side of a data stream (source agent): connects to the destination's
// StreamServer over mutual TLS, presents the migration's one-time token, and streams the
// entries of a FileSource as zstd-compressed chunks, then a trailer manifest with per-file
// digests, and waits for the receiver's verdict (verified and committed, or why not).
//
// Threads: SendTree blocks its calling thread (run it on a worker, never on an I/O thread).
// Inside, one thread reads files and one or more compress chunks, while the calling thread
// writes to the TLS connection. Memory is bounded (see docs/transfer.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "transfer/stream/file_source.h"
#include "transfer/stream/rate_limit.h"
#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"
#include "transfer/tls/tls.h"

namespace migrate::transfer {

struct SendOptions {
  std::string host;  // address to connect to (name or IP)
  uint16_t port = 0;
  std::string server_name;          // the destination node's name: must be in its certificate's SAN
  tls::ContextPtr tls;              // from tls::MakeClientContext (required)
  std::string token;                // the one-time token the destination issued for this stream
  std::string label;                // for logs: migration id
  int zstd_level = 1;               // 1 = fast default; 1..19, or negative for faster/weaker
  int compress_threads = 2;         // chunk compressors working in parallel (1..8)
  uint32_t chunk_bytes = 1u << 20;  // raw bytes per chunk (64 KiB .. 4 MiB)
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds io_timeout{30'000};  // one blocked read/write
  // How long to wait for the receiver's verdict after the last byte (verify + commit).
  std::chrono::milliseconds verdict_timeout{120'000};
  TransferProgress* progress = nullptr;  // optional live counters
  StreamObserver* observer = nullptr;    // optional: told when the stream starts and ends
  // Optional cap on the frames' bytes (shared by a migration's streams; the TLS records add
  // about 0.1 %). Must outlive SendTree.
  RateLimit* rate_limit = nullptr;
  FaultHook fault_hook;                  // tests only: "frame" step before each frame
  // Tests only: may modify each outgoing frame's payload (index, frame type, payload).
  std::function<void(uint64_t, uint8_t, std::string&)> tamper_hook;
};

// Sends every entry of `source` and returns once the receiver has verified and committed
// them. Errors: kInvalidArgument (bad options), kUnavailable (connect / TLS handshake /
// connection lost), kPermissionDenied (token or certificate refused, with the receiver's
// message), kDataLoss (the receiver found corrupt data), kDeadlineExceeded, kAborted
// (cancelled), kIoError (reading the source). On error the receiver exposes nothing.
Result<TransferStats> SendTree(const SendOptions& options, FileSource& source,
                               const CancelFlag* cancel = nullptr);

}  // namespace migrate::transfer
