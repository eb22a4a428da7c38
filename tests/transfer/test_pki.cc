#include "tests/transfer/test_pki.h"

#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "transfer/certs/crl.h"

namespace migrate::testing {
namespace {
int RemoveOne(const char* path, const struct stat*, int, struct FTW*) {
  return ::remove(path) == 0 ? 0 : -1;
}
}  // namespace

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string templ =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/migrate-test-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() { RemoveTree(path_); }

bool RemoveTree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return true;
  // Make every directory writable first (tests create read-only dirs).
  nftw(
      path.c_str(),
      [](const char* p, const struct stat* s, int type, struct FTW*) {
        if (type == FTW_D) chmod(p, (s->st_mode & 07777) | 0700);
        return 0;
      },
      64, FTW_PHYS);
  return nftw(path.c_str(), RemoveOne, 64, FTW_DEPTH | FTW_PHYS) == 0;
}

TestPki::TestPki(std::string dir, std::string ca_name) : dir_(std::move(dir)) {
  mkdir(dir_.c_str(), 0700);  // may exist
  ca_dir_ = dir_ + "/ca";
  certs::CaOptions options;
  options.common_name = std::move(ca_name);
  Status st = certs::CreateCa(ca_dir_, options);
  if (!st.ok()) throw std::runtime_error("CreateCa: " + st.ToString());
}

tls::TlsFiles TestPki::Issue(const std::string& name, tls::Role role,
                             std::vector<std::string> ips) {
  std::string out = dir_ + "/" + name;
  tls::TlsFiles files{out + "/" + certs::kCaCertFile, out + "/" + certs::kCertFile,
                      out + "/" + certs::kKeyFile};
  if (access(files.cert_file.c_str(), F_OK) == 0) return files;
  certs::IssueOptions options;
  options.name = name;
  options.role = role;
  options.ip_addresses = std::move(ips);
  auto issued = certs::IssueCertificate(ca_dir_, out, options);
  if (!issued.ok()) throw std::runtime_error("IssueCertificate: " + issued.status().ToString());
  issued_.push_back(out);
  return *issued;
}

Status TestPki::Revoke(const std::string& name) {
  MIGRATE_RETURN_IF_ERROR(
      certs::RevokeCertificate(ca_dir_, dir_ + "/" + name + "/" + certs::kCertFile));
  std::ifstream in(ca_dir_ + "/" + certs::kCrlFile, std::ios::binary);
  std::stringstream crl;
  crl << in.rdbuf();
  for (const std::string& out : issued_) {
    std::string tmp = out + "/crl.pem.tmp";
    std::ofstream(tmp, std::ios::binary) << crl.str();
    if (rename(tmp.c_str(), (out + "/" + certs::kCrlFile).c_str()) != 0) {
      return Status::FromErrno("hand out the CRL", errno);
    }
  }
  return Status::Ok();
}

}  // namespace migrate::testing
