#!/usr/bin/env bash
# The image stream is cut while the container is frozen: the data link is slowed down (tbf)
# so that the transfer lasts, and once CRIU is writing images on host-a the connection is
# destroyed and the link taken down. The controller must roll back: the container runs
# again on host-a from its kept images, its count continuing, and nothing of it on host-b.
source "$(dirname "$0")/lib.sh"
ID=fail-cut-$$
NS_A=$(basename "$HOST_A_NETNS")
NS_B=$(basename "$HOST_B_NETNS")
restore_link() {
  ip -n "$NS_A" link set mig-data-a up 2>/dev/null || true
  ip -n "$NS_B" link set mig-data-b up 2>/dev/null || true
  ip netns exec "$NS_A" tc qdisc del dev mig-data-a root 2>/dev/null || true
}
trap 'restore_link; cleanup_containers; rm -rf "$TEST_TMP"' EXIT
start_counter host-a "$ID"
before=$(count_of host-a "$ID")

ip netns exec "$NS_A" tc qdisc add dev mig-data-a root tbf rate 400kbit burst 16kbit latency 2s
known=$(migration_dirs host-a)
( migrate_json "$ID" host-a host-b --cgroups-mode soft; echo "$RC" >"$TEST_TMP/rc"; echo "$REPORT" >"$TEST_TMP/report" ) &
mig=$!
wait_for_freeze host-a "$known"
log "checkpoint running: cutting the data link"
ip netns exec "$NS_B" ss -K '( sport = :7444 )' >/dev/null 2>&1 || true
ip -n "$NS_A" link set mig-data-a down
ip -n "$NS_B" link set mig-data-b down
wait "$mig" || true
restore_link
RC=$(cat "$TEST_TMP/rc"); REPORT=$(cat "$TEST_TMP/report")
[ "$RC" -ne 0 ] || fail "migration over a cut link succeeded?"
[ "$(report .status)" = rolled_back ] || fail "status $(report .status), expected rolled_back"
expect_absent host-b "$ID"
expect_counting host-a "$ID" "$before"
log PASS
