#!/usr/bin/env bash
# The destination cannot honour the container: its target cgroup allows a single task
# (pids.max = 1), so CRIU cannot recreate the container's processes there. The restore on
# host-b fails for real; the controller rolls back and the container runs again on host-a
# from the images host-a kept, its count continuing.
source "$(dirname "$0")/lib.sh"
ID=fail-restore-$$
CG=/migrate-host-b/$ID-tight
PIDS_CG=/sys/fs/cgroup/pids$CG
trap 'rmdir "$PIDS_CG" 2>/dev/null || true; cleanup_containers; rm -rf "$TEST_TMP"' EXIT
start_counter host-a "$ID"
mkdir -p "$PIDS_CG"
echo 1 >"$PIDS_CG/pids.max"

before=$(count_of host-a "$ID")
migrate_json "$ID" host-a host-b --cgroups-mode ignore --cgroup-path "$CG"
[ "$RC" -ne 0 ] || fail "migration into a 1-task cgroup succeeded?"
[ "$(report .status)" = rolled_back ] || fail "status $(report .status), expected rolled_back"
grep -qi restore <<<"$(report .error)" || fail "error does not name the restore: $(report .error)"
expect_absent host-b "$ID"
expect_counting host-a "$ID" "$before"
[ -z "$(ls -A "$HOST_B_STATE_DIR/containers" 2>/dev/null | grep -x "$ID")" ] || fail "bundle left on host-b"
log PASS
