#!/usr/bin/env bash
# Two `migrate container C host-a host-b` started together. At most one may move it; the
# other is refused before it freezes anything, and its ending must not touch what the first
# one moved. At the end the container runs on host-b alone, counting, with nothing left.
source "$(dirname "$0")/../lib.sh"
ID=concurrent-$$
SAMPLE_MEMORY_MIB=64 start_counter host-a "$ID"
before=$(count_of host-a "$ID")
start_watcher "$ID"
pids=()
for n in 1 2; do
  ( rc=0
    "$MIGRATE_BIN" container "$ID" host-a host-b --cgroups-mode soft --output json \
      >"$TEST_TMP/report$n" 2>"$TEST_TMP/err$n" || rc=$?
    echo "$rc" >"$TEST_TMP/rc$n" ) &
  pids+=($!)
done
wait "${pids[@]}"
stop_watcher
rc1=$(cat "$TEST_TMP/rc1") rc2=$(cat "$TEST_TMP/rc2")
log "exits: $rc1 $rc2; $(jq -c '{status, error}' "$TEST_TMP/report1") $(jq -c '{status, error}' "$TEST_TMP/report2")"
winners=0
for n in 1 2; do
  rc=$(cat "$TEST_TMP/rc$n")
  case "$rc" in
    0) winners=$((winners + 1)) ;;
    1) grep -q "held by unfinished migration\|container-free" "$TEST_TMP/report$n" ||
         fail "migration $n was refused without naming the migration holding $ID" ;;
    *) fail "migration $n exited $rc: $(cat "$TEST_TMP/report$n" "$TEST_TMP/err$n")" ;;
  esac
done
[ "$winners" -eq 1 ] || fail "$winners migrations succeeded, expected exactly 1"
expect_counting host-b "$ID" "$before"
expect_memory_intact host-b "$ID"
expect_nothing_left "$ID"
log PASS
