// Mutual TLS set-up: see tls.h. Plain OpenSSL calls on the context Asio wraps, so that both
// Asio streams (agent API, controller) and the blocking data streams share one policy.
#include "transfer/tls/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/ssl/context.hpp>
#include <cstring>
#include <memory>
#include <string>
#include <utility>  // g++ 12 + Boost 1.74: asio needs it first.

#include "transfer/tls/crl_watcher.h"

namespace migrate::tls {
namespace {

// TLS 1.3 suites, AES-128-GCM first: with AES-NI it is the cheapest strong choice.
constexpr const char* kTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
// TLS 1.2 fallback: forward-secret AEAD suites only.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The context owns its CrlWatcher (freed with the SSL_CTX); OpenSSL calls Verify() instead of
// X509_verify_cert for every peer chain.
int CrlIndex() {
  static const int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<CrlWatcher*>(ptr);
      });
  return index;
}

Status InstallRevocation(SSL_CTX* ctx, const TlsFiles& files) {
  MIGRATE_ASSIGN_OR_RETURN(
      std::unique_ptr<CrlWatcher> watcher,
      CrlWatcher::Create(CrlPathFor(files), files.ca_file, !files.crl_file.empty()));
  CrlWatcher* raw = watcher.get();
  if (SSL_CTX_set_ex_data(ctx, CrlIndex(), raw) != 1) {
    return Status::Internal(OpenSslErrorText("attach the revocation list"));
  }
  watcher.release();  // owned by the context now
  SSL_CTX_set_cert_verify_callback(
      ctx, [](X509_STORE_CTX* store, void* arg) { return static_cast<CrlWatcher*>(arg)->Verify(store); },
      raw);
  return Status::Ok();
}

Result<ContextPtr> MakeContext(const TlsFiles& files, bool server) {
  if (files.ca_file.empty() || files.cert_file.empty() || files.key_file.empty()) {
    return Status::InvalidArgument("TLS needs a CA file, a certificate file and a key file");
  }
  ERR_clear_error();
  ContextPtr ctx;
  try {  // The Asio context constructor throws only when OpenSSL cannot allocate.
    ctx = std::make_shared<boost::asio::ssl::context>(
        server ? boost::asio::ssl::context::tls_server : boost::asio::ssl::context::tls_client);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("create TLS context: ") + e.what());
  }
  SSL_CTX* raw = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(raw, TLS1_2_VERSION) != 1) {
    return Status::Internal(OpenSslErrorText("set minimum TLS version"));
  }
  SSL_CTX_set_options(raw, SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  // No session tickets (see FACTS.md: unread tickets + close = truncated tail) and no cache.
  SSL_CTX_set_num_tickets(raw, 0);
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(raw, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_ciphersuites(raw, kTls13Suites) != 1 ||
      SSL_CTX_set_cipher_list(raw, kTls12Ciphers) != 1) {
    return Status::Internal(OpenSslErrorText("set TLS cipher suites"));
  }
  // The cluster CA is the only trust anchor: no system default paths.
  if (SSL_CTX_load_verify_locations(raw, files.ca_file.c_str(), nullptr) != 1) {
    return Status::InvalidArgument(OpenSslErrorText("load CA file " + files.ca_file));
  }
  if (server) {
    // Tell clients which CA we accept (helps diagnose a wrong client certificate).
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(raw, names);
  }
  if (SSL_CTX_use_certificate_chain_file(raw, files.cert_file.c_str()) != 1) {
    return Status::InvalidArgument(OpenSslErrorText("load certificate file " + files.cert_file));
  }
  if (SSL_CTX_use_PrivateKey_file(raw, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Status::InvalidArgument(OpenSslErrorText("load key file " + files.key_file));
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    return Status::InvalidArgument(
        OpenSslErrorText("key file " + files.key_file + " does not match " + files.cert_file));
  }
  // Peer verification is always on, and a server always demands a client certificate.
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                     nullptr);
  SSL_CTX_set_verify_depth(raw, 4);
  // A server accepts only certificates usable for client auth, a client only server certs.
  if (SSL_CTX_set_purpose(raw, server ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER) != 1) {
    return Status::Internal(OpenSslErrorText("set certificate purpose"));
  }
  MIGRATE_RETURN_IF_ERROR(InstallRevocation(raw, files));
  return ctx;
}

bool LooksLikeIp(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  if (ip == nullptr) return false;
  ASN1_OCTET_STRING_free(ip);
  return true;
}

}  // namespace

std::string CrlPathFor(const TlsFiles& files) {
  if (!files.crl_file.empty()) return files.crl_file;
  size_t slash = files.ca_file.rfind('/');
  return (slash == std::string::npos ? std::string(".") : files.ca_file.substr(0, slash)) +
         "/crl.pem";
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNode:
      return "node";
    case Role::kController:
      return "controller";
    case Role::kUnknown:
      break;
  }
  return "unknown";
}

Result<ContextPtr> MakeServerContext(const TlsFiles& files) {
  auto ctx = MakeContext(files, /*server=*/true);
  if (!ctx.ok()) return ctx.status().WithContext("TLS server context");
  return ctx;
}

Result<ContextPtr> MakeClientContext(const TlsFiles& files) {
  auto ctx = MakeContext(files, /*server=*/false);
  if (!ctx.ok()) return ctx.status().WithContext("TLS client context");
  return ctx;
}

Status ExpectServerName(SSL* ssl, const std::string& host_name) {
  if (ssl == nullptr) return Status::InvalidArgument("ExpectServerName: no TLS stream");
  if (host_name.empty()) {
    return Status::InvalidArgument("ExpectServerName: empty server name (verification needs one)");
  }
  ERR_clear_error();
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (LooksLikeIp(host_name)) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host_name.c_str()) != 1) {
      return Status::InvalidArgument(OpenSslErrorText("expect server IP " + host_name));
    }
    return Status::Ok();
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, host_name.c_str(), host_name.size()) != 1) {
    return Status::InvalidArgument(OpenSslErrorText("expect server name " + host_name));
  }
  if (SSL_set_tlsext_host_name(ssl, host_name.c_str()) != 1) {
    return Status::InvalidArgument(OpenSslErrorText("set SNI " + host_name));
  }
  return Status::Ok();
}

Result<PeerIdentity> IdentifyPeer(SSL* ssl) {
  if (ssl == nullptr) return Status::InvalidArgument("IdentifyPeer: no TLS stream");
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return Status::PermissionDenied("peer presented no certificate");
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return Status::PermissionDenied(std::string("peer certificate not verified: ") +
                                    X509_verify_cert_error_string(verify));
  }
  PeerIdentity id;
  char cn[256];
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
  if (n > 0) id.common_name.assign(cn, static_cast<size_t>(n));

  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type == GEN_DNS) {
        const ASN1_IA5STRING* s = gn->d.dNSName;
        id.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<size_t>(ASN1_STRING_length(s)));
      } else if (gn->type == GEN_URI) {
        const ASN1_IA5STRING* s = gn->d.uniformResourceIdentifier;
        std::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                             static_cast<size_t>(ASN1_STRING_length(s)));
        Role role = Role::kUnknown;
        if (uri == kRoleUriNode) role = Role::kNode;
        if (uri == kRoleUriController) role = Role::kController;
        if (role != Role::kUnknown) {
          // Two different role URIs in one certificate: trust neither.
          id.role = (id.role == Role::kUnknown || id.role == role) ? role : Role::kUnknown;
          if (id.role == Role::kUnknown) break;
        }
      }
    }
    GENERAL_NAMES_free(sans);
  }
  return id;
}

std::string OpenSslErrorText(std::string_view what) {
  std::string out(what);
  bool first = true;
  while (unsigned long err = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

}  // namespace migrate::tls
