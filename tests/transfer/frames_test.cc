// Unit tests of the stream's building blocks: frame and chunk headers, the chunk codec, and
// path / symlink validation.
#include "transfer/frames.h"

#include <gtest/gtest.h>

#include <string>

#include "transfer/chunk_codec.h"
#include "transfer/staging_tree.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;

TEST(FramesTest, FrameHeaderRoundTripAndLimits) {
  char buf[8];
  EncodeFrameHeader(ps::FRAME_TYPE_DATA, 1234, buf);
  auto h = DecodeFrameHeader(buf, 4096);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->type, ps::FRAME_TYPE_DATA);
  EXPECT_EQ(h->length, 1234u);
  EXPECT_EQ(DecodeFrameHeader(buf, 1000).status().code(), StatusCode::kInvalidArgument);
  EncodeFrameHeader(0, 1, buf);
  EXPECT_EQ(DecodeFrameHeader(buf, 4096).status().code(), StatusCode::kInvalidArgument);
  EncodeFrameHeader(200, 1, buf);
  EXPECT_EQ(DecodeFrameHeader(buf, 4096).status().code(), StatusCode::kInvalidArgument);
}

TEST(FramesTest, ChunkHeaderRoundTripWithZeroMap) {
  ChunkHeader h;
  h.entry_id = 7;
  h.encoding = ps::CHUNK_ENCODING_ZSTD;
  h.raw_length = 10 * 4096 + 5;  // 11 pages
  h.offset = 1ull << 40;
  h.sha256 = Sha256::Of("x", 1);
  h.zero_map = std::string("\x05\x00", 2);  // pages 0 and 2 omitted
  std::string buf(ChunkHeaderSize(h), '\0');
  EncodeChunkHeader(h, buf.data());
  auto d = DecodeChunkHeader(buf);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->entry_id, 7u);
  EXPECT_EQ(d->offset, 1ull << 40);
  EXPECT_EQ(d->raw_length, h.raw_length);
  EXPECT_EQ(d->sha256, h.sha256);
  EXPECT_EQ(d->zero_map, h.zero_map);
  EXPECT_EQ(PackedLength(*d), 8u * 4096 + 5);
}

TEST(FramesTest, ChunkHeaderRejectsTruncationAndBadFields) {
  ChunkHeader h;
  h.entry_id = 1;
  h.encoding = ps::CHUNK_ENCODING_RAW;
  h.raw_length = 4096 * 9;
  h.zero_map = std::string("\x01\x00", 2);
  std::string buf(ChunkHeaderSize(h), '\0');
  EncodeChunkHeader(h, buf.data());
  EXPECT_FALSE(DecodeChunkHeader(std::string_view(buf).substr(0, 57)).ok());
  EXPECT_FALSE(DecodeChunkHeader(std::string_view(buf).substr(0, 40)).ok());
  std::string bad = buf;
  bad[4] = 9;  // encoding
  EXPECT_FALSE(DecodeChunkHeader(bad).ok());
  bad = buf;
  bad[5] = 2;  // unknown flag
  EXPECT_FALSE(DecodeChunkHeader(bad).ok());
  bad = buf;
  bad[57] = 2;  // page 9 of 9 pages (0..8) does not exist
  EXPECT_FALSE(DecodeChunkHeader(bad).ok());
}

TEST(ChunkCodecTest, RoundTripAndRawFallback) {
  ChunkCompressor c(1);
  ChunkDecompressor d;
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "compressible " + std::to_string(i % 100);
  std::string enc;
  auto e = c.Encode(text.data(), text.size(), &enc);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, ps::CHUNK_ENCODING_ZSTD);
  EXPECT_LT(enc.size(), text.size() / 4);
  std::string out(text.size(), '\0');
  ASSERT_TRUE(d.Decode(*e, enc, out.data(), out.size()).ok());
  EXPECT_EQ(out, text);
  // Too small an output: refused, not overflowed.
  EXPECT_EQ(d.Decode(*e, enc, out.data(), out.size() - 1).code(), StatusCode::kDataLoss);
  // Truncated frame.
  EXPECT_EQ(
      d.Decode(*e, std::string_view(enc).substr(0, enc.size() / 2), out.data(), out.size()).code(),
      StatusCode::kDataLoss);
  // Trailing garbage after the frame.
  EXPECT_EQ(d.Decode(*e, enc + "junk", out.data(), out.size()).code(), StatusCode::kDataLoss);

  std::string random(100000, '\0');
  uint64_t x = 88172645463325252ull;
  for (auto& ch : random) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ch = static_cast<char>(x);
  }
  enc.clear();
  e = c.Encode(random.data(), random.size(), &enc);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, ps::CHUNK_ENCODING_RAW);
  EXPECT_EQ(enc, random);
}

TEST(ChunkCodecTest, ZeroDetectionAndDigests) {
  std::string z(4096, '\0');
  EXPECT_TRUE(IsAllZero(z.data(), z.size()));
  z[4095] = 1;
  EXPECT_FALSE(IsAllZero(z.data(), z.size()));
  EXPECT_TRUE(IsAllZero(z.data(), 4095));
  EXPECT_EQ(DigestHex(Sha256::Of("abc", 3)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 s;
  s.Update("a", 1);
  s.Update("bc", 2);
  EXPECT_EQ(s.Final(), Sha256::Of("abc", 3));
}

TEST(PathValidationTest, RelativePaths) {
  EXPECT_TRUE(ValidateRelativePath("a", 4096).ok());
  EXPECT_TRUE(ValidateRelativePath("a/b/.hidden", 4096).ok());
  EXPECT_TRUE(ValidateRelativePath("a/...", 4096).ok());
  for (const char* bad : {"", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "../a"}) {
    EXPECT_FALSE(ValidateRelativePath(bad, 4096).ok()) << bad;
  }
  EXPECT_FALSE(ValidateRelativePath(std::string(300, 'a'), 4096).ok());
  EXPECT_FALSE(ValidateRelativePath("abc", 2).ok());
}

TEST(PathValidationTest, SymlinkTargets) {
  const auto kTree = SymlinkPolicy::kWithinTree;
  const auto kRoot = SymlinkPolicy::kContainerRoot;
  EXPECT_TRUE(ValidateSymlinkTarget("a/link", "../b", kTree).ok());
  EXPECT_TRUE(ValidateSymlinkTarget("a/b/link", "../../c", kTree).ok());
  EXPECT_FALSE(ValidateSymlinkTarget("a/link", "../../c", kTree).ok());
  EXPECT_FALSE(ValidateSymlinkTarget("link", "x/../../c", kTree).ok());
  EXPECT_TRUE(ValidateSymlinkTarget("link", "x/./y/..", kTree).ok());
  EXPECT_FALSE(ValidateSymlinkTarget("link", "/etc/passwd", kTree).ok());
  EXPECT_TRUE(ValidateSymlinkTarget("bin/sh", "/bin/busybox", kRoot).ok());
  EXPECT_FALSE(ValidateSymlinkTarget("bin/sh", "../../busybox", kRoot).ok());
  EXPECT_FALSE(ValidateSymlinkTarget("link", "", kRoot).ok());
}

}  // namespace
}  // namespace migrate::transfer
