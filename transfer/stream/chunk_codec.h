// Chunk-level work of the data stream: chunk tags (GMAC), SHA-256 digests (files, manifest),
// zero detection, and zstd compression / bounded decompression of one chunk (one complete
// zstd frame per chunk, made with zstd's streaming API, so chunks are independent: they
// compress and decompress in parallel, and each is verified on its own).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "proto/stream.pb.h"
#include "transfer/base/status.h"

namespace migrate::transfer {

using Digest = std::array<unsigned char, 32>;

// SHA-256 (OpenSSL; uses the CPU's SHA extensions when present).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t size);
  void UpdateU64(uint64_t v);  // big-endian
  void UpdateU32(uint32_t v);  // big-endian
  Digest Final();              // and resets for reuse

  static Digest Of(const void* data, size_t size);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

std::string DigestHex(const Digest& d);

using ChunkTag = std::array<unsigned char, 16>;
using TagKey = std::array<unsigned char, 16>;

// Chunk tags: GMAC (AES-128-GCM authenticating additional data only, NIST SP 800-38D) under a
// key that both ends of one TLS connection derive from its session (TlsConnection::
// ExportKey). A tag is a keyed, cryptographically strong check that only the two peers of
// that connection can produce, and with the CPU's carry-less multiply it costs about a
// fifth of SHA-256 per byte. A nonce must never repeat under one key: the stream uses
// (entry id, chunk offset), which is unique within a connection.
class ChunkTagger {
 public:
  explicit ChunkTagger(const TagKey& key);
  ~ChunkTagger();
  ChunkTagger(const ChunkTagger&) = delete;
  ChunkTagger& operator=(const ChunkTagger&) = delete;

  // The tag of the concatenation of `parts` under the nonce (entry_id, offset); kInternal
  // when OpenSSL fails (never a made-up tag).
  Result<ChunkTag> Compute(uint32_t entry_id, uint64_t offset,
                   std::initializer_list<std::string_view> parts);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Constant-time comparison of two tags.
bool TagsEqual(const ChunkTag& a, const ChunkTag& b);

// True when all `size` bytes are zero.
bool IsAllZero(const char* data, size_t size);

// A reusable compressor (one per worker thread).
class ChunkCompressor {
 public:
  explicit ChunkCompressor(int level);
  ~ChunkCompressor();
  ChunkCompressor(const ChunkCompressor&) = delete;
  ChunkCompressor& operator=(const ChunkCompressor&) = delete;

  // Appends the encoded chunk to `out` (which the caller pre-sized with headroom) and returns
  // its encoding: ZSTD, or RAW when compression does not save at least 1/32 of the size and
  // `raw_fallback` allows it (without it, incompressible bytes still go in a zstd frame, for
  // its content checksum).
  Result<proto::stream::ChunkEncoding> Encode(const char* data, size_t size, std::string* out,
                                              bool raw_fallback = true);

  // The largest Encode can append for `size` raw bytes.
  static size_t MaxEncodedSize(size_t size);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// A reusable decompressor (one per worker thread). Memory is bounded: the zstd window is
// limited and output never exceeds the declared raw size.
class ChunkDecompressor {
 public:
  ChunkDecompressor();
  ~ChunkDecompressor();
  ChunkDecompressor(const ChunkDecompressor&) = delete;
  ChunkDecompressor& operator=(const ChunkDecompressor&) = delete;

  // Decodes `encoded` into exactly `raw_size` bytes at `out`. kDataLoss when the data is not
  // one complete zstd frame of exactly raw_size bytes (or RAW data of another size).
  Status Decode(proto::stream::ChunkEncoding encoding, std::string_view encoded, char* out,
                size_t raw_size);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace migrate::transfer
