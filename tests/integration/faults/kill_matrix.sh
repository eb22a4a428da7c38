#!/usr/bin/env bash
# The kill matrix: kill_matrix.sh SIDE POINT, with SIDE source|destination (whose agent is
# stopped) and POINT one of the migration's phase boundaries:
#   dump-running     CRIU is dumping (held there across the agent's restart)
#   streaming        the dump has ended, the images are still streaming
#   dump-ended       both streams verified, CHECKPOINTED not journaled yet
#   restore-running  runc restore and CRIU run on the destination (held across the restart)
#   restored         RESTORED journaled on the destination, not yet answered
#   commit-half      the commit half done on SIDE
# For each of {SIGKILL, SIGTERM} x {restart at once, after 2 s}, the agent is stopped exactly
# there (failpoints, docs/agent.md), restarted, the controller does what it does, and then an
# operator what the report says (`migrate rollback` after exit 4 or a source left to clean).
# A watcher samples both hosts every 100 ms: never two copies; at the end exactly one runs,
# counting on from before, its memory intact, with nothing of the migration left.
source "$(dirname "$0")/../lib.sh"
SIDE=${1:?side} POINT=${2:?point}
case "$SIDE" in source) VICTIM=host-a ;; destination) VICTIM=host-b ;; *) fail "side $SIDE" ;; esac
case "$POINT" in
  dump-running) FP_HOST=host-a FP=source.frozen ;;
  streaming) FP_HOST=host-a FP=source.dump_returned ;;
  dump-ended) FP_HOST=host-a FP=source.sent ;;
  restore-running) FP_HOST=host-b FP=destination.before_restore ;;
  restored) FP_HOST=host-b FP=destination.restored ;;
  commit-half) FP_HOST=$VICTIM FP=$SIDE.commit_half ;;
  *) fail "point $POINT" ;;
esac
# Memory enough for the dump and the restore to last a moment: they are held while running.
case "$POINT" in dump-running | restore-running) MIB=64 ;; *) MIB=16 ;; esac
trap 'stop_watcher >/dev/null 2>&1 || true; held_continue; restart_plain; cleanup_containers; rm -rf "$TEST_TMP"' EXIT

restart_plain() { local h; for h in host-a host-b; do MIGRATE_FAILPOINTS= "$TH" restart-agent "$h" >/dev/null 2>&1 || true; done; }

run_case() {  # signal restart_delay
  local sig=$1 delay=$2 id marker mid before i
  id=km-${SIDE:0:3}-$POINT-$sig-$delay-$$
  log "=== $SIDE agent, $POINT, SIG$sig, restart after ${delay}s ==="
  SAMPLE_MEMORY_MIB=$MIB start_counter host-a "$id"
  before=$(count_of host-a "$id")
  if [ "$ARMED" = 0 ]; then MIGRATE_FAILPOINTS=$FP "$TH" restart-agent "$FP_HOST"; ARMED=1; fi
  marker="$(state_dir "$FP_HOST")/failpoints/$FP"
  rm -f "$marker"
  start_watcher "$id"
  ( migrate_json "$id" host-a host-b --cgroups-mode soft; echo "$RC" >"$TEST_TMP/rc"; echo "$REPORT" >"$TEST_TMP/report" ) &
  local controller=$! dump_pid=
  # The dump's runc, found as it starts: held the moment the pause point is reached.
  [ "$SIDE/$POINT" != source/dump-running ] || dump_pid=$(find_pid "checkpoint .*$id\$")
  for i in $(seq 6000); do [ -f "$marker" ] && break; sleep 0.01; done
  [ -f "$marker" ] || fail "failpoint $FP never reached on $FP_HOST"
  mid=$(cat "$marker")

  # Keep the dump or the restore running across the agent's stop and restart.
  case "$SIDE/$POINT" in
    source/dump-running) hold_pid "$dump_pid" "runc checkpoint of $id" ;;
    destination/restore-running) rm -f "$marker"; hold "restore --detach .*$id\$" ;;
  esac
  if [ "$sig" = TERM ] && [ ${#HELD[@]} -gt 0 ]; then
    # A graceful stop waits for the runc call it runs: let the held process go on meanwhile.
    "$TH" stop-agent "$VICTIM" TERM & local stopper=$!
    sleep 0.5; held_continue; wait "$stopper"
  else
    "$TH" stop-agent "$VICTIM" "$sig"
  fi
  rm -f "$marker"  # releases the other host's pause point (the victim's died with it)
  sleep "$delay"
  # Restarted without pause points: its recovery may pass the same point again.
  MIGRATE_FAILPOINTS= "$TH" start-agent "$VICTIM" & local starter=$!
  [ "$VICTIM" != "$FP_HOST" ] || ARMED=0
  if [ ${#HELD[@]} -gt 0 ]; then sleep 1; held_continue; fi
  wait "$starter" || fail "the $VICTIM agent did not come back"
  wait "$controller" || true
  RC=$(cat "$TEST_TMP/rc"); REPORT=$(cat "$TEST_TMP/report")

  # The operator: after exit 4, or a source left to clean, `migrate rollback` ends it.
  if [ "$RC" -eq 4 ] || grep -q "could not clean up" <<<"$REPORT"; then
    for i in $(seq 20); do
      "$MIGRATE_BIN" rollback "$mid" host-a host-b >&2 2>"$TEST_TMP/op.err" && break
      log "migrate rollback: $(cat "$TEST_TMP/op.err")"
      sleep 1
    done
  fi
  stop_watcher
  local runs status
  runs=$(running_host "$id")
  status=$(report .status)
  case "$status/$runs" in
    migrated/host-b | rolled_back/host-a | failed/*) ;;
    *) fail "report says $status but $id runs on $runs" ;;
  esac
  expect_counting "$runs" "$id" "$before"
  expect_memory_intact "$runs" "$id"
  expect_nothing_left "$id"
  log "=== case passed: exit $RC, $status, runs on $runs ==="
}

# The host of the pause point runs with it armed (re-armed after it was the one restarted);
# the trap restarts both agents without it.
ARMED=0
for sig in KILL TERM; do
  for delay in 0 2; do run_case "$sig" "$delay"; done
done
log PASS
