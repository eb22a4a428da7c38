// Receives one data stream (after HELLO/ACCEPT) into a fresh staging tree: the protocol state
// machine of the receiving side. Every frame is checked before it touches the staging tree
// (see staging_tree.h for the file-system side); chunks are written by ChunkWriters.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "proto/stream.pb.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/stream/chunk_writers.h"
#include "transfer/stream/frames.h"
#include "transfer/stream/staging_tree.h"
#include "transfer/base/status.h"
#include "transfer/stream/stream_server.h"
#include "transfer/stream/stream_types.h"

namespace migrate::transfer {

class StreamReceiver {
 public:
  // `expected`, `reader` and `progress` must outlive the receiver. `tag_key` is this
  // connection's chunk tag key (ExportChunkTagKey).
  StreamReceiver(const ExpectedStream& expected, const TagKey& tag_key, FrameReader& reader,
                 TransferProgress& progress, int writer_threads)
      : expected_(expected),
        limits_(expected.limits),
        tag_key_(tag_key),
        reader_(reader),
        progress_(progress),
        writer_threads_(writer_threads) {}

  // Receives and verifies everything up to the trailer; on success the tree is complete with
  // its metadata applied, not committed. On failure the staging tree is already removed.
  Status Receive(std::unique_ptr<StagingTree>* tree_out);

  uint64_t files() const { return files_; }
  uint64_t data_bytes() const { return data_bytes_; }

 private:
  Status Loop();
  Status OnEntry(const std::string& payload);
  Status CheckEntryShape() const;
  // Creates the entry just received in the staging tree (a regular file stays open).
  Status AddEntry();
  Status OnData(std::string& payload);
  Status OnEntryEnd(const std::string& payload);
  Status OnTrailer(const std::string& payload);
  // Counts `bytes` more against max_total_bytes and the migration's budget.
  Status Charge(uint64_t bytes);

  const ExpectedStream& expected_;
  const StreamLimits& limits_;
  const TagKey tag_key_;
  FrameReader& reader_;
  TransferProgress& progress_;
  int writer_threads_;
  std::unique_ptr<StagingTree> tree_;
  std::unique_ptr<ChunkWriters> writers_;

  Sha256 manifest_;
  Sha256 file_hash_;
  proto::stream::Entry entry_;
  bool open_ = false;
  std::shared_ptr<StagedFile> file_;
  uint32_t next_id_ = 1;
  uint64_t entries_ = 0;
  uint64_t files_ = 0;
  uint64_t declared_bytes_ = 0;
  uint64_t data_bytes_ = 0;
  uint64_t min_offset_ = 0;
  uint64_t file_bytes_ = 0;
  uint64_t file_charged_ = 0;  // of the open size_at_end file
  uint32_t file_chunks_ = 0;
};

}  // namespace migrate::transfer
