// The chunk writers of one received stream: threads that check each DATA chunk's tag,
// decompress it and write it into its staged file, behind a bounded queue (the receiver stops
// reading when it is full: TCP's window closes and the sender slows down).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "transfer/stream/chunk_codec.h"
#include "transfer/stream/frames.h"
#include "transfer/stream/staging_tree.h"
#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"
#include "transfer/base/string_pool.h"

namespace migrate::transfer {

// Chunk payloads waiting for writers, at most (a single bigger one is let through alone).
inline constexpr size_t kQueuedPayloadBytes = 16u << 20;

class ChunkWriters {
 public:
  // `threads` writers (at least one); `hook` and `progress` must outlive this object.
  ChunkWriters(int threads, const TagKey& tag_key, const FaultHook& hook,
               TransferProgress* progress);
  ~ChunkWriters();  // stops and joins the writers (queued chunks are dropped)
  ChunkWriters(const ChunkWriters&) = delete;
  ChunkWriters& operator=(const ChunkWriters&) = delete;

  // Queues a chunk (blocks while too much is queued). False once an error happened.
  bool Submit(std::shared_ptr<StagedFile> file, const ChunkHeader& h, std::string payload);
  // Waits until every queued chunk is written; the first error, if any.
  Status Drain();
  Status error();

  // Recycled payload buffers.
  std::string GetBuffer() { return pool_.Get(); }

 private:
  struct Task {
    std::shared_ptr<StagedFile> file;
    ChunkHeader h;
    std::string payload;  // chunk header + encoded bytes
  };

  void Run();
  Status Write(ChunkDecompressor& decompressor, ChunkTagger& tagger, std::string& raw, Task& task);
  // Writes the runs of present pages of a chunk whose zero pages were left out.
  Status WritePresentPages(const Task& task, const char* data);

  const TagKey tag_key_;
  const FaultHook& hook_;
  TransferProgress* progress_;
  std::atomic<uint64_t> write_index_{0};
  StringPool pool_{8};
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable space_cv_;
  std::condition_variable idle_cv_;
  std::deque<Task> tasks_;
  size_t queued_bytes_ = 0;
  int busy_ = 0;
  bool stop_ = false;
  Status error_;
  std::vector<std::thread> threads_;
};

}  // namespace migrate::transfer
