#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine (as root): install dependencies, build, bring up
# two test hosts (network namespaces with their own agents), start a counting container on
# host-a, migrate it to host-b and back with `migrate container`, print the reports, and
# tear the hosts down again (KEEP_HOSTS=1 leaves them up to play with). Then a container
# holding 384 MiB moves twice, stop-and-copy and post-copy, with both downtimes side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

./scripts/install-deps.sh
./scripts/build.sh >/dev/null

BUILD=${MIGRATE_BUILD_DIR:-build}
MIGRATE=$BUILD/controller/migrate
export TEST_HOSTS_DIR=${TEST_HOSTS_DIR:-/run/migrate-demo-hosts}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

./scripts/test-hosts.sh down >/dev/null 2>&1 || true
./scripts/test-hosts.sh up
if [ "${KEEP_HOSTS:-0}" != 1 ]; then
  trap './scripts/test-hosts.sh down' EXIT
fi
eval "$(./scripts/test-hosts.sh env)"

say "preflight of both hosts"
"$MIGRATE" hosts check host-a host-b

say "a counting container on host-a (cgroup /host-a/counter)"
./scripts/sample-container.sh start counter "$HOST_A_RUNC_ROOT" "$HOST_A_BUNDLES/counter" /host-a/counter
sleep 1
echo "count on host-a: $(./scripts/sample-container.sh count "$HOST_A_BUNDLES/counter")"

say "migrate counter host-a -> host-b, cgroups ignore (rebuilt under host-b's /migrate-host-b)"
"$MIGRATE" container counter host-a host-b --cgroups-mode ignore
bundle_b=$(runc --root "$HOST_B_RUNC_ROOT" state counter | jq -r .bundle)
pid_b=$(runc --root "$HOST_B_RUNC_ROOT" state counter | jq -r .pid)
sleep 1
echo "count on host-b: $(./scripts/sample-container.sh count "$bundle_b")"
echo "cgroup on host-b: $(grep ':memory:' "/proc/$pid_b/cgroup")"
echo "containers left on host-a: $(runc --root "$HOST_A_RUNC_ROOT" list -q | wc -l)"

say "and back: host-b -> host-a, cgroups ignore again (rebuilt under host-a's /migrate-host-a), JSON report"
"$MIGRATE" container counter host-b host-a --cgroups-mode ignore --output json |
  jq '{status, cgroups_mode: {requested: .cgroups_mode.requested, dump_effective: .cgroups_mode.dump_effective,
       restore_effective: .cgroups_mode.restore_effective}, timings_ms, bytes: {raw: .bytes.raw, wire: .bytes.wire},
       loopback_up, destination_cgroups: [.destination_cgroups[] | select(test(":memory:|^0::"))]}'
sleep 1
# The container now runs from the bundle host-a's agent received (in its state directory).
bundle_a=$(runc --root "$HOST_A_RUNC_ROOT" state counter | jq -r .bundle)
echo "count on host-a: $(./scripts/sample-container.sh count "$bundle_a") (bundle $bundle_a)"
./scripts/sample-container.sh remove counter "$HOST_A_RUNC_ROOT"

say "a container holding 384 MiB: stop-and-copy host-a -> host-b, then post-copy back"
# One process (the benchmarks' page workload, 64 MiB of it hot): a shell holding that much
# forks for every command, and a dump that catches such a child carries its memory twice.
SAMPLE_WORKLOAD=$PWD/$BUILD/tests/tools/migrate_page_workload SAMPLE_MEMORY_MIB=384 SAMPLE_HOT_MIB=64 \
  ./scripts/sample-container.sh start big "$HOST_A_RUNC_ROOT" "$HOST_A_BUNDLES/big" /host-a/big
sleep 3  # it fills its memory first
summary='{strategy, status, error, downtime_ms: .timings_ms.downtime, post_copy_window_ms: .timings_ms.post_copy_window,
          criu_dump_ms: .timings_ms.checkpoint, restore_ms: .timings_ms.restore,
          pages: .post_copy | {pages_total, pages_faulted, pages_pushed}}'
"$MIGRATE" container big host-a host-b --cgroups-mode ignore --output json | jq "$summary"
"$MIGRATE" container big host-b host-a --cgroups-mode ignore --strategy post-copy --output json | jq "$summary"
./scripts/sample-container.sh remove big "$HOST_A_RUNC_ROOT"
