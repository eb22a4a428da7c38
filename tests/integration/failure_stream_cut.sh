#!/usr/bin/env bash
# The image stream is cut while the container is frozen: the data link is slowed down (tbf)
# so that the transfer lasts, and once CRIU is writing images on host-a the connection is
# destroyed and the link taken down. The controller must roll back: the container runs
# again on host-a from its kept images, its count continuing, and nothing of it on host-b.
source "$(dirname "$0")/lib.sh"
ID=fail-cut-$$
restore_link() {
  ip -n "$NS_A" link set mig-data-a up 2>/dev/null || true
  ip -n "$NS_B" link set mig-data-b up 2>/dev/null || true
  fast_data_link
}
trap 'restore_link; cleanup_containers; rm -rf "$TEST_TMP"' EXIT
start_counter host-a "$ID"
before=$(count_of host-a "$ID")

slow_data_link
migrate_json_frozen "$ID" host-a host-b --cgroups-mode soft
log "checkpoint running: cutting the data link"
ip netns exec "$NS_B" ss -K '( sport = :7444 )' >/dev/null 2>&1 || true
ip -n "$NS_A" link set mig-data-a down
ip -n "$NS_B" link set mig-data-b down
migrate_json_wait
restore_link
[ "$RC" -ne 0 ] || fail "migration over a cut link succeeded?"
[ "$(report .status)" = rolled_back ] || fail "status $(report .status), expected rolled_back"
expect_absent host-b "$ID"
expect_counting host-a "$ID" "$before"
log PASS
