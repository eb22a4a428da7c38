// PEM files of the cluster PKI (certificates, keys, the CRL) read and written
// with OpenSSL, and owning pointers for the OpenSSL objects involved. Shared by
// the TLS set-up (transfer/tls/crl_watcher.cc loads the CRL) and the CA's tools
// (transfer/certs: issuing, revoking).
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "transfer/base/status.h"

namespace migrate::tls {

struct OpenSslDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  // ASN1_INTEGER and ASN1_TIME are both ASN1_STRING.
  void operator()(ASN1_STRING* p) const { ASN1_STRING_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter>;
using CrlPtr = std::unique_ptr<X509_CRL, OpenSslDeleter>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter>;
using BnPtr = std::unique_ptr<BIGNUM, OpenSslDeleter>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter>;
using Asn1IntPtr = std::unique_ptr<ASN1_INTEGER, OpenSslDeleter>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslDeleter>;

// kNotFound when the file cannot be opened, kInvalidArgument when it holds no
// such PEM.
Result<X509Ptr> ReadCertFile(const std::string& path);
Result<PkeyPtr> ReadKeyFile(const std::string& path);
Result<CrlPtr> ReadCrlFile(const std::string& path);

enum class Overwrite { kNever, kAtomically };

// Writes what `encode` puts into a BIO (1 = success) to `path` with exactly
// `mode`, synced. kNever: the file must not exist (kAlreadyExists).
// kAtomically: a temporary file renamed over `path`, so readers see the old or
// the new file, never half of one.
Status WritePemFile(const std::string& path, mode_t mode, Overwrite overwrite,
                    const std::function<int(BIO*)>& encode);

// OK when `crl` names `ca` as its issuer and carries a valid signature by its key;
// kFailedPrecondition naming `what` otherwise.
Status CheckCrlIssuer(X509_CRL* crl, X509* ca, const std::string& what);

}  // namespace migrate::tls
