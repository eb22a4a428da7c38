#!/usr/bin/env bash
# The runtime matrix: runtime_pair.sh SRC_RUNTIME DST_RUNTIME [CRIU]. host-a runs SRC_RUNTIME,
# host-b DST_RUNTIME (runc or crun binaries, any version). A counting container moves back
# and forth in each cgroup mode: where both sides can honour the mode, it must really run
# (the report's effective modes from CRIU's logs, every task's cgroup on the host, the
# container's own view from inside, its count and its memory intact); where a side cannot,
# preflight must refuse before the freeze, naming the runtime, its version and what works.
source "$(dirname "$0")/../lib.sh"
SRC=${1:?source runtime} DST=${2:?destination runtime} CRIU=${3:-criu}
for bin in "$SRC" "$DST" "$CRIU"; do
  if ! command -v "$bin" >/dev/null; then
    echo "SKIP: $bin is not installed (scripts/install-runtimes.sh installs it where" \
      "../shared/runtimes holds its source)" >&2
    exit 77
  fi
done
MOVED=()  # cgroup controllers this test moved from the cgroup2 hierarchy to v1 (for crun)
trap 'cleanup_containers; "$TH" use-runtime host-a runc >/dev/null 2>&1; "$TH" use-runtime host-b runc >/dev/null 2>&1; give_back_controllers; rm -rf "$TEST_TMP"' EXIT
"$TH" use-runtime host-a "$SRC" "$CRIU"
"$TH" use-runtime host-b "$DST" "$CRIU"

# crun refuses a hybrid host whose cgroup2 hierarchy holds controllers. Preflight must say so
# first; then, to test crun at all, this test moves them to v1 (a change to the host, undone
# at the end when nothing uses them any more).
give_back_controllers() {
  local c
  for c in "${MOVED[@]}"; do
    find "/sys/fs/cgroup/$c" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null || true
    if umount "/sys/fs/cgroup/$c" && rmdir "/sys/fs/cgroup/$c"; then
      log "HOST CHANGE undone: $c is back on the cgroup2 hierarchy"
    else
      log "warning: could not give $c back to cgroup2 (still in use)"
    fi
  done
}

other() { [ "$1" = host-a ] && echo host-b || echo host-a; }
# What each host's agent says of itself (`migrate hosts check`), read once.
for h in host-a host-b; do
  "$MIGRATE_BIN" hosts check "$h" --output json | jq '.hosts[0].capabilities' >"$TEST_TMP/caps-$h"
done
caps() { jq -r "$2" "$TEST_TMP/caps-$1"; }
# honours HOST MODE SIDE: whether the host can honour MODE on SIDE ("true"/"false").
honours() {
  caps "$1" ".cgroup_modes[] | select(.mode == \"CGROUP_MODE_$(tr a-z A-Z <<<"$2")\") | .$3"
}
runtime_words() { caps "$1" '.runtime_name + " " + .runtime_version'; }  # "runc 1.1.5"
criu_version() { caps "$1" .criu_version; }

# expect_tasks_in HOST ID PATH: every task of the container, on every v1 hierarchy, in PATH.
# exiting PID: the task is gone or in its exit (PF_EXITING in /proc/PID/stat's flags). The
# kernel moves an exiting task to the root cgroups of the v1 hierarchies (cgroup_exit) before
# it becomes a zombie, so a short-lived child read then shows "/" there.
exiting() {
  local stat flags
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  flags=$(awk '{print $7}' <<<"${stat##*) }")
  (( flags & 4 ))
}

expect_tasks_in() {
  local host=$1 id=$2 path=$3 pid line lines n=0
  for pid in $(rt "$host" ps --format json "$id" | jq -r '.[]'); do
    # A short-lived child (usleep, mv) may exit at any moment, even while being read.
    lines=$(cat "/proc/$pid/cgroup" 2>/dev/null) && [ -n "$lines" ] || continue
    while IFS= read -r line; do
      case "$line" in 0::*) continue ;; esac
      [ "${line#*:*:}" = "$path" ] || exiting "$pid" ||
        fail "$id task $pid on $host in '$line', expected $path"
    done <<<"$lines"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || fail "$id on $host has no tasks"
  log "$id on $host: all $n tasks in $path"
}

# expect_inside_view HOST ID EXPECTED: /proc/self/cgroup as seen from inside the container
# (a new process in its namespaces): every v1 line ends in EXPECTED.
expect_inside_view() {
  local line
  while IFS= read -r line; do
    case "$line" in 0::*) continue ;; esac
    [ "${line#*:*:}" = "$3" ] || fail "inside $2 on $1: '$line', expected $3"
  done < <(rt "$1" exec "$2" cat /proc/self/cgroup)
  log "inside $2 on $1: cgroups seen as $3"
}

# move ID FROM MODE [--cgroup-path P]: one migration to the other host; sets RC and REPORT,
# and appends what happened (one JSON line) to $MIGRATE_MATRIX_RESULTS for docs/runtime.md
# (scripts/matrix-table.sh prints the table from it).
move() {
  local id=$1 from=$2 mode=$3 to cgns
  shift 3
  to=$(other "$from")
  cgns=$(container_has_cgroupns "$from" "$id")
  migrate_json "$id" "$from" "$to" --cgroups-mode "$mode" "$@"
  [ -n "${MIGRATE_MATRIX_RESULTS:-}" ] || return 0
  jq -c --arg src "$(runtime_words "$from")" --arg dst "$(runtime_words "$to")" \
    --arg criu "$(criu_version "$to")" --arg mode "$mode" --arg path "${2:-}" \
    --arg cgns "$cgns" --arg rc "$RC" \
    --arg kernel "$(uname -r)" --arg date "$(date -u +%F)" \
    '{date: $date, kernel: $kernel, criu: $criu, source: $src, destination: $dst, mode: $mode,
      new_cgroup_path: ($path != ""), cgroup_namespace: ($cgns == "true"), exit: ($rc | tonumber),
      status, dump: .cgroups_mode.dump_effective, dump_mechanism: .cgroups_mode.dump_mechanism,
      restore: .cgroups_mode.restore_effective,
      restore_mechanism: .cgroups_mode.restore_mechanism, error}' <<<"$REPORT" \
    >>"$MIGRATE_MATRIX_RESULTS"
}
container_has_cgroupns() {
  jq -r '[.linux.namespaces[]? | select(.type == "cgroup")] | length > 0' \
    "$(container_bundle "$1" "$2")/config.json"
}

# expect_moved ID TO MODE CGROUP COUNT_BEFORE: migrated, the mode proven, tasks and count.
expect_moved() {
  local id=$1 to=$2 mode=$3 cgroup=$4 before=$5
  [ "$RC" -eq 0 ] || fail "$mode migration to $to failed (exit $RC): $(report .error)"
  [ "$(report .cgroups_mode.restore_effective)" = "$mode" ] ||
    fail "restore ran $(report .cgroups_mode.restore_effective), asked $mode: $(report .cgroups_mode.restore_evidence)"
  expect_absent "$(other "$to")" "$id"
  expect_tasks_in "$to" "$id" "$cgroup"
  expect_counting "$to" "$id" "$before"
  expect_memory_intact "$to" "$id"
  log "moved to $to in $mode: dump $(report .cgroups_mode.dump_effective) ($(report .cgroups_mode.dump_mechanism)), restore $(report .cgroups_mode.restore_mechanism)"
}

# expect_refused FROM MODE HOST: refused in preflight (nothing frozen), naming HOST's runtime.
expect_refused() {
  local id=$1 from=$2 mode=$3 host=$4
  [ "$RC" -eq 1 ] || fail "$mode to $(other "$from") exited $RC, expected a refusal in preflight (1)"
  [ "$(report .frozen)" = false ] || fail "$mode refused, but after the freeze"
  grep -qF "$(runtime_words "$host")" <<<"$(report .error)" ||
    fail "the refusal does not name $host's runtime ($(runtime_words "$host")): $(report .error)"
  expect_counting "$from" "$id" 1
  log "$mode refused before the freeze: $(report .error | cut -c1-200)"
}

v2_controllers=$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null || true)
if [ -n "$v2_controllers" ] && grep -q '^crun ' <<<"$(runtime_words host-a) $(runtime_words host-b)"; then
  "$MIGRATE_BIN" container none host-a host-b --dry-run --output json >"$TEST_TMP/dry.json" 2>/dev/null || true
  grep -q "refuses this hybrid cgroup host" "$TEST_TMP/dry.json" ||
    fail "preflight did not refuse crun on a hybrid host with cgroup2 controllers ($v2_controllers)"
  log "preflight refuses crun here, as it must: $v2_controllers on cgroup2"
  for c in $v2_controllers; do
    mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c" ||
      fail "could not move $c to a v1 hierarchy"
    MOVED+=("$c")
    log "HOST CHANGE: cgroup controller $c moved from cgroup2 to v1 so that crun runs here"
  done
fi

ID=mx-$$
SAMPLE_MEMORY_MIB=16 start_counter host-a "$ID"
at=host-a
log "host-a: $(runtime_words host-a), host-b: $(runtime_words host-b), CRIU $CRIU"

# 1. ignore into a new cgroup path, there and back where both hosts can; else refused.
for step in 1 2; do
  to=$(other "$at")
  before=$(count_of "$at" "$ID")
  move "$ID" "$at" ignore --cgroup-path "/matrix-$to/$ID"
  if [ "$(honours "$to" ignore restore)" = true ]; then
    expect_moved "$ID" "$to" ignore "/matrix-$to/$ID" "$before"
    [ "$(report .cgroups_mode.restore_evidence)" != "" ] || fail "no restore evidence"
    expect_inside_view "$to" "$ID" "/matrix-$to/$ID"
    at=$to
  else
    expect_refused "$ID" "$at" ignore "$to"
    break
  fi
done

# 2. soft: back and forth; the tasks keep the cgroup they were dumped from.
for step in 1 2; do
  to=$(other "$at")
  before=$(count_of "$at" "$ID")
  cgroup=$(sed -n 's/^[0-9]*:memory://p' "/proc/$(container_pid "$at" "$ID")/cgroup")
  move "$ID" "$at" soft
  expect_moved "$ID" "$to" soft "$cgroup" "$before"
  at=$to
done

# 3. full where the destination can; strict never (a runtime creates the cgroup first).
for mode in full strict; do
  to=$(other "$at")
  before=$(count_of "$at" "$ID")
  cgroup=$(sed -n 's/^[0-9]*:memory://p' "/proc/$(container_pid "$at" "$ID")/cgroup")
  move "$ID" "$at" "$mode"
  if [ "$(honours "$to" "$mode" restore)" = true ]; then
    expect_moved "$ID" "$to" "$mode" "$cgroup" "$before"
    at=$to
  else
    expect_refused "$ID" "$at" "$mode" "$to"
  fi
done
[ "$(honours host-a strict restore)" = false ] && [ "$(honours host-b strict restore)" = false ] ||
  fail "a host claims it can restore in strict"

# 4. A container with its own cgroup namespace: it must stay private. Moving it into a new
#    cgroup works in soft with --cgroup-path; ignore is refused where CRIU would lose it.
NS=mxns-$$
SAMPLE_CGROUPNS=1 SAMPLE_MEMORY_MIB=16 start_counter host-a "$NS"
expect_inside_view host-a "$NS" /
before=$(count_of host-a "$NS")
move "$NS" host-a ignore --cgroup-path "/matrix-host-b/$NS"
[ "$RC" -eq 1 ] && grep -q "cgroup namespace" <<<"$(report .error)" ||
  fail "ignore of a container with a cgroup namespace was not refused (exit $RC): $(report .error)"
move "$NS" host-a soft --cgroup-path "/matrix-host-b/$NS"
expect_moved "$NS" host-b soft "/matrix-host-b/$NS" "$before"
expect_inside_view host-b "$NS" /
log PASS
