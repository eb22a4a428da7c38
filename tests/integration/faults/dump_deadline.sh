#!/usr/bin/env bash
# A dump that cannot finish (CRIU held stopped while the container is frozen) ends at the
# agent's deadline for runtime calls (runtime_timeout_seconds): runc and CRIU are killed, the
# container is thawed at once, the controller rolls back and says why. The container counts
# on host-a from where it was, its memory intact; nothing of it is left on host-b.
source "$(dirname "$0")/../lib.sh"
ID=deadline-$$
CONFIG="$(dirname "$MIGRATE_HOSTS")/host-a/agent.json"
cp "$CONFIG" "$TEST_TMP/agent.json"
trap 'pkill -CONT -x criu 2>/dev/null || true; cp "$TEST_TMP/agent.json" "$CONFIG"; "$TH" restart-agent host-a >/dev/null 2>&1 || true; cleanup_containers; rm -rf "$TEST_TMP"' EXIT
jq '.runtime_timeout_seconds = 4' "$TEST_TMP/agent.json" >"$CONFIG"
"$TH" restart-agent host-a
SAMPLE_MEMORY_MIB=16 start_counter host-a "$ID"
before=$(count_of host-a "$ID")

start=$SECONDS
migrate_json_frozen "$ID" host-a host-b --cgroups-mode soft
pkill -STOP -x criu || fail "no CRIU to hold"
log "CRIU held stopped mid-dump: the dump cannot finish"
migrate_json_wait
took=$((SECONDS - start))
log "migrate ended after ${took}s: exit $RC, $(report .status)"
[ "$RC" -eq 3 ] || fail "exit $RC, expected 3 (rolled back)"
grep -q "timed out after 4[0-9]* ms" <<<"$(report .error)" ||
  fail "the report does not say the dump ran past its deadline: $(report .error)"
[ "$took" -le 30 ] || fail "the migration took ${took}s for a 4 s deadline"
# (a killed CRIU may linger as a zombie until the machine's init reaps it: that is gone)
live=$(ps -eo stat=,pid=,comm= | awk '$3 == "criu" && $1 !~ /^Z/')
[ -z "$live" ] || fail "CRIU still runs after the deadline: $live"
expect_counting host-a "$ID" "$before"
expect_memory_intact host-a "$ID"
expect_absent host-b "$ID"
expect_nothing_left "$ID"
log PASS
