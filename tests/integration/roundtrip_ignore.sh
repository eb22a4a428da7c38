#!/usr/bin/env bash
# host-a -> host-b in cgroup mode ignore into a new cgroup path, then back (ignore, default
# path: the destination agent's cgroup parent + id). Each move: the count continues, the
# container runs on the destination only, in exactly the cgroup asked for, loopback up, and
# the report's effective modes are ignore.
source "$(dirname "$0")/lib.sh"
ID=rt-ignore-$$
start_counter host-a "$ID"
expect_cgroup host-a "$ID" "/host-a/$ID"

before=$(count_of host-a "$ID")
migrate_json "$ID" host-a host-b --cgroups-mode ignore --cgroup-path "/migrate-host-b/$ID-moved"
[ "$RC" -eq 0 ] || fail "migration to host-b failed: $(report .error)"
[ "$(report .status)" = migrated ] || fail "status $(report .status)"
[ "$(report .cgroups_mode.requested)" = ignore ] || fail "requested $(report .cgroups_mode.requested)"
[ "$(report .cgroups_mode.restore_effective)" = ignore ] || fail "restore ran $(report .cgroups_mode.restore_effective)"
[ "$(report .timings_ms.downtime)" -gt 0 ] || fail "no downtime measured"
[ "$(report .bytes.raw)" != 0 ] || fail "no bytes reported"
expect_absent host-a "$ID"
expect_counting host-b "$ID" "$before"
expect_cgroup host-b "$ID" "/migrate-host-b/$ID-moved"
expect_loopback host-b "$ID"

before=$(count_of host-b "$ID")
migrate_json "$ID" host-b host-a --cgroups-mode ignore
[ "$RC" -eq 0 ] || fail "migration back to host-a failed: $(report .error)"
[ "$(report .cgroups_mode.restore_effective)" = ignore ] || fail "restore ran $(report .cgroups_mode.restore_effective)"
expect_absent host-b "$ID"
expect_counting host-a "$ID" "$before"
expect_cgroup host-a "$ID" "/migrate-host-a/$ID"
expect_loopback host-a "$ID"
log PASS
