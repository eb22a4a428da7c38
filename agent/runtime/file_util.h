// Small file helpers with Status errors.
#pragma once

#include <string>

#include "transfer/base/status.h"

namespace migrate::runtime {

// NotFound when it does not exist; IoError otherwise.
Result<std::string> ReadFile(const std::string& path);
// Like ReadFile, for a file in a tree that is not trusted (a received bundle): the last
// component is never followed (kInvalidArgument for a symlink) and must be a regular file.
Result<std::string> ReadFileNoFollow(const std::string& path);
// Writes to "<path>.tmp.<pid>", fsyncs, renames over path. The temporary file is created
// anew (O_EXCL | O_NOFOLLOW; anything already at its name, a planted symlink included, is
// unlinked first), and the rename replaces a symlink at `path` rather than following it:
// nothing is ever written through a link.
Status WriteFileAtomic(const std::string& path, const std::string& contents, int mode = 0644);
// fsync of a directory: makes the renames and creations in it durable.
Status SyncDirectory(const std::string& dir);
// mkdir -p.
Status MakeDirs(const std::string& path, int mode = 0755);

}  // namespace migrate::runtime
