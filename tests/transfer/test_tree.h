// Test helpers for trees: build sample trees, compare two trees, a stream server fixture.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/transfer/test_pki.h"
#include "transfer/stream/stream_sender.h"
#include "transfer/stream/stream_server.h"

namespace migrate::testing {

// Writes `size` bytes of deterministic pseudo-random (seeded) data.
void WriteRandomFile(const std::string& path, uint64_t size, uint32_t seed, mode_t mode = 0644);
void WriteTextFile(const std::string& path, const std::string& text, mode_t mode = 0644);
// A sparse file of apparent size `size` with `data` written at each of `offsets`.
void WriteSparseFile(const std::string& path, uint64_t size, const std::vector<uint64_t>& offsets,
                     const std::string& data);

// A tree with: nested directories (one read-only, one setgid+sticky), small text files, an
// empty file and empty directory, a setuid executable, files owned by other uids, a big
// sparse file, a multi-chunk random file, relative symlinks, a dangling symlink and a hard
// link. Small enough for many iterations when `small` is set.
void MakeSampleTree(const std::string& root, bool small);

// Compares two trees entry by entry (type, mode, uid, gid, size, content, symlink target,
// device number, mtime, hard link structure). Returns "" when equal, else the first difference.
std::string CompareTrees(const std::string& a, const std::string& b);

// Number of entries in a directory (0 if missing).
size_t CountEntries(const std::string& dir);
bool Exists(const std::string& path);

// A StreamServer on 127.0.0.1 with certificates for "node-b" (receiver) and "node-a" (sender)
// from a CA made at run time, plus staging/ and a parent for final directories.
class StreamFixture {
 public:
  StreamFixture() : StreamFixture(nullptr) {}
  // `adjust` may change the server's options before it starts.
  explicit StreamFixture(const std::function<void(transfer::StreamServerOptions&)>& adjust);
  ~StreamFixture();

  transfer::StreamServer& server() { return *server_; }
  void StopServer() { server_.reset(); }
  const std::string& staging() const { return staging_; }
  std::string FinalDir(const std::string& name) const { return dir_.Sub("final/" + name); }
  TempDir& dir() { return dir_; }
  TestPki& pki() { return *pki_; }

  // A fresh random token.
  static std::string NewToken();
  // An ExpectedStream into FinalDir(name) from node-a.
  transfer::ExpectedStream Expected(const std::string& name) const;
  // SendOptions to this server as node-a (override fields as needed).
  transfer::SendOptions Send(const std::string& token) const;

 private:
  TempDir dir_;
  std::unique_ptr<TestPki> pki_;
  std::string staging_;
  tls::ContextPtr client_ctx_;
  std::unique_ptr<transfer::StreamServer> server_;
};

}  // namespace migrate::testing
