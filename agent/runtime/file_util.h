// Small file helpers with Status errors.
#pragma once

#include <string>

#include "transfer/status.h"

namespace migrate::runtime {

// NotFound when it does not exist; IoError otherwise.
Result<std::string> ReadFile(const std::string& path);
// Writes to "<path>.tmp.<pid>", fsyncs, renames over path.
Status WriteFileAtomic(const std::string& path, const std::string& contents, int mode = 0644);
// fsync of a directory: makes the renames and creations in it durable.
Status SyncDirectory(const std::string& dir);
// mkdir -p.
Status MakeDirs(const std::string& path, int mode = 0755);

}  // namespace migrate::runtime
