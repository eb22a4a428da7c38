// What the agent removes on its own, so that nothing accumulates in its state directory:
//   - at start: the staging folder (streams a kill cut off: no stream runs yet) and migration
//     folders that were never journaled (a kill between creating one and journaling);
//   - ended migrations (committed or rolled back) whose last change is older than the
//     retention time: their folder, journal and images included. A migration committed with
//     --keep-images keeps its folder: the images are the operator's.
// Quarantined records (unreadable) are never touched.
#pragma once

#include "agent/agent_context.h"

namespace migrate::agent {

class Housekeeping {
 public:
  explicit Housekeeping(AgentContext& ctx) : ctx_(ctx) {}

  void AtStart();
  // Removes ended migrations past the retention time; returns how many.
  int Sweep();

 private:
  AgentContext& ctx_;
};

}  // namespace migrate::agent
