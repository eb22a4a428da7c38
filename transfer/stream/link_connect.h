// The client side of a page link (post-copy's lazy page traffic between two agents): connects to
// the peer's StreamServer over mutual TLS and presents the link's one-time token, which the server
// registered with StreamServer::ExpectLink. The connection that comes back is ready for a PageLink.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "transfer/base/status.h"
#include "transfer/stream/stream_types.h"
#include "transfer/stream/tls_connection.h"
#include "transfer/tls/tls.h"

namespace migrate::transfer {

struct LinkTarget {
  std::string host;  // address of the peer's StreamServer (name or IP)
  uint16_t port = 0;
  std::string server_name;  // the peer node's name: must be in its certificate's SAN
  tls::ContextPtr tls;      // from tls::MakeClientContext (required)
  std::string token;        // the one-time token the peer issued for this link
  std::string label;        // for logs and the HELLO: migration id
  // TCP connect, TLS handshake, HELLO and the answer, as a whole.
  std::chrono::milliseconds connect_timeout{10'000};
};

// Blocks until the server accepted the link. Errors: kInvalidArgument (bad target), kUnavailable
// (connect, TLS handshake, connection lost), kPermissionDenied (certificate or token refused, with
// the server's message), kDeadlineExceeded, kAborted (cancelled).
Result<std::unique_ptr<TlsConnection>> ConnectLink(const LinkTarget& target,
                                                   const CancelFlag* cancel = nullptr);

}  // namespace migrate::transfer
