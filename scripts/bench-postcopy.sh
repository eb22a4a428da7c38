#!/usr/bin/env bash
# Post-copy against stop-and-copy, in one run, on the same workload: real migrations host-a ->
# host-b of a container running tests/tools/page_workload (N MiB held, half random, half one
# byte; 64 random pages touched per step; a progress line every 10 ms). Prints a Markdown
# table per size and strategy:
#   app downtime   the longest gap in the workload's own progress lines across the move
#                  (last progress on the source to first on the destination, one clock)
#   report         the controller's downtime (the agents' clocks)
#   window         post-copy: restored container running -> last page arrived
#   rate           steps/s while the pages fly, against the 2 s before the move
#
#   scripts/bench-postcopy.sh [SIZES_MIB...]      (default: 64 256 1024 4096)
#   HOT_MIB=64 scripts/bench-postcopy.sh ...       the touches in the first 64 MiB only (a
#                                                  working set smaller than the memory held)
#   RUNS=3 STRATEGIES=post-copy scripts/bench-postcopy.sh ...   each move 3 times, post-copy only
#
# Needs root and a build (scripts/build.sh). Brings its own test hosts up and down
# (TEST_HOSTS_DIR default /run/migrate-bench-hosts): do not run it beside the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
BUILD=${MIGRATE_BUILD_DIR:-build}
MIGRATE=$BUILD/controller/migrate
WORKLOAD=$PWD/$BUILD/tests/tools/migrate_page_workload
[ -x "$WORKLOAD" ] || { echo "build first: $WORKLOAD missing" >&2; exit 1; }
export TEST_HOSTS_DIR=${TEST_HOSTS_DIR:-/run/migrate-bench-hosts}
SIZES=("$@")
HOT_MIB=${HOT_MIB:-}
RUNS=${RUNS:-1}
read -r -a STRATEGY_LIST <<<"${STRATEGIES:-stop-and-copy post-copy}"
[ ${#SIZES[@]} -gt 0 ] || SIZES=(64 256 1024 4096)

./scripts/test-hosts.sh down >/dev/null 2>&1 || true
./scripts/test-hosts.sh up >/dev/null
trap './scripts/test-hosts.sh down >/dev/null 2>&1' EXIT
eval "$(./scripts/test-hosts.sh env)"

# app_numbers PROGRESS_FILE START_MS WINDOW_MS: "gap_ms rate_before rate_during".
app_numbers() {
  awk -v start="$2" -v window="$3" '
    { t[NR] = $1; s[NR] = $2 }
    END {
      gap = 0; resume = 0
      for (i = 2; i <= NR; i++) if (t[i] >= start && t[i] - t[i-1] > gap) { gap = t[i] - t[i-1]; resume = i }
      for (i = 1; i <= NR; i++) if (t[i] >= start - 2000) { b = i; break }
      for (i = 1; i <= NR; i++) if (t[i] <= start) e = i
      before = (t[e] > t[b]) ? (s[e] - s[b]) * 1000 / (t[e] - t[b]) : 0
      w = (window > 200) ? window : 1000
      for (i = resume; i <= NR; i++) if (t[i] <= t[resume] + w) f = i
      during = (f > resume && t[f] > t[resume]) ? (s[f] - s[resume]) * 1000 / (t[f] - t[resume]) : 0
      printf "%d %d %d\n", gap, before, during
    }' "$1"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(runc --version | head -n1), CRIU $(criu --version | sed -n 's/Version: //p')"
echo
if [ -n "$HOT_MIB" ]; then echo "working set: the first $HOT_MIB MiB"; else echo "working set: all the memory held"; fi
echo
echo "| MiB | strategy | app downtime ms | report downtime ms | CRIU dump ms | restore ms | post-copy window ms | pages (faulted) | link raw / wire MiB | steps/s before | steps/s in window |"
echo "|---:|---|---:|---:|---:|---:|---:|---|---|---:|---:|"
for size in "${SIZES[@]}"; do
  for run in $(seq "$RUNS"); do
  for strategy in "${STRATEGY_LIST[@]}"; do
    id=pcbench-$size-${strategy%%-*}-$run
    hot=$HOT_MIB
    [ -z "$hot" ] || [ "$hot" -le "$size" ] || hot=$size
    SAMPLE_WORKLOAD=$WORKLOAD SAMPLE_MEMORY_MIB=$size SAMPLE_HOT_MIB=$hot ./scripts/sample-container.sh start "$id" \
      "$HOST_A_RUNC_ROOT" "$HOST_A_BUNDLES/$id" "/host-a/$id" >/dev/null
    sleep 2.5
    start=$(date +%s%3N)
    report=$("$MIGRATE" container "$id" host-a host-b --strategy "$strategy" --cgroups-mode ignore \
      --output json --timeout 600) || { echo "| $size | $strategy | FAILED: $(jq -r .error <<<"$report") |"; continue; }
    sleep 1.5
    bundle=$(runc --root "$HOST_B_RUNC_ROOT" state "$id" | jq -r .bundle)
    window=$(jq -r '.timings_ms.post_copy_window' <<<"$report")
    read -r gap before during < <(app_numbers "$bundle/rootfs/progress" "$start" "$window")
    jq -r --arg size "$size" --arg s "$strategy" --arg gap "$gap" --arg before "$before" \
      --arg during "$during" '
      [$size, $s, $gap, .timings_ms.downtime, .timings_ms.checkpoint, .timings_ms.restore,
       (if $s == "post-copy" then .timings_ms.post_copy_window else "-" end),
       (if $s == "post-copy" then "\(.post_copy.pages_total) (\(.post_copy.pages_faulted))" else "-" end),
       (if $s == "post-copy" then "\(.post_copy.link_raw / 1048576 | floor) / \(.post_copy.link_wire / 1048576 | floor)"
        else "\(.bytes.images_raw / 1048576 | floor) / \(.bytes.images_wire / 1048576 | floor)" end),
       $before, (if $s == "post-copy" then $during else "-" end)] | "| " + join(" | ") + " |"' <<<"$report"
    runc --root "$HOST_B_RUNC_ROOT" kill "$id" KILL >/dev/null 2>&1 || true
    sleep 0.5
    runc --root "$HOST_B_RUNC_ROOT" delete -f "$id" >/dev/null 2>&1 || true
    rm -rf "$HOST_A_BUNDLES/$id"
  done
  done
done
