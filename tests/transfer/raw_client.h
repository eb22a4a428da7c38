// A hand-driven stream client for hostile-input tests: real TLS with a real node
// certificate, but every frame is crafted by the test (and tags and digests are computed like
// the real sender's unless the test overrides them).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "proto/stream.pb.h"
#include "tests/transfer/stream_sealer.h"
#include "tests/transfer/test_tree.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/stream/frames.h"
#include "transfer/stream/tls_connection.h"

namespace migrate::testing {

class RawClient {
 public:
  explicit RawClient(StreamFixture& fx, tls::ContextPtr ctx = nullptr);

  Status Connect();
  // HELLO with `token`; then reads ACCEPT (an error carrying the verdict otherwise).
  Status Hello(const std::string& token, uint32_t version = transfer::kProtocolVersion);

  // Low level.
  Status SendRaw(const std::string& bytes);
  // Sends `bytes` one at a time, waiting up to `interval` between two for the server to
  // answer (a verdict) or close. Returns how many bytes went out before it did (all: never).
  size_t Trickle(const std::string& bytes, std::chrono::milliseconds interval);
  Status SendFrame(proto::stream::FrameType type, const std::string& payload);

  // Well-formed pieces (digests tracked as the real sender does).
  Status Entry(const proto::stream::Entry& e);
  proto::stream::Entry MakeEntry(const std::string& path, proto::stream::EntryType type,
                                 uint32_t mode = 0644, uint64_t size = 0,
                                 const std::string& target = "");
  // A DATA chunk for the open entry: zstd-compressed unless `raw`.
  Status Data(uint64_t offset, const std::string& bytes, bool raw = false);
  // Data with a custom chunk header / encoded bytes (for lies), tagged honestly unless `tag`
  // is given.
  Status DataCustom(const transfer::ChunkHeader& h, const std::string& encoded,
                    std::optional<transfer::ChunkTag> tag = std::nullopt);
  // The honest tag of a DATA payload (chunk header + bytes) on this connection.
  Result<transfer::ChunkTag> Tag(const transfer::ChunkHeader& h, const std::string& payload);
  // Closes the open entry with the correct digest and counts; with `final_size`, also sends
  // that size and an mtime (for a size_at_end entry, or as a lie for another one).
  Status EntryEnd(std::optional<uint64_t> final_size = std::nullopt);
  Status Trailer();   // the correct trailer
  // A whole small regular file.
  Status File(const std::string& path, const std::string& content, uint32_t mode = 0644);

  // Reads the receiver's verdict (after an error, or after the trailer).
  Result<proto::stream::Verdict> ReadVerdict();
  void CloseNotify();  // orderly TLS close (a truncated stream that ends cleanly)
  void Abort();

  uint32_t next_id() const { return next_id_; }
  transfer::Digest manifest_digest();  // what the correct trailer carries

 private:
  StreamFixture& fx_;
  tls::ContextPtr ctx_;
  std::unique_ptr<transfer::TlsConnection> conn_;
  std::unique_ptr<transfer::FrameReader> reader_;
  std::unique_ptr<transfer::ChunkTagger> tagger_;
  StreamSealer sealer_;
  proto::stream::Entry open_;
  bool has_open_ = false;
  uint32_t next_id_ = 1;
};

// A client past HELLO/ACCEPT on `expected`, registered under a new *token; null on failure.
std::unique_ptr<RawClient> OpenStream(StreamFixture& fx, const transfer::ExpectedStream& expected,
                                      std::string* token);

}  // namespace migrate::testing
