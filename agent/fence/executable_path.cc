#include "agent/fence/executable_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace migrate::fence {

bool IsExecutable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string FindExecutable(std::string_view name) {
  if (name.empty()) return "";
  if (name.find('/') != std::string_view::npos) {
    std::string path(name);
    return IsExecutable(path) ? path : "";
  }
  const char* env = std::getenv("PATH");
  std::string_view dirs =
      env != nullptr ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    std::string path = std::string(dir.empty() ? "." : dir) + "/" + std::string(name);
    if (IsExecutable(path)) return path;
    if (colon == std::string_view::npos) return "";
    dirs.remove_prefix(colon + 1);
  }
}

}  // namespace migrate::fence
