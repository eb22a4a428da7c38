#!/usr/bin/env bash
# The post-copy fault matrix: postcopy_cut.sh KIND POINT cuts a post-copy transfer of a
# 32 MiB container (pages slowed to ~24 Mbit/s so that the window lasts seconds) at POINT:
#   early  the copy runs on the destination, few pages arrived
#   mid    about half of the memory arrived
#   late   about 85 % arrived
# with KIND one of
#   source-agent       the source agent SIGKILLed (restarted after 1 s)
#   destination-agent  the destination agent SIGKILLed (restarted after 1 s)
#   page-server        CRIU's dump (the source's page server) SIGKILLed
#   lazy-daemon        CRIU's lazy-pages daemon on the destination SIGKILLed
#   link               the data link between the hosts down (for 8 s)
#   corrupt            a page frame corrupted on its way (the source agent's test hook)
#   timeout            CRIU's page server stopped (SIGSTOP): the pages stop coming
# Every case must end with exactly one copy running: on the source, from the freeze, its
# memory intact, counting on; a watcher sampling both hosts every 100 ms never sees two, and
# no fence, CRIU or migration state is left.
source "$(dirname "$0")/../lib.sh"
KIND=${1:?kind} POINT=${2:?point}
MIB=32
case "$POINT" in early) FRACTION=0 ;; mid) FRACTION=50 ;; late) FRACTION=85 ;; *) fail "point $POINT" ;; esac
ID=pc-$KIND-$POINT-$$
STOPPED=()
cleanup_case() {
  stop_watcher >/dev/null 2>&1 || true
  ip netns exec "$NS_A" ip link set mig-data-a up 2>/dev/null || true
  fast_data_link
  local p; for p in "${STOPPED[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
  [ "$KIND" != corrupt ] || MIGRATE_TAMPER_PAGE_BYTES= "$TH" restart-agent host-a >/dev/null 2>&1 || true
  cleanup_containers
  rm -rf "$TEST_TMP"
}
trap cleanup_case EXIT

# Bytes of pages CRIU's lazy-pages daemon on host-b has copied into the restored tasks so far
# (the newest log: ended migrations keep theirs).
copied_bytes() {
  local log
  log=$(ls -t "$(state_dir host-b)"/migrations/*/restore-work/lazy-pages.log 2>/dev/null | head -n 1)
  [ -n "$log" ] || { echo 0; return; }
  grep -a -o 'uffd_copy: 0x[0-9a-f]*/[0-9]*' "$log" | awk -F/ '{s += $2} END {print s + 0}'
}
criu_dump_pid() { pgrep -f "criu: dump .*$(state_dir host-a)/migrations" | head -n 1; }

wait_for_point() {
  local want=$((MIB * 1048576 * FRACTION / 100)) i
  for i in $(seq 600); do
    if [ "$(container_status host-b "$ID")" = running ] && [ "$(copied_bytes)" -ge "$want" ]; then
      log "cut point $POINT: $(copied_bytes) bytes of pages copied"
      return 0
    fi
    sleep 0.05
  done
  fail "point $POINT never reached ($(copied_bytes) bytes copied)"
}

inject() {
  case "$KIND" in
    source-agent) "$TH" stop-agent host-a KILL; sleep 1; "$TH" start-agent host-a ;;
    destination-agent) "$TH" stop-agent host-b KILL; sleep 1; "$TH" start-agent host-b ;;
    page-server) kill -KILL "$(criu_dump_pid)" ;;
    lazy-daemon) pkill -KILL -f "criu lazy-pages .*$(state_dir host-b)/migrations" ;;
    link) ip netns exec "$NS_A" ip link set mig-data-a down; sleep 8
          ip netns exec "$NS_A" ip link set mig-data-a up ;;
    corrupt) ;;  # the agent's hook corrupts the frame after the point
    timeout) local p; p=$(criu_dump_pid); STOPPED+=("$p"); kill -STOP "$p" ;;
    *) fail "kind $KIND" ;;
  esac
  log "injected $KIND at $POINT"
}

SAMPLE_MEMORY_MIB=$MIB start_counter host-a "$ID"
before=$(count_of host-a "$ID")
if [ "$KIND" = corrupt ]; then
  MIGRATE_TAMPER_PAGE_BYTES=$((MIB * 1048576 * FRACTION / 100 + 1)) "$TH" restart-agent host-a
fi
ip netns exec "$NS_A" tc qdisc add dev mig-data-a root tbf rate 24mbit burst 64kbit latency 1s
start_watcher "$ID"
( migrate_json "$ID" host-a host-b --strategy post-copy --cgroups-mode soft \
    --cgroup-path "/migrate-host-b/$ID"
  echo "$RC" >"$TEST_TMP/rc"; echo "$REPORT" >"$TEST_TMP/report" ) &
controller=$!
# A corrupted frame is sent by the source's hook once the point's share of the pages went out.
[ "$KIND" = corrupt ] || wait_for_point
inject
wait "$controller" || true
RC=$(cat "$TEST_TMP/rc"); REPORT=$(cat "$TEST_TMP/report")
fast_data_link
if [ "$RC" -eq 4 ]; then  # the operator ends what the controller could not
  mid=$(report .migration_id)
  for i in $(seq 20); do
    "$MIGRATE_BIN" rollback "$mid" host-a host-b >&2 2>"$TEST_TMP/op.err" && break
    log "migrate rollback: $(cat "$TEST_TMP/op.err")"
    sleep 1
  done
fi
for i in $(seq 100); do [ "$(container_status host-a "$ID")" = running ] && break; sleep 0.1; done
stop_watcher
[ "$(running_host "$ID")" = host-a ] || fail "$ID runs on $(running_host "$ID"), not on the source"
[ "$RC" -eq 3 ] || [ "$RC" -eq 4 ] || fail "exit $RC: a cut transfer must end rolled back (3, or 4 then rollback)"
log "report: $(report .status), $(report .error)"
expect_counting host-a "$ID" "$before"
expect_memory_intact host-a "$ID"
expect_nothing_left "$ID"
for i in $(seq 50); do pgrep -f "migrate-fence .*$ID|migrate-fence .*migrations" >/dev/null || break; sleep 0.1; done
pgrep -af "migrate-fence" | grep -q migrations && fail "a fence outlived the migration: $(pgrep -af migrate-fence)"
log PASS
