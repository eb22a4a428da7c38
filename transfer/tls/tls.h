// Mutual TLS set-up shared by every connection of the project: agent API, data streams,
// controller. Verification is always on: there is no option to turn it off.
//
// Identity: every certificate is issued by the cluster CA (see transfer/certs.h). Its
// subjectAltName carries the node's DNS name(s) (what peers verify against the host they
// meant to reach) and one URI naming its role: "urn:migrate:role:node" or
// "urn:migrate:role:controller".
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "transfer/base/status.h"

typedef struct ssl_st SSL;
namespace boost::asio::ssl {
class context;
}

namespace migrate::tls {

struct TlsFiles {
  std::string ca_file;    // PEM: the cluster CA; the only trust anchor.
  std::string cert_file;  // PEM: this process's certificate (chain).
  std::string key_file;   // PEM: its private key.
  // PEM: the CA's revocation list (`migrate certs revoke`), which must exist. Empty: crl.pem
  // beside ca_file, if and when it exists. Peers it lists are refused at the handshake; the
  // file is re-read whenever it changes (no restart).
  std::string crl_file;
};

// Where a context looks for the revocation list of `files`.
std::string CrlPathFor(const TlsFiles& files);

enum class Role { kUnknown = 0, kNode, kController };
std::string_view RoleName(Role role);
inline constexpr std::string_view kRoleUriNode = "urn:migrate:role:node";
inline constexpr std::string_view kRoleUriController = "urn:migrate:role:controller";

struct PeerIdentity {
  std::string common_name;
  std::vector<std::string> dns_names;  // subjectAltName DNS entries
  Role role = Role::kUnknown;          // from the subjectAltName URI
};

using ContextPtr = std::shared_ptr<boost::asio::ssl::context>;

// A server context: TLS >= 1.2 (1.3 preferred), requires and verifies a client certificate
// chaining to files.ca_file and not revoked (files.crl_file), no session tickets. Errors
// name the file that failed.
Result<ContextPtr> MakeServerContext(const TlsFiles& files);

// A client context: same trust rules; presents files.cert_file.
Result<ContextPtr> MakeClientContext(const TlsFiles& files);

// Before the handshake on a client stream: sets SNI to `host_name` and makes the handshake
// fail unless the server certificate's subjectAltName DNS matches `host_name`.
Status ExpectServerName(SSL* ssl, const std::string& host_name);

// After the handshake: who the (verified) peer is.
Result<PeerIdentity> IdentifyPeer(SSL* ssl);

// The calling thread's OpenSSL error queue as one line ("what: lib:reason; ..."); clears it.
std::string OpenSslErrorText(std::string_view what);

}  // namespace migrate::tls
