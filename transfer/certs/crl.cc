#include "transfer/certs/crl.h"

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <ctime>

#include "transfer/certs/certs.h"
#include "transfer/tls/pem_file.h"
#include "transfer/tls/tls.h"

namespace migrate::certs {
namespace {

std::string CrlPath(const std::string& ca_dir) { return ca_dir + "/" + kCrlFile; }

std::string Hex(const ASN1_INTEGER* serial) {
  tls::BnPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  char* text = bn ? BN_bn2hex(bn.get()) : nullptr;
  std::string out = text != nullptr ? text : "";
  OPENSSL_free(text);
  return out;
}

Result<tls::Asn1IntPtr> SerialFromHex(const std::string& hex) {
  BIGNUM* raw = nullptr;
  if (hex.empty() || hex.find_first_not_of("0123456789abcdefABCDEF:") != std::string::npos) {
    return Status::InvalidArgument("serial '" + hex + "' is not hexadecimal");
  }
  std::string digits;
  for (char c : hex) {
    if (c != ':') digits += c;
  }
  if (BN_hex2bn(&raw, digits.c_str()) == 0) {
    return Status::InvalidArgument("serial '" + hex + "' is not hexadecimal");
  }
  tls::BnPtr bn(raw);
  tls::Asn1IntPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return Status::Internal(tls::OpenSslErrorText("serial " + hex));
  return serial;
}

// The list so far (an empty one when there is none yet), checked to be this CA's.
Result<tls::CrlPtr> ExistingOrNew(const std::string& ca_dir, X509* ca) {
  struct stat st;
  if (stat(CrlPath(ca_dir).c_str(), &st) != 0) {
    tls::CrlPtr crl(X509_CRL_new());
    if (!crl || X509_CRL_set_version(crl.get(), 1) != 1 ||  // v2
        X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca)) != 1) {
      return Status::Internal(tls::OpenSslErrorText("new revocation list"));
    }
    return crl;
  }
  MIGRATE_ASSIGN_OR_RETURN(tls::CrlPtr crl, tls::ReadCrlFile(CrlPath(ca_dir)));
  MIGRATE_RETURN_IF_ERROR(tls::CheckCrlIssuer(crl.get(), ca, CrlPath(ca_dir)));
  return crl;
}

bool Listed(X509_CRL* crl, const ASN1_INTEGER* serial) {
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i)),
                         serial) == 0) {
      return true;
    }
  }
  return false;
}

Status AddRevoked(X509_CRL* crl, const ASN1_INTEGER* serial, const ASN1_TIME* when) {
  if (Listed(crl, serial)) return Status::Ok();
  X509_REVOKED* entry = X509_REVOKED_new();
  if (entry == nullptr ||
      X509_REVOKED_set_serialNumber(entry, const_cast<ASN1_INTEGER*>(serial)) != 1 ||
      X509_REVOKED_set_revocationDate(entry, const_cast<ASN1_TIME*>(when)) != 1 ||
      X509_CRL_add0_revoked(crl, entry) != 1) {
    X509_REVOKED_free(entry);
    return Status::Internal(tls::OpenSslErrorText("add a revoked serial"));
  }
  return Status::Ok();
}

// Dates, CRL number + 1, authority key id, signature.
Status Seal(X509_CRL* crl, X509* ca, EVP_PKEY* key) {
  tls::Asn1TimePtr last(X509_gmtime_adj(nullptr, -3600));  // clock skew between nodes
  int critical = 0;
  tls::Asn1IntPtr number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, &critical, nullptr)));
  tls::BnPtr next_number(number ? ASN1_INTEGER_to_BN(number.get(), nullptr) : BN_new());
  if (!last || !next_number || BN_add_word(next_number.get(), 1) != 1) {
    return Status::Internal(tls::OpenSslErrorText("revocation list dates"));
  }
  tls::Asn1IntPtr new_number(BN_to_ASN1_INTEGER(next_number.get(), nullptr));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca, nullptr, nullptr, crl, 0);
  tls::ExtPtr akid(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  int akid_at = X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier, -1);
  if (akid_at >= 0) X509_EXTENSION_free(X509_CRL_delete_ext(crl, akid_at));
  if (X509_CRL_set1_lastUpdate(crl, last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl, X509_get0_notAfter(ca)) != 1 || !new_number ||
      X509_CRL_add1_ext_i2d(crl, NID_crl_number, new_number.get(), 0, X509V3_ADD_REPLACE) != 1 ||
      !akid || X509_CRL_add_ext(crl, akid.get(), -1) != 1 || X509_CRL_sort(crl) != 1 ||
      X509_CRL_sign(crl, key, EVP_sha256()) == 0) {
    return Status::Internal(tls::OpenSslErrorText("sign the revocation list"));
  }
  return Status::Ok();
}

Status Revoke(const std::string& ca_dir, const ASN1_INTEGER* serial) {
  MIGRATE_ASSIGN_OR_RETURN(tls::X509Ptr ca, tls::ReadCertFile(ca_dir + "/" + kCaCertFile));
  MIGRATE_ASSIGN_OR_RETURN(tls::PkeyPtr key, tls::ReadKeyFile(ca_dir + "/" + kCaKeyFile));
  if (X509_check_private_key(ca.get(), key.get()) != 1) {
    return Status::InvalidArgument(
        tls::OpenSslErrorText("CA key does not match CA certificate in " + ca_dir));
  }
  MIGRATE_ASSIGN_OR_RETURN(tls::CrlPtr crl, ExistingOrNew(ca_dir, ca.get()));
  tls::Asn1TimePtr now(X509_gmtime_adj(nullptr, 0));
  if (!now) return Status::Internal("time");
  MIGRATE_RETURN_IF_ERROR(AddRevoked(crl.get(), serial, now.get()));
  MIGRATE_RETURN_IF_ERROR(Seal(crl.get(), ca.get(), key.get()));
  return tls::WritePemFile(CrlPath(ca_dir), 0644, tls::Overwrite::kAtomically,
                      [&](BIO* b) { return PEM_write_bio_X509_CRL(b, crl.get()); });
}

}  // namespace

Status RevokeCertificate(const std::string& ca_dir, const std::string& cert_file) {
  MIGRATE_ASSIGN_OR_RETURN(tls::X509Ptr cert, tls::ReadCertFile(cert_file));
  MIGRATE_ASSIGN_OR_RETURN(tls::X509Ptr ca, tls::ReadCertFile(ca_dir + "/" + kCaCertFile));
  if (X509_verify(cert.get(), X509_get0_pubkey(ca.get())) != 1) {
    return Status::InvalidArgument(
        tls::OpenSslErrorText(cert_file + " was not issued by the CA in " + ca_dir));
  }
  return Revoke(ca_dir, X509_get0_serialNumber(cert.get()));
}

Status RevokeSerial(const std::string& ca_dir, const std::string& serial_hex) {
  MIGRATE_ASSIGN_OR_RETURN(tls::Asn1IntPtr serial, SerialFromHex(serial_hex));
  return Revoke(ca_dir, serial.get());
}

Result<std::vector<std::string>> RevokedSerials(const std::string& ca_dir) {
  std::vector<std::string> out;
  struct stat st;
  if (stat(CrlPath(ca_dir).c_str(), &st) != 0) return out;
  MIGRATE_ASSIGN_OR_RETURN(tls::CrlPtr crl, tls::ReadCrlFile(CrlPath(ca_dir)));
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    out.push_back(Hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i))));
  }
  return out;
}

}  // namespace migrate::certs
