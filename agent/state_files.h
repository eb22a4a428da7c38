// The agent's file-system side effects in its state directory, behind one small interface.
// The journal and every migration step create, write and remove files only through it, so
// that tests can inject a failure (disk full, fsync failing, ...) at any call.
#pragma once

#include <string>
#include <vector>

#include "transfer/base/status.h"

namespace migrate::agent {

class StateFiles {
 public:
  virtual ~StateFiles() = default;

  // Replaces `path` atomically and durably: a temporary file, fsync, rename, fsync of the
  // folder. A crash leaves the old contents or the new, never a torn file.
  virtual Status WriteAtomic(const std::string& path, const std::string& contents) = 0;
  // NotFound when `path` does not exist.
  virtual Result<std::string> Read(const std::string& path) = 0;
  // mkdir -p.
  virtual Status MakeDirs(const std::string& path) = 0;
  // Removes `path` and everything under it; OK when it does not exist.
  virtual Status RemoveTree(const std::string& path) = 0;
  // The names in `dir` (without . and ..); empty when `dir` does not exist.
  virtual Result<std::vector<std::string>> List(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
};

// The real file system (stateless; one instance serves every caller).
StateFiles& PosixStateFiles();

}  // namespace migrate::agent
