// The opening of every connection to a StreamServer, data stream or page link alike: the client's
// HELLO (its one-time token) and the server's answer, ACCEPT or a VERDICT refusing it.
#pragma once

#include <string>

#include "transfer/base/status.h"
#include "transfer/stream/tls_connection.h"

namespace migrate::transfer {

// A complete HELLO frame presenting `token` (label: informational, the migration id).
std::string HelloFrame(const std::string& token, const std::string& label);

// A complete ACCEPT frame (the server's answer to a HELLO it takes).
std::string AcceptFrame();

// The status a VERDICT payload carries: OK for COMMITTED, else the receiver's status code and
// message ("receiver: ..."); kUnavailable when it does not parse.
Status VerdictStatus(const std::string& payload);

// Reads the server's answer to HELLO, and not one byte past it (what follows ACCEPT belongs to the
// conversation), within the connection's io_timeout per read. OK on ACCEPT; the refusal's status on
// a VERDICT (e.g. kPermissionDenied for a token or certificate); kUnavailable for any other frame
// (a COMMITTED verdict included).
Status AwaitAccept(TlsConnection& conn);

}  // namespace migrate::transfer
