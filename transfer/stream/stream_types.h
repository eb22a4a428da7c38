// Values shared by the stream sender and receiver: statistics, live progress counters,
// cancellation and the receiver's limits against hostile or broken peers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "transfer/base/status.h"

namespace migrate::transfer {

using Clock = std::chrono::steady_clock;

// The outcome of one finished stream.
struct TransferStats {
  uint64_t files = 0;       // entries transferred (files, directories, links, special files)
  uint64_t raw_bytes = 0;   // file content bytes (holes not counted)
  uint64_t wire_bytes = 0;  // stream bytes before TLS (frames, headers, compressed data)
  std::chrono::nanoseconds duration{0};
};

// Live counters, readable from any thread while a stream runs.
struct TransferProgress {
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> raw_bytes{0};
  std::atomic<uint64_t> wire_bytes{0};
};

// A plain snapshot of TransferProgress.
struct ProgressSnapshot {
  uint64_t files = 0;
  uint64_t raw_bytes = 0;
  uint64_t wire_bytes = 0;
};

enum class StreamDirection { kSend, kReceive };

// What a process learns of its streams as they run, for its metrics (the agent's /metrics):
// called from the streams' own threads, so it must be thread-safe and quick. Optional: the
// sender and the receiver take a null one.
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  virtual void StreamStarted(StreamDirection direction) = 0;
  // Every stream that started ends once, verified or not; `stats` holds what it moved.
  virtual void StreamEnded(StreamDirection direction, const TransferStats& stats) = 0;
  // The receiver closed a connection before any stream: `reason` is "handshake" (TLS or
  // HELLO failed), "protocol", "peer" (token or certificate refused) or "limit".
  virtual void ConnectionRefused(std::string_view reason) = 0;
};

// Set from any thread to stop a transfer; blocking calls notice it within ~100 ms.
class CancelFlag {
 public:
  void Cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

// What a receiver accepts. A peer that goes beyond any of these gets a clear error and the
// stream is refused; nothing outside the staging directory is ever touched.
struct StreamLimits {
  uint64_t max_total_bytes = 64ull << 30;   // sum of declared file sizes
  uint64_t max_file_size = 64ull << 30;     // one file's declared (apparent) size
  uint64_t max_entries = 1'000'000;         // files + directories + links
  uint32_t max_path_bytes = 4096;           // one relative path
  uint32_t max_frame_bytes = 8u << 20;      // one frame's payload (chunks are <= 1 MiB raw)
  uint32_t max_chunk_raw_bytes = 4u << 20;  // one chunk's decompressed size
  // What the receiver keeps until the end of a stream: a record per directory (about 64
  // bytes plus its path), for the metadata it applies after the directory's children. Files,
  // symlinks and hard links cost nothing once received.
  uint64_t max_kept_bytes = 64ull << 20;
  // How long one network read or write may block before the stream fails.
  std::chrono::milliseconds io_timeout{30'000};
};

// Which links a received tree may hold. The receiver never follows a symlink itself,
// whatever the policy (every path is resolved with OpenBeneath), nor does the agent in a
// received tree; the policy is about what the tree may contain for the programs that use it.
enum class SymlinkPolicy {
  // No symlinks and no hard links at all: checkpoint images (CRIU, as root, opens them by
  // name; CRIU writes none).
  kNone,
  // A container's root file system (a bundle): symlinks with any well-formed target (relative
  // or absolute, they mean the container's own root) and hard links to a regular file
  // received earlier. A check of where a target "stays" would mean nothing: the kernel
  // resolves a chain of links only where it is followed, and nothing on the host follows them.
  kContainerRoot,
  // The old name of kNone (a lexical within-tree check that chains of links defeated).
  kWithinTree [[deprecated("use kNone: images hold no links at all")]] = kNone,
};

// Which special files a received tree may hold (transfer/special_files.h). The receiver
// creates them with mknod beneath its staging tree, never following a link, and never opens
// one.
enum class SpecialFilePolicy {
  // None at all: checkpoint images (CRIU writes only regular files and directories).
  kNone,
  // A container's root file system: FIFOs and unix-socket files (a process that holds a FIFO
  // open cannot be restored without it); device nodes are refused.
  kFifosAndSockets,
  // Also character and block device nodes: only where the node's policy says so
  // (ReceivedContainerPolicy.allow_device_nodes).
  kDevicesToo,
};

// Test seam, like leveldb's SpecialEnv: called before each step of a transfer with the step
// name (e.g. "frame", "mkdir", "create", "write", "commit") and its running index; a non-OK
// return makes that step fail as a real error would. Empty in production.
using FaultHook = std::function<Status(std::string_view step, uint64_t index)>;

}  // namespace migrate::transfer
