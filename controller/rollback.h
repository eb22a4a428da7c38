// Ending a migration after a failure, shared by the migration's own rollback phase and by
// `migrate rollback`: the destination first; the source runs the container again only once
// the destination confirmed that nothing of the migration is left there, or was never asked
// to restore. An agent that has no record of the migration is never taken for one that
// rolled back, and every call names the other host, so that an agent whose journal names
// another peer refuses.
#pragma once

#include <string>

#include "controller/agent_client.h"
#include "controller/clock.h"

namespace migrate::controller {

// What RollBackSource answers when the source has no record of the migration: it never froze
// the container for it (e.g. refused before the freeze), so there is nothing to undo.
inline constexpr char kSourceNeverFroze[] =
    "nothing to roll back: the source never froze the container for this migration";

// "ok" when the destination confirmed; when it has no record of the migration, "ok" only if
// it was never asked to restore (`restore_requested` false), since a destination that lost
// its state may run the container; else why not.
std::string RollBackDestination(AgentClient& destination, const std::string& migration_id,
                                const std::string& source_name, const std::string& reason,
                                bool restore_requested, Clock& clock);

// Asks the source to run the container again, then checks that `container_id` runs there:
// "ok", kSourceNeverFroze, else why not.
std::string RollBackSource(AgentClient& source, const std::string& migration_id,
                           const std::string& destination_name, const std::string& reason,
                           const std::string& container_id, Clock& clock);

// True when the destination reports the migration COMMITTING or COMMITTED: it owns the
// container, and the source must be committed, never rolled back.
bool DestinationCommitted(AgentClient& destination, const std::string& migration_id);

}  // namespace migrate::controller
