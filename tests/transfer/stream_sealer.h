// What an honest sender computes beside the frames it sends (proto/stream.proto): each
// regular file's digest (SHA-256 over its chunk tags, then its size) and the manifest
// (every ENTRY payload, every file digest). For streams made by hand: the hostile-input tests'
// RawClient and the receiver's fuzz target (tests/fuzz/), which seal what they send so that
// the receiver gets past its digests to what lies behind them.
#pragma once

#include <cstdint>
#include <string>

#include "transfer/stream/chunk_codec.h"

namespace migrate::testing {

class StreamSealer {
 public:
  // An ENTRY as sent: opens the entry.
  void Entry(const std::string& payload) {
    manifest_.UpdateU32(static_cast<uint32_t>(payload.size()));
    manifest_.Update(payload.data(), payload.size());
    file_bytes_ = 0;
    file_chunks_ = 0;
  }
  // A DATA chunk of the open entry, with its tag.
  void Chunk(const transfer::ChunkTag& tag, uint32_t raw_length) {
    file_.Update(tag.data(), tag.size());
    file_bytes_ += raw_length;
    data_bytes_ += raw_length;
    ++file_chunks_;
  }
  // The open regular file's digest with its final `size`, which the manifest takes too.
  transfer::Digest FileDigest(uint64_t size) {
    file_.UpdateU64(size);
    transfer::Digest d = file_.Final();
    manifest_.Update(d.data(), d.size());
    return d;
  }
  // The ENTRY_END of the open entry is sent.
  void EntryEnd() { ++entries_; }
  transfer::Digest Manifest() { return manifest_.Final(); }

  uint64_t file_bytes() const { return file_bytes_; }
  uint32_t file_chunks() const { return file_chunks_; }
  uint64_t entries() const { return entries_; }
  uint64_t data_bytes() const { return data_bytes_; }

 private:
  transfer::Sha256 manifest_;
  transfer::Sha256 file_;
  uint64_t file_bytes_ = 0;
  uint32_t file_chunks_ = 0;
  uint64_t entries_ = 0;
  uint64_t data_bytes_ = 0;
};

}  // namespace migrate::testing
