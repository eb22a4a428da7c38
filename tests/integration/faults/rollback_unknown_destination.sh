#!/usr/bin/env bash
# The controller dies (exit 4 path) with the container restored on host-b; host-b's agent then
# loses its state directory. `migrate rollback` must not take "I know nothing of it" for a
# rollback: the container still runs on host-b, so the source must not be restored. It also
# refuses a pair of hosts the source did not journal.
source "$(dirname "$0")/../lib.sh"
ID=forgetful-$$
trap 'MIGRATE_FAILPOINTS= "$TH" restart-agent host-b >/dev/null 2>&1 || true; cleanup_containers; rm -rf "$TEST_TMP"' EXIT
start_counter host-a "$ID"
MIGRATE_FAILPOINTS=destination.restored "$TH" restart-agent host-b
migrate_json_frozen "$ID" host-a host-b --cgroups-mode soft
marker="$(state_dir host-b)/failpoints/destination.restored"
for i in $(seq 600); do [ -f "$marker" ] && break; sleep 0.05; done
[ -f "$marker" ] || fail "host-b never restored"
MID=$(cat "$marker")
"$TH" kill-agent host-b
migrate_json_wait
[ "$RC" -eq 4 ] || fail "exit $RC, expected 4 (host-b may run the container)"
[ "$(container_status host-b "$ID")" = running ] || fail "$ID does not run on host-b"

# host-b loses its state directory (its record of the migration), then comes back.
mv "$(state_dir host-b)/migrations/$MID" "$TEST_TMP/lost-record"
rm -f "$marker"
MIGRATE_FAILPOINTS= "$TH" restart-agent host-b

set +e
"$MIGRATE_BIN" rollback "$MID" host-b host-a 2>"$TEST_TMP/swapped.err"; swapped=$?
"$MIGRATE_BIN" rollback "$MID" host-a host-b 2>"$TEST_TMP/rollback.err"; rc=$?
set -e
log "swapped hosts: exit $swapped: $(cat "$TEST_TMP/swapped.err")"
log "rollback: exit $rc: $(cat "$TEST_TMP/rollback.err")"
[ "$swapped" -eq 2 ] || fail "a rollback naming the hosts the wrong way round exited $swapped, expected 2"
[ "$rc" -eq 4 ] || fail "rollback exited $rc, expected 4 (the destination confirmed nothing)"
expect_absent host-a "$ID"
expect_counting host-b "$ID" 1
log PASS
