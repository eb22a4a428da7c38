// Named pause points in the agent's steps, for the fault tests (tests/integration/faults):
// they let a test stop the agent exactly at a step boundary (e.g. "the dump has ended but is
// not journaled yet") and kill it there. Off unless the agent starts with
//   MIGRATE_FAILPOINTS=name[,name...]  and optionally  MIGRATE_FAILPOINT_DIR=<dir>
// (default <state_dir>/failpoints). A reached point writes <dir>/<name> (holding the
// migration id) and waits until that file is removed, the migration is cancelled (rollback or
// shutdown), or the process dies. Unset, Hit() costs one empty-set lookup.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "transfer/stream/stream_types.h"

namespace migrate::agent {

class Failpoints {
 public:
  Failpoints() = default;  // none armed
  Failpoints(std::set<std::string> armed, std::string dir);
  // From MIGRATE_FAILPOINTS and MIGRATE_FAILPOINT_DIR.
  static Failpoints FromEnvironment(const std::string& state_dir);

  bool any() const { return !armed_.empty(); }
  // Pauses at `name` when armed (see above); returns at once otherwise.
  void Hit(std::string_view name, const std::string& migration_id,
           const transfer::CancelFlag* cancel) const;

 private:
  std::set<std::string, std::less<>> armed_;
  std::string dir_;
};

}  // namespace migrate::agent
