#!/usr/bin/env bash
# A migration left prepared on the destination (its controller died after prepare-receive),
# a retry of the same container, then a late rollback of the stale one (as an API call, the
# way `migrate rollback`, a controller or an agent's recovery would send it). The retried
# container must run on, from a root file system the stale rollback cannot reach.
source "$(dirname "$0")/../lib.sh"
ID=stale-$$
start_counter host-a "$ID"
api host-b /v1/prepare-receive PrepareReceiveRequest \
  "migration_id: \"stale$$\" container_id: \"$ID\" source_node: \"host-a\"" PrepareReceiveResponse
[ "$API_STATUS" = 200 ] || fail "prepare-receive of the stale migration failed"

migrate_json "$ID" host-a host-b --cgroups-mode soft
if [ "$RC" -ne 0 ]; then
  # Refused while the stale migration holds the container: end it, then retry.
  [ "$RC" -eq 1 ] || fail "exit $RC, expected 1 (refused before the freeze) or 0"
  grep -q "held by unfinished migration stale$$" <<<"$REPORT" ||
    fail "the refusal does not name the migration that holds $ID"
  expect_counting host-a "$ID" 1
  "$MIGRATE_BIN" rollback "stale$$" host-a host-b >&2 || fail "migrate rollback of the stale migration failed"
  migrate_json "$ID" host-a host-b --cgroups-mode soft
  [ "$RC" -eq 0 ] || fail "the retry after ending the stale migration failed: exit $RC"
fi
before=$(count_of host-b "$ID")

# The late rollback of the stale migration.
api host-b /v1/rollback RollbackRequest "migration_id: \"stale$$\"" MigrationStatus
pid=$(container_pid host-b "$ID")
root=$(readlink "/proc/$pid/root")
case "$root" in *deleted*) fail "the stale rollback deleted the running container's root ($root)" ;; esac
[ -f "$(container_bundle host-b "$ID")/config.json" ] || fail "the running container's bundle is gone"
expect_counting host-b "$ID" "$before"
expect_absent host-a "$ID"
log PASS
