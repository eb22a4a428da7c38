// The agent API's request decoding: the HTTP/1.1 request as Beast parses it (with the
// server's body limit), the protobuf request its target names, and the agent's checks of what
// it carries (container ids, cgroup modes), whatever an authenticated peer sends.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>  // before asio: g++ 12 + Boost 1.74

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "agent/runtime/cgroup_mode.h"
#include "agent/runtime/ids.h"
#include "proto/agent_api.pb.h"

namespace http = boost::beast::http;
namespace proto = migrate::proto;
using migrate::runtime::CgroupModeFromProto;
using migrate::runtime::ValidateContainerId;

namespace {

template <typename Request>
void Decode(const std::string& body) {
  Request r;
  if (!r.ParseFromString(body)) return;
  if constexpr (requires { r.container_id(); }) (void)ValidateContainerId(r.container_id());
  if constexpr (requires { r.cgroup_mode(); }) (void)CgroupModeFromProto(r.cgroup_mode());
  (void)r.SerializeAsString();
}

void Route(std::string_view target, const std::string& body) {
  if (target == "/v1/inspect") return Decode<proto::InspectRequest>(body);
  if (target == "/v1/preflight") return Decode<proto::PreflightRequest>(body);
  if (target == "/v1/prepare-receive") return Decode<proto::PrepareReceiveRequest>(body);
  if (target == "/v1/checkpoint-send") return Decode<proto::CheckpointSendRequest>(body);
  if (target == "/v1/restore") return Decode<proto::RestoreRequest>(body);
  if (target == "/v1/commit") return Decode<proto::CommitRequest>(body);
  if (target == "/v1/rollback") return Decode<proto::RollbackRequest>(body);
  if (target.rfind("/v1/migrations/", 0) == 0) (void)proto::MigrationStatus().ParseFromString(body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(16 << 20);  // as ApiServerOptions::max_body_bytes
  boost::beast::error_code ec;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  (void)used;
  if (ec || !parser.is_done()) {
    // Not a whole request: the body decoders still get the bytes, as if one had carried them.
    Route("/v1/preflight", std::string(input));
    Route("/v1/checkpoint-send", std::string(input));
    return 0;
  }
  const auto& request = parser.get();
  Route(std::string_view(request.target().data(), request.target().size()), request.body());
  return 0;
}
