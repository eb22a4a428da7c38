#include "tests/agent/daemon/test_pki.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "transfer/certs.h"

namespace migrate::testing {

TestPki::TestPki(std::string dir) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
  Status created = certs::CreateCa(dir_ + "/ca", certs::CaOptions());
  if (!created.ok()) ADD_FAILURE() << created.ToString();
}

tls::TlsFiles TestPki::Issue(const std::string& name, tls::Role role) {
  certs::IssueOptions options;
  options.name = name;
  options.role = role;
  auto files = certs::IssueCertificate(dir_ + "/ca", dir_ + "/" + name, options);
  if (!files.ok()) {
    ADD_FAILURE() << files.status().ToString();
    return {};
  }
  return *files;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "migrate-test-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace migrate::testing
