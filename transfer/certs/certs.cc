// Cluster PKI with OpenSSL 3: see certs.h.
#include "transfer/certs/certs.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

#include "transfer/tls/pem_file.h"

namespace migrate::certs {
namespace {

std::string Join(const std::string& dir, const char* name) { return dir + "/" + name; }

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

Status MakeDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) == 0) return Status::Ok();
  if (errno == EEXIST) {
    struct stat st;
    if (stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::AlreadyExists(dir + " exists and is not a directory");
  }
  return Status::FromErrno("create directory " + dir, errno);
}

Result<tls::PkeyPtr> NewKey() {
  tls::PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal(tls::OpenSslErrorText("generate EC P-256 key"));
  return key;
}

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  tls::ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return Status::InvalidArgument(
        tls::OpenSslErrorText("certificate extension " + std::string(OBJ_nid2sn(nid)) + "=" + value));
  }
  return Status::Ok();
}

// A new certificate with a random serial, subject CN, validity, and the subject key.
Result<tls::X509Ptr> NewCert(const std::string& common_name, int days, EVP_PKEY* key) {
  tls::X509Ptr cert(X509_new());
  if (!cert) return Status::Internal("X509_new failed");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof(serial_bytes)) != 1) {
    return Status::Internal(tls::OpenSslErrorText("random serial"));
  }
  serial_bytes[0] &= 0x7f;  // positive
  tls::BnPtr bn(BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return Status::Internal(tls::OpenSslErrorText("set serial"));
  }
  // Backdate a little for clock skew between nodes.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return Status::InvalidArgument(tls::OpenSslErrorText("common name " + common_name));
  }
  if (X509_set_pubkey(cert.get(), key) != 1) return Status::Internal(tls::OpenSslErrorText("set key"));
  return cert;
}

// The CA's current revocation list, if it has one, goes with every certificate it issues.
Status CopyCrl(const std::string& ca_dir, const std::string& out_dir) {
  if (!Exists(Join(ca_dir, kCrlFile))) return Status::Ok();
  MIGRATE_ASSIGN_OR_RETURN(tls::CrlPtr crl, tls::ReadCrlFile(Join(ca_dir, kCrlFile)));
  return tls::WritePemFile(Join(out_dir, kCrlFile), 0644, tls::Overwrite::kNever,
                      [&](BIO* b) { return PEM_write_bio_X509_CRL(b, crl.get()); });
}

bool ValidDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Status CreateCa(const std::string& out_dir, const CaOptions& options) {
  ERR_clear_error();
  if (options.validity_days <= 0) return Status::InvalidArgument("CA validity must be > 0 days");
  MIGRATE_RETURN_IF_ERROR(MakeDir(out_dir));
  const std::string cert_path = Join(out_dir, kCaCertFile);
  const std::string key_path = Join(out_dir, kCaKeyFile);
  if (Exists(cert_path) || Exists(key_path)) {
    return Status::AlreadyExists(out_dir + " already holds a CA; not overwriting it");
  }
  MIGRATE_ASSIGN_OR_RETURN(tls::PkeyPtr key, NewKey());
  MIGRATE_ASSIGN_OR_RETURN(tls::X509Ptr cert,
                           NewCert(options.common_name, options.validity_days, key.get()));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  MIGRATE_RETURN_IF_ERROR(
      AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  MIGRATE_RETURN_IF_ERROR(
      AddExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  MIGRATE_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Status::Internal(tls::OpenSslErrorText("sign CA certificate"));
  }
  MIGRATE_RETURN_IF_ERROR(tls::WritePemFile(key_path, 0600, tls::Overwrite::kNever, [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }));
  Status st = tls::WritePemFile(cert_path, 0644, tls::Overwrite::kNever,
                           [&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  if (!st.ok()) unlink(key_path.c_str());
  return st;
}

Result<tls::TlsFiles> IssueCertificate(const std::string& ca_dir, const std::string& out_dir,
                                       const IssueOptions& options) {
  ERR_clear_error();
  if (options.role != tls::Role::kNode && options.role != tls::Role::kController) {
    return Status::InvalidArgument("certificate role must be node or controller");
  }
  if (!ValidDnsName(options.name)) {
    return Status::InvalidArgument("certificate name '" + options.name +
                                   "' is not a valid DNS name (letters, digits, '-', '.')");
  }
  for (const auto& dns : options.dns_names) {
    if (!ValidDnsName(dns)) return Status::InvalidArgument("invalid DNS name '" + dns + "'");
  }
  if (options.validity_days <= 0) return Status::InvalidArgument("validity must be > 0 days");
  std::string san = "DNS:" + options.name;
  for (const auto& dns : options.dns_names) san += ",DNS:" + dns;
  for (const auto& ip : options.ip_addresses) {
    ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(ip.c_str());
    if (parsed == nullptr) return Status::InvalidArgument("invalid IP address '" + ip + "'");
    ASN1_OCTET_STRING_free(parsed);
    san += ",IP:" + ip;
  }
  san += ",URI:" + std::string(options.role == tls::Role::kNode ? tls::kRoleUriNode
                                                                : tls::kRoleUriController);

  MIGRATE_ASSIGN_OR_RETURN(tls::X509Ptr ca_cert, tls::ReadCertFile(Join(ca_dir, kCaCertFile)));
  MIGRATE_ASSIGN_OR_RETURN(tls::PkeyPtr ca_key, tls::ReadKeyFile(Join(ca_dir, kCaKeyFile)));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    return Status::InvalidArgument(
        tls::OpenSslErrorText("CA key does not match CA certificate in " + ca_dir));
  }
  MIGRATE_RETURN_IF_ERROR(MakeDir(out_dir));
  tls::TlsFiles files{Join(out_dir, kCaCertFile), Join(out_dir, kCertFile),
                      Join(out_dir, kKeyFile)};
  if (Exists(files.cert_file) || Exists(files.key_file) || Exists(files.ca_file)) {
    return Status::AlreadyExists(out_dir + " already holds a certificate; not overwriting it");
  }

  MIGRATE_ASSIGN_OR_RETURN(tls::PkeyPtr key, NewKey());
  MIGRATE_ASSIGN_OR_RETURN(tls::X509Ptr cert, NewCert(options.name, options.validity_days, key.get()));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  MIGRATE_RETURN_IF_ERROR(
      AddExt(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  MIGRATE_RETURN_IF_ERROR(
      AddExt(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature"));
  MIGRATE_RETURN_IF_ERROR(
      AddExt(cert.get(), ca_cert.get(), NID_ext_key_usage,
             options.role == tls::Role::kNode ? "serverAuth,clientAuth" : "clientAuth"));
  MIGRATE_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_subject_alt_name, san));
  MIGRATE_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_subject_key_identifier, "hash"));
  MIGRATE_RETURN_IF_ERROR(
      AddExt(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return Status::Internal(tls::OpenSslErrorText("sign certificate"));
  }
  MIGRATE_RETURN_IF_ERROR(tls::WritePemFile(files.key_file, 0600, tls::Overwrite::kNever, [&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  }));
  Status st =
      tls::WritePemFile(files.cert_file, 0644, tls::Overwrite::kNever,
                   [&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); });
  if (st.ok()) {
    st = tls::WritePemFile(files.ca_file, 0644, tls::Overwrite::kNever,
                      [&](BIO* b) { return PEM_write_bio_X509(b, ca_cert.get()); });
  }
  if (st.ok()) st = CopyCrl(ca_dir, out_dir);
  if (!st.ok()) {
    unlink(files.key_file.c_str());
    unlink(files.cert_file.c_str());
    unlink(files.ca_file.c_str());
    return st;
  }
  return files;
}

}  // namespace migrate::certs
