// A small cluster PKI with OpenSSL's library: one cluster CA, and node / controller
// certificates issued by it. Used by `migrate certs` and by tests (which make their own CA at
// run time; no key is ever committed).
//
// Keys: EC P-256. Lifetimes: CA 10 years, leaf certificates 1 year (both configurable).
// Leaf certificates carry subjectAltName DNS names, optional IP addresses and one role URI
// (tls::kRoleUriNode or tls::kRoleUriController); extended key usage serverAuth+clientAuth
// for nodes, clientAuth only for the controller. Private keys are written with mode 0600.
#pragma once

#include <string>
#include <vector>

#include "transfer/base/status.h"
#include "transfer/tls/tls.h"

namespace migrate::certs {

// File names inside a CA directory and inside an issued certificate's directory.
inline constexpr const char* kCaCertFile = "ca.pem";     // CA certificate (public)
inline constexpr const char* kCaKeyFile = "ca-key.pem";  // CA private key (0600)
inline constexpr const char* kCertFile = "cert.pem";     // leaf certificate
inline constexpr const char* kKeyFile = "key.pem";       // leaf private key (0600)
inline constexpr const char* kCrlFile = "crl.pem";       // the CA's revocation list

struct CaOptions {
  std::string common_name = "migrate cluster CA";
  int validity_days = 3650;
};

// Creates `out_dir` (mode 0700, may already exist but must not hold a CA) with ca.pem and
// ca-key.pem. Fails with kAlreadyExists rather than overwrite an existing CA.
Status CreateCa(const std::string& out_dir, const CaOptions& options);

struct IssueOptions {
  std::string name;                       // common name; also the first SAN DNS name
  tls::Role role = tls::Role::kUnknown;   // kNode or kController (required)
  std::vector<std::string> dns_names;     // extra SAN DNS names
  std::vector<std::string> ip_addresses;  // SAN IP addresses (v4 or v6 text)
  int validity_days = 365;
};

// Issues a certificate signed by the CA in `ca_dir` into `out_dir` (created, mode 0700):
// cert.pem, key.pem (0600) and a copy of the CA's ca.pem (and of its crl.pem when there is
// one), and returns those paths ready for tls::MakeServerContext / MakeClientContext. Fails
// with kAlreadyExists rather than overwrite.
Result<tls::TlsFiles> IssueCertificate(const std::string& ca_dir, const std::string& out_dir,
                                       const IssueOptions& options);

}  // namespace migrate::certs
