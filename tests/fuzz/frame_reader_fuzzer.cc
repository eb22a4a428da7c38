// The frame reader and everything that parses a frame's payload before the receiver acts on
// it: frame headers, chunk headers and zero-page maps, the protobuf messages, the zstd decoder
// (bombs, truncation, trailing bytes), on whatever a peer sends.
#include <cstddef>
#include <cstdint>
#include <string>

#include "proto/stream.pb.h"
#include "tests/fuzz/memory_source.h"
#include "transfer/stream/chunk_codec.h"
#include "transfer/stream/frames.h"

namespace ps = migrate::proto::stream;
using namespace migrate::transfer;

namespace {

void ParsePayload(const FrameHeader& h, const std::string& payload, ChunkDecompressor& zstd,
                  std::string& raw) {
  switch (h.type) {
    case ps::FRAME_TYPE_DATA: {
      auto chunk = DecodeChunkHeader(payload);
      if (!chunk.ok() || chunk->raw_length > (1u << 20)) return;
      const uint64_t packed = PackedLength(*chunk);
      raw.resize(packed);
      std::string_view encoded(payload);
      encoded.remove_prefix(ChunkHeaderSize(*chunk));
      (void)zstd.Decode(chunk->encoding, encoded, raw.data(), packed);
      return;
    }
    case ps::FRAME_TYPE_ENTRY: {
      ps::Entry e;
      (void)e.ParseFromString(payload);
      return;
    }
    case ps::FRAME_TYPE_ENTRY_END: {
      ps::EntryEnd e;
      (void)e.ParseFromString(payload);
      return;
    }
    default: {
      ps::Hello hello;
      ps::Trailer trailer;
      ps::Verdict verdict;
      (void)hello.ParseFromString(payload);
      (void)trailer.ParseFromString(payload);
      (void)verdict.ParseFromString(payload);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks how the bytes arrive (1..256 per read).
  migrate::fuzz::MemorySource source(std::string(reinterpret_cast<const char*>(data) + 1, size - 1),
                                     size_t{data[0]} + 1);
  FrameReader reader(&source, 2u << 20);
  ChunkDecompressor zstd;
  std::string payload, raw;
  for (int frames = 0; frames < 10'000; ++frames) {
    auto h = reader.Next(&payload);
    if (!h.ok()) break;
    ParsePayload(*h, payload, zstd, raw);
  }
  return 0;
}
