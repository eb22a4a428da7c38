#!/usr/bin/env bash
# host-a -> host-b -> host-a in cgroup mode soft: CRIU puts the tasks back into the cgroups
# recorded in the images (/host-a/<id>), the count continues, loopback is up, and the report's
# effective modes are soft at dump and at restore.
source "$(dirname "$0")/lib.sh"
ID=rt-soft-$$
start_counter host-a "$ID"

before=$(count_of host-a "$ID")
migrate_json "$ID" host-a host-b --cgroups-mode soft
[ "$RC" -eq 0 ] || fail "migration to host-b failed: $(report .error)"
[ "$(report .status)" = migrated ] || fail "status $(report .status)"
[ "$(report .cgroups_mode.dump_effective)" = soft ] || fail "dump ran $(report .cgroups_mode.dump_effective)"
[ "$(report .cgroups_mode.restore_effective)" = soft ] || fail "restore ran $(report .cgroups_mode.restore_effective)"
expect_absent host-a "$ID"
expect_counting host-b "$ID" "$before"
expect_cgroup host-b "$ID" "/host-a/$ID"
expect_loopback host-b "$ID"

before=$(count_of host-b "$ID")
migrate_json "$ID" host-b host-a
[ "$RC" -eq 0 ] || fail "migration back failed: $(report .error)"
[ "$(report .cgroups_mode.requested)" = soft ] || fail "default mode is not soft"
[ "$(report .cgroups_mode.restore_effective)" = soft ] || fail "restore ran $(report .cgroups_mode.restore_effective)"
expect_absent host-b "$ID"
expect_counting host-a "$ID" "$before"
expect_cgroup host-a "$ID" "/host-a/$ID"
expect_loopback host-a "$ID"
log PASS
