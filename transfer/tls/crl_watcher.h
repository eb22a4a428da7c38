// The cluster CA's revocation list as one TLS context sees it: loaded from its file, checked
// to be signed by the CA, and reloaded whenever the file changes (a stat at every handshake,
// nothing to restart or signal). Every handshake of the context verifies the peer against the
// list then in force. A file that disappears or stops parsing leaves the last good list in
// force (an error is logged): a half-copied file never lifts a revocation. A context that
// never had a good list and finds a broken one refuses every peer until it is whole.
#pragma once

#include <openssl/x509.h>
#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>

#include "transfer/tls/pem_file.h"
#include "transfer/base/status.h"

namespace migrate::tls {

class CrlWatcher {
 public:
  // `path`: the list (it may not exist yet unless `required`: then nothing is revoked until it
  // does). `ca_file`: the CA that must have signed it.
  static Result<std::unique_ptr<CrlWatcher>> Create(std::string path, const std::string& ca_file,
                                                    bool required);

  // Verifies a peer's chain (an SSL_CTX cert_verify_callback): with the list in force, if
  // any, and X509_V_FLAG_CRL_CHECK.
  int Verify(X509_STORE_CTX* ctx);

  const std::string& path() const { return path_; }

 private:
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  // The revocation lists in force; OpenSSL borrows the stack during one verification.
  struct Lists;

  CrlWatcher(std::string path, X509Ptr ca) : path_(std::move(path)), ca_(std::move(ca)) {}
  FileId StatFile() const;  // size -1: no file
  // Reloads the list if its file changed since it was last looked at.
  std::shared_ptr<Lists> Current();
  Result<std::shared_ptr<Lists>> Load() const;
  bool Broken();

  const std::string path_;
  const X509Ptr ca_;
  std::mutex mu_;
  FileId seen_;
  std::shared_ptr<Lists> current_;
  bool broken_ = false;  // a list is there, and none was ever good
};

}  // namespace migrate::tls
