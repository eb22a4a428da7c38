#!/usr/bin/env bash
# Migration benchmark: real migrations of counting busybox containers holding N MiB of memory
# (scripts/sample-container.sh, SAMPLE_MEMORY_MIB) between the two test hosts, there and
# back, with the controller's JSON report as the measurement. Prints a Markdown table.
#
#   scripts/bench-migration.sh [SIZES_MIB...]      (default: 0 256 1024)
#
# Needs root and a build (scripts/build.sh). Brings its own test hosts up and down
# (TEST_HOSTS_DIR default /run/migrate-bench-hosts): do not run it beside the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
BUILD=${MIGRATE_BUILD_DIR:-build}
MIGRATE=$BUILD/controller/migrate
export TEST_HOSTS_DIR=${TEST_HOSTS_DIR:-/run/migrate-bench-hosts}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(0 256 1024)

./scripts/test-hosts.sh down >/dev/null 2>&1 || true
./scripts/test-hosts.sh up >/dev/null
trap './scripts/test-hosts.sh down >/dev/null 2>&1' EXIT
eval "$(./scripts/test-hosts.sh env)"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r), $(runc --version | head -n1), CRIU $(criu --version | sed -n 's/Version: //p')"
echo
echo "| memory MiB | move | mode | total ms | downtime ms | CRIU dump ms | transfer tail ms | restore ms | images raw MiB | images wire MiB | bundle raw MiB |"
echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
row() {  # size move report
  jq -r --arg size "$1" --arg move "$2" '
    [$size, $move, .cgroups_mode.restore_effective, .timings_ms.total, .timings_ms.downtime,
     .timings_ms.checkpoint, .timings_ms.transfer_tail, .timings_ms.restore,
     (.bytes.images_raw / 1048576 | floor), (.bytes.images_wire / 1048576 | floor),
     (.bytes.bundle_raw / 1048576 * 10 | floor / 10)] | "| " + join(" | ") + " |"' <<<"$3"
}
for size in "${SIZES[@]}"; do
  id=bench-$size
  SAMPLE_MEMORY_MIB=$size ./scripts/sample-container.sh start "$id" "$HOST_A_RUNC_ROOT" \
    "$HOST_A_BUNDLES/$id" "/host-a/$id" >/dev/null
  sleep 1
  there=$("$MIGRATE" container "$id" host-a host-b --cgroups-mode ignore --output json) ||
    { echo "migration of $id failed: $(jq -r .error <<<"$there")" >&2; exit 1; }
  row "$size" "a -> b" "$there"
  sleep 1
  back=$("$MIGRATE" container "$id" host-b host-a --cgroups-mode soft --output json) ||
    { echo "migration of $id back failed: $(jq -r .error <<<"$back")" >&2; exit 1; }
  row "$size" "b -> a" "$back"
  ./scripts/sample-container.sh remove "$id" "$HOST_A_RUNC_ROOT"
done
