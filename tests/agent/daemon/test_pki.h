// A throw-away cluster PKI per test: a CA and certificates made at run time (no key is ever
// committed).
#pragma once

#include <string>

#include "transfer/tls.h"

namespace migrate::testing {

class TestPki {
 public:
  // Creates a CA under `dir` (which must exist).
  explicit TestPki(std::string dir);
  // Issues a certificate named `name` with `role` into dir/<name>.
  tls::TlsFiles Issue(const std::string& name, tls::Role role);

 private:
  std::string dir_;
};

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace migrate::testing
