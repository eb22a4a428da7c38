// Certificates made with OpenSSL's library: files, modes, extensions, refusals.
#include "transfer/certs/certs.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/transfer/test_pki.h"
#include "transfer/certs/crl.h"

namespace migrate::certs {
namespace {

using testing::TempDir;

X509* ReadCert(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) return nullptr;
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  return cert;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  stat(path.c_str(), &st);
  return st.st_mode & 07777;
}

TEST(CertsTest, CaAndNodeCertificateHaveTheRightShape) {
  TempDir dir;
  ASSERT_TRUE(CreateCa(dir.Sub("ca"), {}).ok());
  EXPECT_EQ(ModeOf(dir.Sub("ca/ca-key.pem")), 0600u);
  IssueOptions opt;
  opt.name = "node-a";
  opt.role = tls::Role::kNode;
  opt.dns_names = {"node-a.example"};
  opt.ip_addresses = {"10.0.0.1"};
  auto files = IssueCertificate(dir.Sub("ca"), dir.Sub("node-a"), opt);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(ModeOf(files->key_file), 0600u);

  X509* ca = ReadCert(files->ca_file);
  X509* cert = ReadCert(files->cert_file);
  ASSERT_NE(ca, nullptr);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ca(ca), 1);
  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_EQ(X509_check_issued(ca, cert), X509_V_OK);
  EXPECT_EQ(X509_check_host(cert, "node-a", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert, "node-a.example", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "10.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
  // Lifetimes: CA ~10 years, leaf ~1 year.
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
  EXPECT_NEAR(days, 365, 2);
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca), X509_get0_notAfter(ca));
  EXPECT_NEAR(days, 3650, 2);
  EVP_PKEY* key = X509_get0_pubkey(cert);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  X509_free(ca);
  X509_free(cert);
}

TEST(CertsTest, ControllerCertificateIsClientOnly) {
  TempDir dir;
  ASSERT_TRUE(CreateCa(dir.Sub("ca"), {}).ok());
  IssueOptions opt;
  opt.name = "controller";
  opt.role = tls::Role::kController;
  auto files = IssueCertificate(dir.Sub("ca"), dir.Sub("ctl"), opt);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  X509* cert = ReadCert(files->cert_file);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_EQ(X509_check_purpose(cert, X509_PURPOSE_SSL_SERVER, 0), 0);
  X509_free(cert);
}

TEST(CertsTest, RefusesToOverwrite) {
  TempDir dir;
  ASSERT_TRUE(CreateCa(dir.Sub("ca"), {}).ok());
  EXPECT_EQ(CreateCa(dir.Sub("ca"), {}).code(), StatusCode::kAlreadyExists);
  IssueOptions opt;
  opt.name = "n1";
  opt.role = tls::Role::kNode;
  ASSERT_TRUE(IssueCertificate(dir.Sub("ca"), dir.Sub("n1"), opt).ok());
  EXPECT_EQ(IssueCertificate(dir.Sub("ca"), dir.Sub("n1"), opt).status().code(),
            StatusCode::kAlreadyExists);
}

TEST(CertsTest, RejectsBadInput) {
  TempDir dir;
  ASSERT_TRUE(CreateCa(dir.Sub("ca"), {}).ok());
  IssueOptions opt;
  opt.name = "bad name/../x";
  opt.role = tls::Role::kNode;
  EXPECT_EQ(IssueCertificate(dir.Sub("ca"), dir.Sub("x"), opt).status().code(),
            StatusCode::kInvalidArgument);
  opt.name = "ok";
  opt.role = tls::Role::kUnknown;
  EXPECT_EQ(IssueCertificate(dir.Sub("ca"), dir.Sub("x"), opt).status().code(),
            StatusCode::kInvalidArgument);
  opt.role = tls::Role::kNode;
  opt.ip_addresses = {"not-an-ip"};
  EXPECT_EQ(IssueCertificate(dir.Sub("ca"), dir.Sub("x"), opt).status().code(),
            StatusCode::kInvalidArgument);
  opt.ip_addresses = {};
  EXPECT_EQ(IssueCertificate(dir.Sub("missing-ca"), dir.Sub("x"), opt).status().code(),
            StatusCode::kNotFound);
}

std::string SerialOf(const std::string& cert_file) {
  X509* cert = ReadCert(cert_file);
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  X509_free(cert);
  return out;
}

TEST(CertsTest, RevokeWritesAListSignedByTheCa) {
  TempDir dir;
  ASSERT_TRUE(CreateCa(dir.Sub("ca"), {}).ok());
  EXPECT_TRUE(RevokedSerials(dir.Sub("ca"))->empty());
  IssueOptions opt;
  opt.role = tls::Role::kNode;
  opt.name = "node-a";
  ASSERT_TRUE(IssueCertificate(dir.Sub("ca"), dir.Sub("a"), opt).ok());
  opt.name = "node-b";
  ASSERT_TRUE(IssueCertificate(dir.Sub("ca"), dir.Sub("b"), opt).ok());
  ASSERT_TRUE(RevokeCertificate(dir.Sub("ca"), dir.Sub("a/cert.pem")).ok());
  ASSERT_TRUE(RevokeCertificate(dir.Sub("ca"), dir.Sub("a/cert.pem")).ok());  // idempotent
  EXPECT_EQ(*RevokedSerials(dir.Sub("ca")), std::vector<std::string>{SerialOf(dir.Sub("a/cert.pem"))});
  ASSERT_TRUE(RevokeSerial(dir.Sub("ca"), SerialOf(dir.Sub("b/cert.pem"))).ok());
  EXPECT_EQ(RevokedSerials(dir.Sub("ca"))->size(), 2u);
  EXPECT_EQ(ModeOf(dir.Sub("ca/crl.pem")), 0644u);
  // Signed by the CA, with a CRL number that grew with each change.
  FILE* f = fopen(dir.Sub("ca/crl.pem").c_str(), "r");
  X509_CRL* crl = PEM_read_X509_CRL(f, nullptr, nullptr, nullptr);
  fclose(f);
  ASSERT_NE(crl, nullptr);
  X509* ca = ReadCert(dir.Sub("ca/ca.pem"));
  EXPECT_EQ(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
  auto* number = static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl, NID_crl_number, nullptr, nullptr));
  EXPECT_EQ(ASN1_INTEGER_get(number), 3);
  EXPECT_LT(X509_cmp_current_time(X509_CRL_get0_lastUpdate(crl)), 0) << "valid already";
  EXPECT_GT(X509_cmp_current_time(X509_CRL_get0_nextUpdate(crl)), 0);
  ASN1_INTEGER_free(number);
  X509_CRL_free(crl);
  X509_free(ca);
  // Certificates issued from now on carry the list.
  opt.name = "node-c";
  ASSERT_TRUE(IssueCertificate(dir.Sub("ca"), dir.Sub("c"), opt).ok());
  EXPECT_TRUE(RevokedSerials(dir.Sub("c")).ok());
  EXPECT_EQ(RevokedSerials(dir.Sub("c"))->size(), 2u);
}

TEST(CertsTest, RevokeRefusesForeignCertificatesAndBadSerials) {
  TempDir dir;
  ASSERT_TRUE(CreateCa(dir.Sub("ca"), {}).ok());
  ASSERT_TRUE(CreateCa(dir.Sub("other"), {}).ok());
  IssueOptions opt;
  opt.role = tls::Role::kNode;
  opt.name = "node-x";
  ASSERT_TRUE(IssueCertificate(dir.Sub("other"), dir.Sub("x"), opt).ok());
  EXPECT_EQ(RevokeCertificate(dir.Sub("ca"), dir.Sub("x/cert.pem")).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RevokeSerial(dir.Sub("ca"), "not-hex").code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::ifstream(dir.Sub("ca/crl.pem")).good()) << "nothing written";
}

}  // namespace
}  // namespace migrate::certs
