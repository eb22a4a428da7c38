#!/usr/bin/env bash
# Refusals before anything is frozen: an unknown host, a controller certificate from another
# CA, an absent container, strict (which no runc can honour on restore), and a device node in
# the root file system that the destination's policy refuses. Each exits
# non-zero with a clear error and leaves the container running untouched (same pid, counting).
source "$(dirname "$0")/lib.sh"
ID=refuse-$$
start_counter host-a "$ID"
pid=$(container_pid host-a "$ID")

untouched() {
  [ "$(container_pid host-a "$ID")" = "$pid" ] || fail "$1: the container was restarted"
  expect_counting host-a "$ID" 0
  expect_absent host-b "$ID"
}

migrate_json "$ID" host-a host-z
[ "$RC" -ne 0 ] || fail "unknown host accepted"
grep -q host-z <<<"$(cat "$TEST_TMP/migrate.err"; echo "$REPORT")" || fail "error does not name host-z"
untouched "unknown host"

migrate_json "no-such-$$" host-a host-b
[ "$RC" -ne 0 ] || fail "absent container accepted"
[ "$(report .status)" = failed ] || fail "absent container: status $(report .status)"
untouched "absent container"

migrate_json "$ID" host-a host-b --cgroups-mode strict
[ "$RC" -ne 0 ] || fail "strict accepted"
grep -qi strict <<<"$(report .error)" || fail "strict refusal does not say why: $(report .error)"
untouched "strict"

# A device node in the root file system, which host-b's policy for received containers refuses
# (allow_device_nodes is off by default): refused by host-b's preflight, never frozen.
node="$(container_bundle host-a "$ID")/rootfs/refused-null"
mknod "$node" c 1 3
migrate_json "$ID" host-a host-b
[ "$RC" -eq 1 ] && [ "$(report .frozen)" = false ] ||
  fail "device node: exit $RC, frozen $(report .frozen): $(report .error)"
detail=$(report '.checks[] | select(.host == "host-b" and .name == "device-nodes" and .ok == false) | .detail')
grep -q 'rootfs/refused-null' <<<"$detail" || fail "device node: no failed host-b check naming it: $(jq -c .checks <<<"$REPORT")"
rm -f "$node"
untouched "device node"

# A controller certificate from another CA.
"$MIGRATE_BIN" certs ca --out "$TEST_TMP/rogue-ca" >/dev/null
"$MIGRATE_BIN" certs issue --ca-dir "$TEST_TMP/rogue-ca" --name controller --role controller --out "$TEST_TMP/rogue" >/dev/null
jq --arg d "$TEST_TMP/rogue" --arg ca "$(dirname "$MIGRATE_HOSTS")/pki/controller/ca.pem" \
  '.controller = {ca: $ca, cert: ($d + "/cert.pem"), key: ($d + "/key.pem")}' "$MIGRATE_HOSTS" >"$TEST_TMP/hosts.json"
migrate_json "$ID" host-a host-b --hosts "$TEST_TMP/hosts.json"
[ "$RC" -ne 0 ] || fail "rogue certificate accepted"
untouched "rogue certificate"
log PASS
