#include "transfer/stream/hello.h"

#include "proto/stream.pb.h"
#include "transfer/stream/frames.h"

namespace migrate::transfer {
namespace {

namespace ps = proto::stream;

constexpr uint32_t kMaxAnswerBytes = 64 * 1024;  // an ACCEPT or VERDICT is far smaller

}  // namespace

std::string HelloFrame(const std::string& token, const std::string& label) {
  ps::Hello hello;
  hello.set_protocol_version(kProtocolVersion);
  hello.set_token(token);
  hello.set_label(label);
  return MessageFrame(ps::FRAME_TYPE_HELLO, hello);
}

std::string AcceptFrame() {
  ps::Accept accept;
  accept.set_protocol_version(kProtocolVersion);
  return MessageFrame(ps::FRAME_TYPE_ACCEPT, accept);
}

Status VerdictStatus(const std::string& payload) {
  ps::Verdict v;
  if (!v.ParseFromString(payload)) return Status::Unavailable("receiver sent a malformed verdict");
  if (v.code() == ps::VERDICT_CODE_COMMITTED) return Status::Ok();
  return Status(StatusCodeFromName(v.status_code()), "receiver: " + v.message());
}

Status AwaitAccept(TlsConnection& conn) {
  char header[kFrameHeaderBytes];
  MIGRATE_RETURN_IF_ERROR(conn.ReadExact(header, sizeof(header)));
  MIGRATE_ASSIGN_OR_RETURN(FrameHeader h, DecodeFrameHeader(header, kMaxAnswerBytes));
  std::string payload(h.length, '\0');
  MIGRATE_RETURN_IF_ERROR(conn.ReadExact(payload.data(), payload.size()));
  if (h.type == ps::FRAME_TYPE_VERDICT) {
    Status refusal = VerdictStatus(payload);
    if (refusal.ok()) return Status::Unavailable("receiver answered HELLO with a commit");
    return refusal;
  }
  if (h.type != ps::FRAME_TYPE_ACCEPT) {
    return Status::Unavailable("receiver answered HELLO with " +
                               std::string(FrameTypeName(h.type)));
  }
  return Status::Ok();
}

}  // namespace migrate::transfer
