#!/usr/bin/env bash
# The destination agent is killed (SIGKILL) while the images stream to it. The controller
# must roll back: the container runs again on host-a, its count continuing. When the agent
# comes back, its journal leaves nothing of the migration behind on host-b.
source "$(dirname "$0")/lib.sh"
ID=fail-kill-$$
trap 'fast_data_link; "$TH" restart-agent host-b >/dev/null 2>&1 || true; cleanup_containers; rm -rf "$TEST_TMP"' EXIT
start_counter host-a "$ID"
before=$(count_of host-a "$ID")

slow_data_link
migrate_json_frozen "$ID" host-a host-b --cgroups-mode soft
log "checkpoint running: killing the host-b agent"
"$TH" kill-agent host-b
migrate_json_wait
fast_data_link
[ "$RC" -ne 0 ] || fail "migration to a dead agent succeeded?"
[ "$(report .status)" = rolled_back ] || fail "status $(report .status), expected rolled_back"
expect_absent host-b "$ID"
expect_counting host-a "$ID" "$before"

"$TH" restart-agent host-b
expect_absent host-b "$ID"
[ ! -e "$HOST_B_STATE_DIR/containers/$ID" ] || fail "host-b kept a bundle of $ID after restart"
log PASS
