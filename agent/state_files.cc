#include "agent/state_files.h"

#include <sys/stat.h>

#include <filesystem>

#include "agent/runtime/file_util.h"
#include "agent/runtime/host_stats.h"

namespace migrate::agent {
namespace {

namespace fs = std::filesystem;

std::string Parent(const std::string& path) {
  return fs::path(path).parent_path().string();
}

class Posix final : public StateFiles {
 public:
  Status WriteAtomic(const std::string& path, const std::string& contents) override {
    MIGRATE_RETURN_IF_ERROR(runtime::WriteFileAtomic(path, contents, 0600));
    return runtime::SyncDirectory(Parent(path));
  }
  Result<std::string> Read(const std::string& path) override { return runtime::ReadFile(path); }
  Status MakeDirs(const std::string& path) override { return runtime::MakeDirs(path, 0700); }
  Status RemoveTree(const std::string& path) override { return runtime::RemoveTree(path); }
  Result<std::vector<std::string>> List(const std::string& dir) override {
    std::vector<std::string> names;
    std::error_code ec;
    if (!fs::exists(dir, ec)) return names;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      names.push_back(entry.path().filename().string());
    }
    if (ec) return Status::IoError("list " + dir + ": " + ec.message());
    return names;
  }
  bool Exists(const std::string& path) override {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
  }
};

}  // namespace

StateFiles& PosixStateFiles() {
  static Posix files;
  return files;
}

}  // namespace migrate::agent
