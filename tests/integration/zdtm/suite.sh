#!/usr/bin/env bash
# The zdtm migration suite: every test of tests/zdtm/migration.txt that is not "out", each run
# by zdtm_test.sh (a control on host-a, a migration host-a -> host-b), JOBS at a time.
#
#   suite.sh [TEST...]        (default: every test of migration.txt that is not out)
#
# Environment: ZDTM_BIN_DIR (the tests built by scripts/build-zdtm.sh), ZDTM_JOBS (tests at
# once, default 3), ZDTM_RESULTS (a file that gets the RESULT lines, tab separated), and what
# tests/integration/lib.sh needs (MIGRATE_BIN, the test hosts up).
#
# Prints one line per test and a summary: selected, control PASS, migration PASS, refused as
# expected, lost with the warning, differs as expected, blocked, unexpected, and the time
# taken. Exit 1 when any test did not do what migration.txt expects (its log is printed), or
# when a container, cgroup or staging area of the suite is left on a host.
source "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
LIST=$REPO/tests/zdtm/migration.txt
SELECTION=$REPO/tests/zdtm/selection.txt
JOBS=${ZDTM_JOBS:-3}

listed() { sed -e 's/ #.*//' -e 's/^#.*//' "$1" | awk 'NF {print $1}'; }

# Every test of the selection has an expectation, and only those.
missing=$(comm -23 <(listed "$SELECTION" | sort) <(listed "$LIST" | sort) | tr '\n' ' ')
extra=$(comm -13 <(listed "$SELECTION" | sort) <(listed "$LIST" | sort) | tr '\n' ' ')
[ -z "$missing$extra" ] || fail "migration.txt and selection.txt differ: not in migration.txt: $missing; not in selection.txt: $extra"

if [ $# -gt 0 ]; then
  tests=("$@")
else
  mapfile -t tests < <(sed -e 's/ #.*//' -e 's/^#.*//' "$LIST" | awk 'NF && $3 != "out" {print $1}')
fi
log "${#tests[@]} tests, $JOBS at a time"
source "$REPO/scripts/zdtm-lib.sh"

# host-b receives containers that ask for the selection's capabilities (runc's default set
# plus, e.g., CAP_SYS_ADMIN for fanotify00): its policy for received containers must allow
# them, as an operator would for such workloads, and nothing more. Back to the default at exit.
awk '!/^#/ && NF && $4 != "-" {print $4}' "$SELECTION" | tr ',' '\n' | sort -u |
  jq -R 'ascii_upcase | if startswith("CAP_") then . else "CAP_" + . end' |
  jq -s '{allowed_capabilities: .}' >"$TEST_TMP/received_containers.json"
"$TH" use-policy host-b "$TEST_TMP/received_containers.json" 2>&1 | tail -n 1 >&2
trap '"$TH" use-policy host-b - >/dev/null 2>&1 || true; cleanup_containers; rm -rf "$TEST_TMP"' EXIT
export ZDTM_BASE_ROOTFS=$TEST_TMP/rootfs
zdtm_make_base_rootfs "$ZDTM_BASE_ROOTFS"

# Each test in its own process (its containers are removed by its own exit trap), bounded.
run_one() {
  timeout -k 5 180 bash "$HERE/zdtm_test.sh" "$1" >"$TEST_TMP/$1.result" 2>"$TEST_TMP/$1.log"
}
# Interrupted: the tests end their own way (their exit traps remove their containers).
trap 'jobs -p | xargs -r kill 2>/dev/null; wait; exit 143' TERM INT
running=0
for t in "${tests[@]}"; do
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait || true

: "${ZDTM_RESULTS:=$TEST_TMP/results.tsv}"
: >"$ZDTM_RESULTS"
unexpected=0
for t in "${tests[@]}"; do
  line=$(grep '^RESULT' "$TEST_TMP/$t.result" || true)
  if [ -z "$line" ]; then  # it failed before it could say (lib.sh's fail, a timeout)
    line=$(printf 'RESULT\t%s\t?\t?\tunexpected\t?\t%s' "$t" "$(tail -n 2 "$TEST_TMP/$t.log" | tr '\n\t' '  ')")
  fi
  echo "$line" >>"$ZDTM_RESULTS"
  IFS=$'\t' read -r _ name control migration outcome secs detail <<<"$line"
  printf '%-28s control %-4s migration %-11s %-26s %4ss  %s\n' "$name" "$control" "$migration" \
    "$outcome" "$secs" "$(cut -c1-160 <<<"$detail")" >&2
  if [ "$outcome" = unexpected ]; then
    unexpected=$((unexpected + 1))
    sed 's/^/    | /' "$TEST_TMP/$t.log" | tail -n 30 >&2
  fi
done

# Nothing of the suite's left on either host.
for h in host-a host-b; do
  left=$(rt "$h" list -q 2>/dev/null | grep -E '^z[cm]-' || true)
  [ -z "$left" ] || fail "containers left on $h: $(tr '\n' ' ' <<<"$left")"
  d="$(state_dir "$h")/staging"
  if [ -d "$d" ] && [ -n "$(ls -A "$d")" ]; then fail "staging left on $h: $(ls -A "$d")"; fi
done
left=$(find /sys/fs/cgroup/*/host-a /sys/fs/cgroup/*/migrate-host-b -maxdepth 1 -name 'z[cm]-*' 2>/dev/null | head -n 5 || true)
[ -z "$left" ] || fail "cgroups left: $(tr '\n' ' ' <<<"$left")"

count() { awk -F'\t' -v c="$1" -v v="$2" '$c ~ v' "$ZDTM_RESULTS" | wc -l; }
log "selected ${#tests[@]}: control PASS $(count 3 '^PASS$'), migration PASS $(count 5 '^pass$')," \
    "refused as expected $(count 5 '^refused:'), lost with the warning $(count 5 '^lost$')," \
    "differs as expected $(count 5 '^differs$'), blocked $(count 5 '^blocked$'), unexpected $unexpected; ${SECONDS} s"
[ "$unexpected" -eq 0 ] || fail "$unexpected test(s) did not do what migration.txt expects"
log PASS
