#include "tests/transfer/raw_client.h"

#include <stdexcept>

#include "tests/transfer/stalled_peers.h"

namespace migrate::testing {

namespace ps = proto::stream;
using transfer::Clock;

RawClient::RawClient(StreamFixture& fx, tls::ContextPtr ctx) : fx_(fx), ctx_(std::move(ctx)) {
  if (!ctx_) {
    auto c = tls::MakeClientContext(fx_.pki().Issue("node-a"));
    if (!c.ok()) throw std::runtime_error(c.status().ToString());
    ctx_ = *c;
  }
}

Status RawClient::Connect() {
  MIGRATE_ASSIGN_OR_RETURN(
      conn_, transfer::TlsConnection::Connect("127.0.0.1", fx_.server().port(), ctx_, "node-b",
                                              Clock::now() + std::chrono::seconds(10), nullptr));
  conn_->set_io_timeout(std::chrono::seconds(10));
  reader_ = std::make_unique<transfer::FrameReader>(conn_.get(), 1u << 20);
  MIGRATE_ASSIGN_OR_RETURN(transfer::TagKey key, transfer::ExportChunkTagKey(*conn_));
  tagger_ = std::make_unique<transfer::ChunkTagger>(key);
  return Status::Ok();
}

Status RawClient::Hello(const std::string& token, uint32_t version) {
  ps::Hello h;
  h.set_protocol_version(version);
  h.set_token(token);
  MIGRATE_RETURN_IF_ERROR(SendFrame(ps::FRAME_TYPE_HELLO, h.SerializeAsString()));
  std::string payload;
  MIGRATE_ASSIGN_OR_RETURN(auto fh, reader_->Next(&payload));
  if (fh.type == ps::FRAME_TYPE_ACCEPT) return Status::Ok();
  ps::Verdict v;
  v.ParseFromString(payload);
  return Status::PermissionDenied("refused: " + v.message());
}

Status RawClient::SendRaw(const std::string& bytes) {
  return conn_->WriteAll(bytes.data(), bytes.size());
}

size_t RawClient::Trickle(const std::string& bytes, std::chrono::milliseconds interval) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (!SendRaw(bytes.substr(i, 1)).ok() || testing::ReadableWithin(conn_->fd(), interval)) {
      return i;
    }
  }
  return bytes.size();
}

Status RawClient::SendFrame(ps::FrameType type, const std::string& payload) {
  std::string frame(transfer::kFrameHeaderBytes, '\0');
  transfer::EncodeFrameHeader(static_cast<uint8_t>(type), static_cast<uint32_t>(payload.size()),
                              frame.data());
  frame += payload;
  return SendRaw(frame);
}

ps::Entry RawClient::MakeEntry(const std::string& path, ps::EntryType type, uint32_t mode,
                               uint64_t size, const std::string& target) {
  ps::Entry e;
  e.set_id(next_id_);
  e.set_path(path);
  e.set_type(type);
  e.set_mode(mode);
  e.set_size(size);
  e.set_link_target(target);
  e.set_mtime_sec(1700000000);
  return e;
}

Status RawClient::Entry(const ps::Entry& e) {
  std::string payload = e.SerializeAsString();
  sealer_.Entry(payload);
  open_ = e;
  has_open_ = true;
  ++next_id_;
  return SendFrame(ps::FRAME_TYPE_ENTRY, payload);
}

Status RawClient::DataCustom(const transfer::ChunkHeader& h, const std::string& encoded,
                             std::optional<transfer::ChunkTag> tag) {
  std::string payload(transfer::ChunkHeaderSize(h), '\0');
  transfer::EncodeChunkHeader(h, payload.data());
  payload += encoded;
  if (!tag) {
    MIGRATE_ASSIGN_OR_RETURN(tag, transfer::ChunkTagOf(*tagger_, h, payload));
  }
  transfer::SetChunkTag(*tag, payload.data());
  sealer_.Chunk(*tag, h.raw_length);
  return SendFrame(ps::FRAME_TYPE_DATA, payload);
}

Status RawClient::Data(uint64_t offset, const std::string& bytes, bool raw) {
  transfer::ChunkHeader h;
  h.entry_id = open_.id();
  h.offset = offset;
  h.raw_length = static_cast<uint32_t>(bytes.size());
  std::string encoded;
  if (raw) {
    h.encoding = ps::CHUNK_ENCODING_RAW;
    encoded = bytes;
  } else {
    transfer::ChunkCompressor c(1);
    auto enc = c.Encode(bytes.data(), bytes.size(), &encoded);
    if (!enc.ok()) return enc.status();
    h.encoding = *enc;
  }
  return DataCustom(h, encoded);
}

Result<transfer::ChunkTag> RawClient::Tag(const transfer::ChunkHeader& h,
                                          const std::string& payload) {
  return transfer::ChunkTagOf(*tagger_, h, payload);
}

Status RawClient::EntryEnd(std::optional<uint64_t> final_size) {
  ps::EntryEnd end;
  end.set_id(open_.id());
  if (final_size) {
    end.set_size(*final_size);
    end.set_mtime_sec(1700000001);
  }
  if (open_.type() == ps::ENTRY_TYPE_REGULAR) {
    transfer::Digest d = sealer_.FileDigest(final_size ? *final_size : open_.size());
    end.set_digest(d.data(), d.size());
  }
  end.set_data_bytes(sealer_.file_bytes());
  end.set_chunks(sealer_.file_chunks());
  has_open_ = false;
  sealer_.EntryEnd();
  return SendFrame(ps::FRAME_TYPE_ENTRY_END, end.SerializeAsString());
}

transfer::Digest RawClient::manifest_digest() { return sealer_.Manifest(); }

Status RawClient::Trailer() {
  ps::Trailer t;
  t.set_entries(sealer_.entries());
  t.set_data_bytes(sealer_.data_bytes());
  transfer::Digest d = sealer_.Manifest();
  t.set_manifest_digest(d.data(), d.size());
  return SendFrame(ps::FRAME_TYPE_TRAILER, t.SerializeAsString());
}

Status RawClient::File(const std::string& path, const std::string& content, uint32_t mode) {
  MIGRATE_RETURN_IF_ERROR(Entry(MakeEntry(path, ps::ENTRY_TYPE_REGULAR, mode, content.size())));
  if (!content.empty()) MIGRATE_RETURN_IF_ERROR(Data(0, content));
  return EntryEnd();
}

Result<ps::Verdict> RawClient::ReadVerdict() {
  std::string payload;
  MIGRATE_ASSIGN_OR_RETURN(auto fh, reader_->Next(&payload));
  if (fh.type != ps::FRAME_TYPE_VERDICT) return Status::Internal("expected a verdict");
  ps::Verdict v;
  if (!v.ParseFromString(payload)) return Status::Internal("malformed verdict");
  return v;
}

void RawClient::CloseNotify() { (void)conn_->Shutdown(std::chrono::seconds(2)); }
void RawClient::Abort() { conn_->Abort(); }

std::unique_ptr<RawClient> OpenStream(StreamFixture& fx, const transfer::ExpectedStream& expected,
                                      std::string* token) {
  *token = StreamFixture::NewToken();
  if (!fx.server().Expect(*token, expected).ok()) return nullptr;
  auto client = std::make_unique<RawClient>(fx);
  if (!client->Connect().ok() || !client->Hello(*token).ok()) return nullptr;
  return client;
}

}  // namespace migrate::testing
