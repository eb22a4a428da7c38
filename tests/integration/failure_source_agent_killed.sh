#!/usr/bin/env bash
# The SOURCE agent is killed (SIGKILL) while the container is frozen and its images stream.
# The controller cannot roll the source back (its agent is gone): it must say so and exit 4,
# with the destination cleaned. When the source agent comes back, its journal (phase
# CHECKPOINTING: no destination was ever asked to restore) makes it restore the container from
# the images it kept: the container runs on host-a again, its count continuing.
source "$(dirname "$0")/lib.sh"
ID=fail-srckill-$$
trap 'fast_data_link; "$TH" restart-agent host-a >/dev/null 2>&1 || true; cleanup_containers; rm -rf "$TEST_TMP"' EXIT
start_counter host-a "$ID"
before=$(count_of host-a "$ID")

slow_data_link
migrate_json_frozen "$ID" host-a host-b --cgroups-mode soft
log "checkpoint running: killing the host-a agent"
"$TH" kill-agent host-a
migrate_json_wait
fast_data_link
[ "$RC" -eq 4 ] || fail "exit $RC, expected 4 (the source could not be rolled back)"
[ "$(report .status)" = failed ] || fail "status $(report .status), expected failed"
[ "$(report .rollback.destination)" = ok ] || fail "destination not cleaned: $(report .rollback.destination)"
expect_absent host-b "$ID"

# runc and CRIU outlive the killed agent: let the dump they were doing finish first.
for i in $(seq 600); do
  pgrep -f "checkpoint .*$ID" >/dev/null || break
  sleep 0.05
done
pgrep -f "checkpoint .*$ID" >/dev/null && fail "runc checkpoint of $ID still running after 30 s"
"$TH" restart-agent host-a
for i in $(seq 200); do
  [ "$(container_status host-a "$ID")" = running ] && break
  sleep 0.05
done
expect_counting host-a "$ID" "$before"
expect_absent host-b "$ID"
grep -q "restart: source of container .* in CHECKPOINTING: roll back" "$(dirname "$MIGRATE_HOSTS")/host-a/agent.log" ||
  fail "the agent log does not say it restored the container"
log PASS
