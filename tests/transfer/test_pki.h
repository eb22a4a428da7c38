// Test helpers: a temporary directory and a cluster CA with certificates made at run time.
#pragma once

#include <string>
#include <vector>

#include "transfer/certs/certs.h"
#include "transfer/tls/tls.h"

namespace migrate::testing {

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Removes a tree (no symlink is followed). Returns false on error.
bool RemoveTree(const std::string& path);

// A CA in `dir`/ca plus certificates issued on demand into `dir`/<name>.
class TestPki {
 public:
  explicit TestPki(std::string dir, std::string ca_name = "test CA");
  // Issues (once) and returns the files of a certificate for `name`.
  tls::TlsFiles Issue(const std::string& name, tls::Role role = tls::Role::kNode,
                      std::vector<std::string> ips = {"127.0.0.1"});
  // Revokes `name`'s certificate and hands the CA's new crl.pem to every certificate issued
  // so far (beside its ca.pem), as an operator would.
  Status Revoke(const std::string& name);
  const std::string& ca_dir() const { return ca_dir_; }

 private:
  std::string dir_;
  std::string ca_dir_;
  std::vector<std::string> issued_;
};

}  // namespace migrate::testing
