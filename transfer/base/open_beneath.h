// Opening a path inside a tree that is not trusted (a received bundle or staging tree): the
// kernel resolves it below `dirfd` and refuses any symlink on the way, magic links and mount
// crossings (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
// RESOLVE_NO_XDEV; Debian 12's glibc has no wrapper, so the raw system call).
#pragma once

#include <cstdint>
#include <string>

namespace migrate::transfer {

// An fd (O_CLOEXEC added), or -1 with errno: ELOOP for a symlink on the way (the last
// component included), EXDEV for a path that leaves the tree or crosses a mount.
int OpenBeneath(int dirfd, const std::string& path, uint64_t flags, uint64_t mode = 0);

}  // namespace migrate::transfer
