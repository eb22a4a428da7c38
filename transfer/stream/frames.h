// Framing of the data stream (layout documented in proto/stream.proto): an 8-byte header,
// then a protobuf message or a DATA chunk (40-byte chunk header + bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/stream.pb.h"
#include "transfer/stream/byte_source.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/base/status.h"
#include "transfer/stream/tls_connection.h"

namespace migrate::transfer {

// 3: special-file entries (FIFOs, sockets, devices); a sender of 2 dropped them from the tree.
// 2: chunks carry a 16-byte GMAC tag (1 carried a SHA-256). Peers must speak the same one.
inline constexpr uint32_t kProtocolVersion = 3;
inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr size_t kChunkHeaderBytes = 40;
// Header bytes 0..23 are authenticated by the tag; 24..39 hold the tag itself.
inline constexpr size_t kChunkTagOffset = 24;

struct FrameHeader {
  uint8_t type = 0;  // proto::stream::FrameType
  uint32_t length = 0;
};

// Writes an 8-byte frame header at `out`.
void EncodeFrameHeader(uint8_t type, uint32_t length, char* out);
// Parses a header; kInvalidArgument for non-zero reserved bytes, an unknown type or a length
// over `max_length`.
Result<FrameHeader> DecodeFrameHeader(const char* in, uint32_t max_length);

inline constexpr size_t kPageBytes = 4096;
inline constexpr uint8_t kChunkFlagZeroMap = 1;

struct ChunkHeader {
  uint32_t entry_id = 0;
  proto::stream::ChunkEncoding encoding = proto::stream::CHUNK_ENCODING_UNSPECIFIED;
  uint32_t raw_length = 0;
  uint64_t offset = 0;
  // GMAC over header bytes 0..23, the zero map and the chunk's bytes as sent (see
  // ChunkTagOf); nonce (entry id, offset).
  ChunkTag tag{};
  // Empty, or one bit per 4 KiB page of the chunk (LSB first): 1 = an all-zero page that is
  // not sent (the receiver leaves a hole). Its length is ceil(pages / 8) bytes.
  std::string zero_map;
};

// Bytes of the encoded chunk header: 40, plus the zero map.
size_t ChunkHeaderSize(const ChunkHeader& h);
// Writes ChunkHeaderSize(h) bytes at `out`.
void EncodeChunkHeader(const ChunkHeader& h, char* out);
// Parses and checks the header (reserved bytes, encoding, map length and padding).
Result<ChunkHeader> DecodeChunkHeader(std::string_view payload);
// The number of bytes actually carried: raw_length minus the omitted pages.
uint64_t PackedLength(const ChunkHeader& h);
inline bool PageOmitted(const std::string& map, size_t page) {
  return !map.empty() && (static_cast<uint8_t>(map[page / 8]) >> (page % 8)) & 1;
}

// The tag of a DATA payload (chunk header, zero map and bytes as sent) whose header is `h`:
// the tag field itself (bytes 24..39) is left out.
Result<ChunkTag> ChunkTagOf(ChunkTagger& tagger, const ChunkHeader& h, std::string_view payload);
// Writes `tag` into an encoded chunk header.
void SetChunkTag(const ChunkTag& tag, char* header);

// The key for this connection's chunk tags, from the TLS session (RFC 8446 section 7.5
// exporter, RFC 5705 for TLS 1.2): both ends derive the same secret without sending it.
Result<TagKey> ExportChunkTagKey(TlsConnection& conn);

// A whole frame (header + serialized message) as bytes.
std::string MessageFrame(proto::stream::FrameType type, const google::protobuf::MessageLite& m);

std::string_view FrameTypeName(uint8_t type);

// Reads frames from a connection through a buffer (few large TLS reads).
class FrameReader {
 public:
  FrameReader(ByteSource* source, uint32_t max_frame_bytes);
  // Reads the next frame into `payload` (resized). The whole frame, header and payload, must
  // arrive within the source's io_timeout (kDeadlineExceeded otherwise). A clean close
  // exactly between frames is kDataLoss "stream ended (peer closed)".
  Result<FrameHeader> Next(std::string* payload);
  // Bytes consumed so far (frame headers + payloads).
  uint64_t bytes() const { return bytes_; }

 private:
  Status Fill(size_t need);
  ByteSource* source_;
  uint32_t max_frame_bytes_;
  std::string buf_;
  size_t begin_ = 0;
  size_t end_ = 0;
  uint64_t bytes_ = 0;
  Clock::time_point frame_deadline_{};
};

// Writes frames through a buffer: small frames are coalesced, large ones go out directly.
class FrameWriter {
 public:
  explicit FrameWriter(TlsConnection* conn);
  // `frame` holds a complete frame (header included).
  Status Write(std::string_view frame);
  Status Flush();
  uint64_t bytes() const { return bytes_; }

 private:
  TlsConnection* conn_;
  std::string buf_;
  uint64_t bytes_ = 0;
};

}  // namespace migrate::transfer
