#include "transfer/stream/link_connect.h"

#include <algorithm>

#include "transfer/stream/hello.h"

namespace migrate::transfer {
namespace {

Status ValidateTarget(const LinkTarget& t) {
  if (t.host.empty() || t.port == 0) return Status::InvalidArgument("no host or port to link to");
  if (t.server_name.empty()) return Status::InvalidArgument("no expected server name");
  if (!t.tls) return Status::InvalidArgument("no TLS client context");
  if (t.token.empty()) return Status::InvalidArgument("no link token");
  return Status::Ok();
}

Result<std::unique_ptr<TlsConnection>> Connect(const LinkTarget& t, const CancelFlag* cancel) {
  const Clock::time_point deadline = Clock::now() + t.connect_timeout;
  MIGRATE_ASSIGN_OR_RETURN(
      auto conn, TlsConnection::Connect(t.host, t.port, t.tls, t.server_name, deadline, cancel));
  conn->set_cancel(cancel);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  conn->set_io_timeout(std::max(left, std::chrono::milliseconds(1)));
  std::string hello = HelloFrame(t.token, t.label);
  MIGRATE_RETURN_IF_ERROR(conn->WriteAll(hello.data(), hello.size()));
  Status answer = AwaitAccept(*conn);
  if (!answer.ok()) {
    conn->Abort();
    return answer;
  }
  conn->set_cancel(nullptr);  // the caller's flag need not outlive this call
  return conn;
}

}  // namespace

Result<std::unique_ptr<TlsConnection>> ConnectLink(const LinkTarget& target,
                                                   const CancelFlag* cancel) {
  MIGRATE_RETURN_IF_ERROR(ValidateTarget(target));
  auto conn = Connect(target, cancel);
  if (!conn.ok()) {
    return conn.status().WithContext("page link to " + target.server_name + " (" + target.host +
                                     ":" + std::to_string(target.port) + ")");
  }
  return conn;
}

}  // namespace migrate::transfer
