#include "transfer/stream/frames.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

#include "transfer/tls/tls.h"

namespace migrate::transfer {
namespace {

constexpr size_t kReadBuffer = 256 * 1024;
constexpr size_t kWriteBuffer = 256 * 1024;
constexpr size_t kDirectWrite = 64 * 1024;  // frames this big skip the buffer

void PutU32(uint32_t v, char* out) {
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
}
void PutU64(uint64_t v, char* out) {
  PutU32(static_cast<uint32_t>(v >> 32), out);
  PutU32(static_cast<uint32_t>(v), out + 4);
}
uint32_t GetU32(const char* in) {
  auto b = reinterpret_cast<const unsigned char*>(in);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}
uint64_t GetU64(const char* in) { return (uint64_t{GetU32(in)} << 32) | GetU32(in + 4); }

}  // namespace

void EncodeFrameHeader(uint8_t type, uint32_t length, char* out) {
  out[0] = static_cast<char>(type);
  out[1] = out[2] = out[3] = 0;
  PutU32(length, out + 4);
}

std::string_view FrameTypeName(uint8_t type) {
  if (!proto::stream::FrameType_IsValid(type)) return "unknown";
  return proto::stream::FrameType_Name(static_cast<proto::stream::FrameType>(type));
}

Result<FrameHeader> DecodeFrameHeader(const char* in, uint32_t max_length) {
  FrameHeader h;
  h.type = static_cast<uint8_t>(in[0]);
  if (in[1] != 0 || in[2] != 0 || in[3] != 0) {
    return Status::InvalidArgument("bad frame header: reserved bytes are not zero");
  }
  if (h.type == proto::stream::FRAME_TYPE_UNSPECIFIED ||
      !proto::stream::FrameType_IsValid(h.type)) {
    return Status::InvalidArgument("unknown frame type " + std::to_string(h.type));
  }
  h.length = GetU32(in + 4);
  if (h.length > max_length) {
    return Status::InvalidArgument("frame of " + std::to_string(h.length) +
                                   " bytes is over the limit of " + std::to_string(max_length));
  }
  return h;
}

size_t ChunkHeaderSize(const ChunkHeader& h) { return kChunkHeaderBytes + h.zero_map.size(); }

void EncodeChunkHeader(const ChunkHeader& h, char* out) {
  std::memset(out, 0, kChunkHeaderBytes);
  PutU32(h.entry_id, out);
  out[4] = static_cast<char>(h.encoding);
  out[5] = static_cast<char>(h.zero_map.empty() ? 0 : kChunkFlagZeroMap);
  PutU32(h.raw_length, out + 8);
  PutU64(h.offset, out + 16);
  SetChunkTag(h.tag, out);
  if (!h.zero_map.empty())
    std::memcpy(out + kChunkHeaderBytes, h.zero_map.data(), h.zero_map.size());
}

uint64_t PackedLength(const ChunkHeader& h) {
  if (h.zero_map.empty()) return h.raw_length;
  uint64_t packed = 0;
  size_t pages = (h.raw_length + kPageBytes - 1) / kPageBytes;
  for (size_t i = 0; i < pages; ++i) {
    if (PageOmitted(h.zero_map, i)) continue;
    packed += std::min<uint64_t>(kPageBytes, h.raw_length - i * kPageBytes);
  }
  return packed;
}

Result<ChunkHeader> DecodeChunkHeader(std::string_view payload) {
  if (payload.size() < kChunkHeaderBytes) {
    return Status::InvalidArgument("DATA frame shorter than its chunk header");
  }
  const char* p = payload.data();
  const uint8_t flags = static_cast<uint8_t>(p[5]);
  if ((flags & ~kChunkFlagZeroMap) != 0 || p[6] != 0 || p[7] != 0 || GetU32(p + 12) != 0) {
    return Status::InvalidArgument("chunk header: reserved bytes are not zero");
  }
  ChunkHeader h;
  h.entry_id = GetU32(p);
  uint8_t enc = static_cast<uint8_t>(p[4]);
  if (enc != proto::stream::CHUNK_ENCODING_ZSTD && enc != proto::stream::CHUNK_ENCODING_RAW) {
    return Status::InvalidArgument("chunk header: unknown encoding " + std::to_string(enc));
  }
  h.encoding = static_cast<proto::stream::ChunkEncoding>(enc);
  h.raw_length = GetU32(p + 8);
  h.offset = GetU64(p + 16);
  std::memcpy(h.tag.data(), p + kChunkTagOffset, h.tag.size());
  if (flags & kChunkFlagZeroMap) {
    const size_t pages = (static_cast<size_t>(h.raw_length) + kPageBytes - 1) / kPageBytes;
    const size_t map_bytes = (pages + 7) / 8;
    if (pages == 0 || payload.size() < kChunkHeaderBytes + map_bytes) {
      return Status::InvalidArgument("chunk header: zero-page map shorter than the chunk");
    }
    h.zero_map.assign(p + kChunkHeaderBytes, map_bytes);
    if (pages % 8 != 0 && (static_cast<uint8_t>(h.zero_map.back()) >> (pages % 8)) != 0) {
      return Status::InvalidArgument("chunk header: zero-page map marks pages past the chunk");
    }
    if (PackedLength(h) == 0) {
      return Status::InvalidArgument("chunk header: every page omitted (send a hole instead)");
    }
  }
  return h;
}

void SetChunkTag(const ChunkTag& tag, char* header) {
  std::memcpy(header + kChunkTagOffset, tag.data(), tag.size());
}

Result<ChunkTag> ChunkTagOf(ChunkTagger& tagger, const ChunkHeader& h, std::string_view payload) {
  if (payload.size() < kChunkHeaderBytes) return Status::Internal("chunk payload too short");
  return tagger.Compute(h.entry_id, h.offset,
                        {payload.substr(0, kChunkTagOffset), payload.substr(kChunkHeaderBytes)});
}

Result<TagKey> ExportChunkTagKey(TlsConnection& conn) {
  // RFC 5705 section 4: labels of private use begin with "EXPERIMENTAL".
  static constexpr char kLabel[] = "EXPERIMENTAL migrate stream chunk tags";
  TagKey key{};
  if (SSL_export_keying_material(conn.ssl(), key.data(), key.size(), kLabel, sizeof(kLabel) - 1,
                                 nullptr, 0, 0) != 1) {
    return Status::Internal(tls::OpenSslErrorText("export the chunk tag key"));
  }
  return key;
}

std::string MessageFrame(proto::stream::FrameType type, const google::protobuf::MessageLite& m) {
  std::string out(kFrameHeaderBytes, '\0');
  m.AppendToString(&out);
  EncodeFrameHeader(static_cast<uint8_t>(type),
                    static_cast<uint32_t>(out.size() - kFrameHeaderBytes), out.data());
  return out;
}

FrameReader::FrameReader(ByteSource* source, uint32_t max_frame_bytes)
    : source_(source), max_frame_bytes_(max_frame_bytes), buf_(kReadBuffer, '\0') {}

Status FrameReader::Fill(size_t need) {
  if (end_ - begin_ >= need) return Status::Ok();
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  while (end_ < need) {
    MIGRATE_ASSIGN_OR_RETURN(
        size_t got, source_->ReadSome(buf_.data() + end_, buf_.size() - end_, frame_deadline_));
    if (got == 0) {
      return Status::DataLoss(end_ == 0 ? "stream ended (peer closed)"
                                        : "stream truncated inside a frame");
    }
    end_ += got;
  }
  return Status::Ok();
}

Result<FrameHeader> FrameReader::Next(std::string* payload) {
  // One deadline for the whole frame, not one per read: a peer that sends a byte now and then
  // cannot keep a frame (and the connection) alive for ever.
  frame_deadline_ = Clock::now() + source_->io_timeout();
  MIGRATE_RETURN_IF_ERROR(Fill(kFrameHeaderBytes));
  MIGRATE_ASSIGN_OR_RETURN(FrameHeader h,
                           DecodeFrameHeader(buf_.data() + begin_, max_frame_bytes_));
  begin_ += kFrameHeaderBytes;
  payload->resize(h.length);
  size_t have = std::min<size_t>(end_ - begin_, h.length);
  std::memcpy(payload->data(), buf_.data() + begin_, have);
  begin_ += have;
  if (have < h.length) {
    // The rest straight into the payload (large DATA frames skip the buffer).
    for (size_t at = have; at < h.length;) {
      MIGRATE_ASSIGN_OR_RETURN(size_t got,
                               source_->ReadSome(payload->data() + at, h.length - at, frame_deadline_));
      if (got == 0) {
        return Status::DataLoss("stream truncated inside a " + std::string(FrameTypeName(h.type)) +
                                " frame");
      }
      at += got;
    }
  }
  bytes_ += kFrameHeaderBytes + h.length;
  return h;
}

FrameWriter::FrameWriter(TlsConnection* conn) : conn_(conn) { buf_.reserve(kWriteBuffer); }

Status FrameWriter::Write(std::string_view frame) {
  bytes_ += frame.size();
  if (frame.size() >= kDirectWrite) {
    MIGRATE_RETURN_IF_ERROR(Flush());
    return conn_->WriteAll(frame.data(), frame.size());
  }
  if (buf_.size() + frame.size() > kWriteBuffer) MIGRATE_RETURN_IF_ERROR(Flush());
  buf_.append(frame);
  return Status::Ok();
}

Status FrameWriter::Flush() {
  if (buf_.empty()) return Status::Ok();
  Status st = conn_->WriteAll(buf_.data(), buf_.size());
  buf_.clear();
  return st;
}

}  // namespace migrate::transfer
