#include "agent/failpoints.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "agent/runtime/file_util.h"
#include "transfer/base/log.h"

namespace migrate::agent {

Failpoints::Failpoints(std::set<std::string> armed, std::string dir)
    : armed_(armed.begin(), armed.end()), dir_(std::move(dir)) {}

Failpoints Failpoints::FromEnvironment(const std::string& state_dir) {
  const char* names = std::getenv("MIGRATE_FAILPOINTS");
  if (names == nullptr || *names == '\0') return Failpoints();
  std::set<std::string> armed;
  std::istringstream in(names);
  std::string name;
  while (std::getline(in, name, ',')) {
    if (!name.empty()) armed.insert(name);
  }
  const char* dir = std::getenv("MIGRATE_FAILPOINT_DIR");
  Failpoints points(std::move(armed), dir != nullptr && *dir != '\0' ? dir : state_dir + "/failpoints");
  MIGRATE_LOG(kWarn, "") << "failpoints armed (test use only): " << names << " in "
                         << points.dir_;
  return points;
}

void Failpoints::Hit(std::string_view name, const std::string& migration_id,
                     const transfer::CancelFlag* cancel) const {
  if (armed_.empty() || armed_.find(name) == armed_.end()) return;
  const std::string marker = dir_ + "/" + std::string(name);
  if (!runtime::MakeDirs(dir_).ok() || !runtime::WriteFileAtomic(marker, migration_id).ok()) {
    MIGRATE_LOG(kError, migration_id) << "failpoint " << name << ": cannot write " << marker;
    return;
  }
  MIGRATE_LOG(kWarn, migration_id) << "failpoint " << name << " reached: waiting until "
                                   << marker << " is removed";
  struct stat st;
  while (::stat(marker.c_str(), &st) == 0 && (cancel == nullptr || !cancel->cancelled())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  MIGRATE_LOG(kWarn, migration_id) << "failpoint " << name << " released";
}

}  // namespace migrate::agent
