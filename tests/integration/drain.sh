#!/usr/bin/env bash
# migrate drain between the test hosts, for real:
#   1. --dry-run plans both containers of host-a onto host-b and freezes nothing;
#   2. the drain moves both (two at a time), each counting on on host-b, host-a empty;
#   3. back to host-a one at a time, interrupted (SIGINT) while the first move runs: that move
#      finishes, the second is not started and still runs, untouched, on host-b.
source "$(dirname "$0")/lib.sh"
ID1=drain-1-$$
ID2=drain-2-$$
DRAIN_PID=
trap '[ -n "$DRAIN_PID" ] && kill -KILL "$DRAIN_PID" 2>/dev/null; cleanup_containers; rm -rf "$TEST_TMP"' EXIT

# drain ARGS...: runs `migrate drain ARGS --output json`; sets RC and REPORT, one JSON document.
drain() {
  migrate_command_json drain "$@"
  cat "$TEST_TMP/migrate.err" >&2
  jq -e . <<<"$REPORT" >/dev/null || fail "not JSON: $REPORT"
}
move_status() { jq -r --arg c "$1" '.moves[] | select(.container == $c) | .status' <<<"$REPORT"; }

start_counter host-a "$ID1"
start_counter host-a "$ID2"

drain host-a --to host-b --only "$ID1,$ID2" --dry-run
[ "$RC" -eq 0 ] || fail "dry run: exit $RC"
for id in "$ID1" "$ID2"; do
  [ "$(move_status "$id")" = preflight_ok ] || fail "dry run: $id is $(move_status "$id")"
  [ "$(container_status host-a "$id")" = running ] || fail "dry run touched $id"
done
expect_absent host-b "$ID1"

before1=$(count_of host-a "$ID1")
before2=$(count_of host-a "$ID2")
drain host-a --to host-b --only "$ID1,$ID2" --parallel 2 --cgroups-mode soft
[ "$RC" -eq 0 ] || fail "drain: exit $RC"
for id in "$ID1" "$ID2"; do
  [ "$(move_status "$id")" = migrated ] || fail "$id is $(move_status "$id")"
  expect_absent host-a "$id"
done
expect_counting host-b "$ID1" "$before1"
expect_counting host-b "$ID2" "$before2"

# Back, one at a time, with a Ctrl-C while the first move runs.
"$MIGRATE_BIN" drain host-b --to host-a --only "$ID1,$ID2" --output json \
  >"$TEST_TMP/back.json" 2>"$TEST_TMP/back.err" &
DRAIN_PID=$!
for _ in $(seq 600); do grep -q ": moving" "$TEST_TMP/back.err" && break; sleep 0.01; done
grep -q ": moving" "$TEST_TMP/back.err" || fail "the drain back never started a move"
kill -INT "$DRAIN_PID"
set +e; wait "$DRAIN_PID"; RC=$?; set -e
DRAIN_PID=
REPORT=$(cat "$TEST_TMP/back.json")
cat "$TEST_TMP/back.err" >&2
log "interrupted drain back -> exit $RC: $(jq -c '[.moves[] | {container, status}]' <<<"$REPORT")"
[ "$(jq -r .interrupted <<<"$REPORT")" = true ] || fail "the report does not say it was interrupted"
first=$(jq -r '.moves[] | select(.status == "migrated") | .container' <<<"$REPORT")
second=$(jq -r '.moves[] | select(.status == "not_started") | .container' <<<"$REPORT")
[ -n "$first" ] && [ -n "$second" ] || fail "expected one migrated and one not started"
[ "$RC" -eq 1 ] || fail "exit $RC, expected 1 (a move not started)"
expect_absent host-b "$first"
[ "$(container_status host-a "$first")" = running ] || fail "$first does not run on host-a"
[ "$(container_status host-b "$second")" = running ] || fail "$second does not run on host-b"
expect_absent host-a "$second"
log PASS
