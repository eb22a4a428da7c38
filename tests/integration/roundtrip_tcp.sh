#!/usr/bin/env bash
# A container that counts through an established TCP connection: refused up front without
# --tcp-established; then host-a -> host-b -> host-a with it. The container counts through an
# established TCP connection over its own 127.0.0.1 (scripts/sample-container.sh,
# SAMPLE_COUNT_OVER_TCP). The count goes on after each move only if CRIU carried the
# connection across and loopback was up before the sockets came back.
source "$(dirname "$0")/lib.sh"
ID=rt-tcp-$$
SAMPLE_COUNT_OVER_TCP=1 start_counter host-a "$ID"

# Without --tcp-established the preflight refuses before anything is frozen.
pid=$(container_pid host-a "$ID")
migrate_json "$ID" host-a host-b --cgroups-mode ignore
[ "$RC" -ne 0 ] || fail "an established connection without --tcp-established was accepted"
[ "$(report .frozen)" = false ] || fail "the container was frozen before the refusal"
grep -q "established TCP connection" <<<"$(report .error)" || fail "the refusal does not say why: $(report .error)"
grep -q -- --tcp-established <<<"$(report '.checks[] | select(.name == "tcp-connections") | .remedy')" ||
  fail "the refusal does not say what to do"
[ "$(container_pid host-a "$ID")" = "$pid" ] || fail "the container was restarted"

before=$(count_of host-a "$ID")
migrate_json "$ID" host-a host-b --cgroups-mode ignore --tcp-established
[ "$RC" -eq 0 ] || fail "migration to host-b failed: $(report .error)"
expect_absent host-a "$ID"
expect_counting host-b "$ID" "$before"
expect_loopback host-b "$ID"

before=$(count_of host-b "$ID")
migrate_json "$ID" host-b host-a --cgroups-mode ignore --tcp-established
[ "$RC" -eq 0 ] || fail "migration back to host-a failed: $(report .error)"
expect_absent host-b "$ID"
expect_counting host-a "$ID" "$before"
log PASS
