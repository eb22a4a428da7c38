// Unit tests of the stream's building blocks: frame and chunk headers, the chunk codec, and
// path / symlink validation.
#include "transfer/stream/frames.h"

#include <gtest/gtest.h>

#include <string>

#include "transfer/stream/chunk_codec.h"
#include "transfer/stream/staging_tree.h"

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
  h.tag.fill(0xa5);
  h.zero_map = std::string("\x05\x00", 2);  // pages 0 and 2 omitted
  std::string buf(ChunkHeaderSize(h), '\0');
  EncodeChunkHeader(h, buf.data());
  auto d = DecodeChunkHeader(buf);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->entry_id, 7u);
  EXPECT_EQ(d->offset, 1ull << 40);
  EXPECT_EQ(d->raw_length, h.raw_length);
  EXPECT_EQ(d->tag, h.tag);
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
  ASSERT_EQ(buf.size(), kChunkHeaderBytes + 2);
  EXPECT_TRUE(DecodeChunkHeader(buf).ok());
  EXPECT_FALSE(DecodeChunkHeader(std::string_view(buf).substr(0, kChunkHeaderBytes + 1)).ok());
  EXPECT_FALSE(DecodeChunkHeader(std::string_view(buf).substr(0, kChunkHeaderBytes - 1)).ok());
  std::string bad = buf;
  bad[4] = 9;  // encoding
  EXPECT_FALSE(DecodeChunkHeader(bad).ok());
  bad = buf;
  bad[5] = 2;  // unknown flag
  EXPECT_FALSE(DecodeChunkHeader(bad).ok());
  bad = buf;
  bad[kChunkHeaderBytes + 1] = 2;  // page 9 of 9 pages (0..8) does not exist
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

ChunkTag TagFromHex(const std::string& hex) {
  ChunkTag t{};
  for (size_t i = 0; i < t.size(); ++i) {
    t[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return t;
}

TEST(ChunkTagTest, KnownAnswers) {
  // GCM with an empty plaintext is GMAC. Zero key, zero IV, nothing to authenticate: the
  // first test case of the GCM specification.
  ChunkTagger zero(TagKey{});
  auto t = zero.Compute(0, 0, {});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, TagFromHex("58e2fccefa7e3061367f1d57a4e7455a"));
  // NIST CAVS gcmEncryptExtIV128, 96-bit IV, no plaintext, 128-bit AAD. The nonce is the
  // entry id (4 bytes) and the offset (8 bytes), big-endian.
  ChunkTagger k(TagFromHex("77be63708971c4e240d1cb79e8d77feb"));
  const ChunkTag aad = TagFromHex("7a43ec1d9c0a5a78a0b16533a6213cab");
  auto t2 = k.Compute(0xe0e00f19u, 0xfed7ba0136a797f3ull,
                      {std::string_view(reinterpret_cast<const char*>(aad.data()), aad.size())});
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(*t2, TagFromHex("209fcc8d3675ed938e9c7166709dd946"));
}

TEST(ChunkTagTest, PartsConcatenateAndEveryInputCounts) {
  ChunkTagger tagger(TagFromHex("000102030405060708090a0b0c0d0e0f"));
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  std::string_view all(data);
  const ChunkTag whole = *tagger.Compute(3, 4096, {all});
  for (size_t cut : {0u, 1u, 15u, 16u, 17u, 500u, 999u, 1000u}) {
    EXPECT_EQ(*tagger.Compute(3, 4096, {all.substr(0, cut), all.substr(cut)}), whole) << cut;
  }
  EXPECT_NE(*tagger.Compute(4, 4096, {all}), whole);  // another entry
  EXPECT_NE(*tagger.Compute(3, 8192, {all}), whole);  // another offset
  std::string flipped = data;
  flipped[999] ^= 1;
  EXPECT_NE(*tagger.Compute(3, 4096, {flipped}), whole);
  ChunkTagger other(TagFromHex("000102030405060708090a0b0c0d0e0e"));
  EXPECT_NE(*other.Compute(3, 4096, {all}), whole);  // another connection's key
  EXPECT_TRUE(TagsEqual(whole, whole));
  EXPECT_FALSE(TagsEqual(whole, *other.Compute(3, 4096, {all})));
}

TEST(ChunkTagTest, CoversTheHeaderButNotTheTagField) {
  ChunkTagger tagger(TagFromHex("0f0e0d0c0b0a09080706050403020100"));
  ChunkHeader h;
  h.entry_id = 2;
  h.encoding = ps::CHUNK_ENCODING_RAW;
  h.raw_length = 3 * 4096;
  h.zero_map = std::string(1, '\x02');
  std::string payload(ChunkHeaderSize(h), '\0');
  EncodeChunkHeader(h, payload.data());
  payload += std::string(2 * 4096, 'p');
  const ChunkTag tag = *ChunkTagOf(tagger, h, payload);
  SetChunkTag(tag, payload.data());
  auto d = DecodeChunkHeader(payload);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tag, tag);
  EXPECT_EQ(*ChunkTagOf(tagger, *d, payload), tag);  // the tag field itself is left out
  for (size_t byte : {0u, 4u, 5u, 8u, 23u, 40u, 41u, 100u}) {  // id, encoding, flags, map, data
    std::string changed = payload;
    changed[byte] ^= 0x01;
    EXPECT_NE(*ChunkTagOf(tagger, *d, changed), tag) << "byte " << byte;
  }
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
  // Images: none at all. A root file system: any well-formed target (it means the container's
  // own root; the receiver and the agent never resolve it).
  const auto kImages = SymlinkPolicy::kNone;
  const auto kRoot = SymlinkPolicy::kContainerRoot;
  for (const char* target : {"b", "../b", "x/./y/..", "/etc/passwd"}) {
    EXPECT_FALSE(ValidateSymlinkTarget("a/link", target, kImages).ok()) << target;
  }
  EXPECT_TRUE(ValidateSymlinkTarget("bin/sh", "/bin/busybox", kRoot).ok());
  EXPECT_TRUE(ValidateSymlinkTarget("bin/sh", "busybox", kRoot).ok());
  EXPECT_TRUE(ValidateSymlinkTarget("a/up", "..", kRoot).ok());
  EXPECT_FALSE(ValidateSymlinkTarget("link", "", kRoot).ok());
  EXPECT_FALSE(ValidateSymlinkTarget("link", std::string("a\0b", 3), kRoot).ok());
  EXPECT_FALSE(ValidateSymlinkTarget("link", std::string(4096, 'a'), kRoot).ok());
}

}  // namespace
}  // namespace migrate::transfer
