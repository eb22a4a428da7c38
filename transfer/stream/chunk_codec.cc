#include "transfer/stream/chunk_codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "transfer/base/hex.h"
#include "transfer/tls/tls.h"

namespace migrate::transfer {
namespace {

const EVP_MD* Sha256Md() {
  // Fetched once: avoids a provider lookup per digest.
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// Chunks are at most 4 MiB, so a 4 MiB window (2^22) is all a valid chunk needs.
constexpr int kMaxWindowLog = 22;

}  // namespace

struct Sha256::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  EVP_DigestInit_ex(ctx_->md, Sha256Md(), nullptr);
}
Sha256::~Sha256() = default;

void Sha256::Update(const void* data, size_t size) { EVP_DigestUpdate(ctx_->md, data, size); }

void Sha256::UpdateU64(uint64_t v) {
  unsigned char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
  Update(b, 8);
}

void Sha256::UpdateU32(uint32_t v) {
  unsigned char b[4];
  for (int i = 3; i >= 0; --i) {
    b[i] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
  Update(b, 4);
}

Digest Sha256::Final() {
  Digest d{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, d.data(), &len);
  EVP_DigestInit_ex(ctx_->md, Sha256Md(), nullptr);
  return d;
}

Digest Sha256::Of(const void* data, size_t size) {
  Digest d{};
  unsigned int len = 0;
  EVP_Digest(data, size, d.data(), &len, Sha256Md(), nullptr);
  return d;
}

std::string DigestHex(const Digest& d) { return HexLower(d); }

struct ChunkTagger::Ctx {
  EVP_CIPHER_CTX* cipher = EVP_CIPHER_CTX_new();
  bool keyed = false;
  ~Ctx() { EVP_CIPHER_CTX_free(cipher); }
};

ChunkTagger::ChunkTagger(const TagKey& key) : ctx_(std::make_unique<Ctx>()) {
  // Fetched once; the key schedule and the GHASH key are set up here, not per chunk.
  static EVP_CIPHER* gcm = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  ctx_->keyed = ctx_->cipher != nullptr && gcm != nullptr &&
                EVP_EncryptInit_ex(ctx_->cipher, gcm, nullptr, key.data(), nullptr) == 1;
}

ChunkTagger::~ChunkTagger() = default;

Result<ChunkTag> ChunkTagger::Compute(uint32_t entry_id, uint64_t offset,
                              std::initializer_list<std::string_view> parts) {
  unsigned char nonce[12];
  for (int i = 0; i < 4; ++i) nonce[i] = static_cast<unsigned char>(entry_id >> (24 - 8 * i));
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<unsigned char>(offset >> (56 - 8 * i));
  ChunkTag tag{};
  int len = 0;
  bool ok = ctx_->keyed && EVP_EncryptInit_ex(ctx_->cipher, nullptr, nullptr, nullptr, nonce) == 1;
  for (std::string_view part : parts) {
    // Additional data only (no output buffer): GHASH over the bytes. Parts of any length.
    while (ok && !part.empty()) {
      const int n = static_cast<int>(std::min<size_t>(part.size(), 1u << 30));
      ok = EVP_EncryptUpdate(ctx_->cipher, nullptr, &len,
                             reinterpret_cast<const unsigned char*>(part.data()), n) == 1;
      part.remove_prefix(static_cast<size_t>(n));
    }
  }
  ok = ok && EVP_EncryptFinal_ex(ctx_->cipher, nullptr, &len) == 1 &&
       EVP_CIPHER_CTX_ctrl(ctx_->cipher, EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag.size()),
                           tag.data()) == 1;
  if (!ok) return Status::Internal(tls::OpenSslErrorText("chunk tag (AES-128-GCM)"));
  return tag;
}

bool TagsEqual(const ChunkTag& a, const ChunkTag& b) {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool IsAllZero(const char* data, size_t size) {
  // Word-at-a-time scan; stops at the first non-zero word (random data: at once).
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    if (w != 0) return false;
  }
  for (; i < size; ++i) {
    if (data[i] != 0) return false;
  }
  return true;
}

struct ChunkCompressor::Ctx {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ~Ctx() { ZSTD_freeCCtx(cctx); }
};

ChunkCompressor::ChunkCompressor(int level) : ctx_(std::make_unique<Ctx>()) {
  ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_contentSizeFlag, 1);
  // zstd's own content checksum (XXH64 of the decompressed bytes, checked by the decoder):
  // the chunk's tag covers the bytes as sent, this covers what decompression made of them.
  ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(ctx_->cctx, ZSTD_c_windowLog, 0);  // level default (capped below)
}

ChunkCompressor::~ChunkCompressor() = default;

size_t ChunkCompressor::MaxEncodedSize(size_t size) {
  size_t bound = ZSTD_compressBound(size);
  return bound > size ? bound : size;
}

Result<proto::stream::ChunkEncoding> ChunkCompressor::Encode(const char* data, size_t size,
                                                             std::string* out, bool raw_fallback) {
  size_t start = out->size();
  size_t bound = ZSTD_compressBound(size);
  out->resize(start + bound);
  ZSTD_CCtx_reset(ctx_->cctx, ZSTD_reset_session_only);
  ZSTD_CCtx_setPledgedSrcSize(ctx_->cctx, size);
  ZSTD_inBuffer in{data, size, 0};
  ZSTD_outBuffer o{out->data() + start, bound, 0};
  size_t rc = ZSTD_compressStream2(ctx_->cctx, &o, &in, ZSTD_e_end);
  if (ZSTD_isError(rc)) {
    out->resize(start);
    return Status::Internal(std::string("zstd compress: ") + ZSTD_getErrorName(rc));
  }
  if (rc != 0) {  // cannot happen with a compressBound-sized output
    out->resize(start);
    return Status::Internal("zstd compress: output bound too small");
  }
  if (raw_fallback && o.pos + size / 32 >= size) {
    out->resize(start + size);
    std::memcpy(out->data() + start, data, size);
    return proto::stream::CHUNK_ENCODING_RAW;
  }
  out->resize(start + o.pos);
  return proto::stream::CHUNK_ENCODING_ZSTD;
}

struct ChunkDecompressor::Ctx {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~Ctx() { ZSTD_freeDCtx(dctx); }
};

ChunkDecompressor::ChunkDecompressor() : ctx_(std::make_unique<Ctx>()) {
  ZSTD_DCtx_setParameter(ctx_->dctx, ZSTD_d_windowLogMax, kMaxWindowLog);
}

ChunkDecompressor::~ChunkDecompressor() = default;

Status ChunkDecompressor::Decode(proto::stream::ChunkEncoding encoding, std::string_view encoded,
                                 char* out, size_t raw_size) {
  if (encoding == proto::stream::CHUNK_ENCODING_RAW) {
    if (encoded.size() != raw_size) {
      return Status::DataLoss("raw chunk holds " + std::to_string(encoded.size()) +
                              " bytes, header says " + std::to_string(raw_size));
    }
    std::memcpy(out, encoded.data(), raw_size);
    return Status::Ok();
  }
  if (encoding != proto::stream::CHUNK_ENCODING_ZSTD) {
    return Status::DataLoss("unknown chunk encoding " + std::to_string(encoding));
  }
  // A frame that declares its size must declare the right one (cheap early refusal).
  unsigned long long declared = ZSTD_getFrameContentSize(encoded.data(), encoded.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return Status::DataLoss("chunk is not a zstd frame");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != raw_size) {
    return Status::DataLoss("zstd frame declares " + std::to_string(declared) +
                            " bytes, chunk header says " + std::to_string(raw_size));
  }
  ZSTD_DCtx_reset(ctx_->dctx, ZSTD_reset_session_only);
  ZSTD_inBuffer in{encoded.data(), encoded.size(), 0};
  ZSTD_outBuffer o{out, raw_size, 0};
  for (;;) {
    size_t rc = ZSTD_decompressStream(ctx_->dctx, &o, &in);
    if (ZSTD_isError(rc)) {
      return Status::DataLoss(std::string("zstd decompress: ") + ZSTD_getErrorName(rc));
    }
    if (rc == 0) break;  // frame complete
    if (o.pos == o.size) {
      // Output full but the frame wants more: either more data than declared, or a frame
      // that ends exactly here (zstd reports that on the next call). Probe with 1 byte.
      char probe;
      ZSTD_outBuffer p{&probe, 1, 0};
      rc = ZSTD_decompressStream(ctx_->dctx, &p, &in);
      if (ZSTD_isError(rc)) {
        return Status::DataLoss(std::string("zstd decompress: ") + ZSTD_getErrorName(rc));
      }
      if (p.pos != 0) {
        return Status::DataLoss("chunk decompresses to more than " + std::to_string(raw_size) +
                                " bytes");
      }
      if (rc == 0) break;
    }
    if (in.pos == in.size && rc != 0 && o.pos < o.size) {
      return Status::DataLoss("zstd frame truncated");
    }
    if (in.pos == in.size && rc != 0) return Status::DataLoss("zstd frame truncated");
  }
  if (in.pos != in.size) return Status::DataLoss("trailing bytes after the zstd frame");
  if (o.pos != raw_size) {
    return Status::DataLoss("chunk decompresses to " + std::to_string(o.pos) +
                            " bytes, header says " + std::to_string(raw_size));
  }
  return Status::Ok();
}

}  // namespace migrate::transfer
