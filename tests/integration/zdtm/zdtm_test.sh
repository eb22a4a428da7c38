#!/usr/bin/env bash
# One zdtm test of the migration suite (tests/zdtm/migration.txt), between the test hosts:
#
#   zdtm_test.sh TEST
#
# Two busybox containers on host-a run TEST (built by scripts/build-zdtm.sh into
# $ZDTM_BIN_DIR) as tests/zdtm/selection.txt says (arguments, capabilities). The control is
# signalled on host-a where it started; the other is migrated host-a -> host-b in the line's
# cgroup mode into a new cgroup path (with the CRIU options the selection's CRIU column asks:
# --tcp-established / --file-locks / --ext-unix-sk, the others by --criu-option), then
# signalled where it runs. What is asserted depends on
# the line's expectation:
#   pass           migrated, in the new cgroup, the test says PASS on host-b
#   lost           migrated with the warning, and the test does not pass: CRIU said it drops
#                  state the test checks (its FAIL is how the loss shows)
#   refused:CHECK  refused in preflight (exit 1, never frozen) by the failed check CHECK whose
#                  detail names what cannot be moved; the test then passes on host-a
#   differs        migrated without a warning from CRIU, and the test fails on host-b the way
#                  the evidence says: it compares what no copy of the files keeps (inode numbers)
#   blocked        rolled back (exit 3) with the error given; the test then passes on host-a
# and the evidence (a regular expression) must be in, respectively: a warning "CRIU on host-a
# (dump): ..." (pass, lost; '-': no warning from CRIU at all), the test's FAIL (differs), the
# check's detail, the error.
#
# Prints one line "RESULT TEST CONTROL MIGRATION OUTCOME SECONDS DETAIL" (tab separated):
# CONTROL PASS|FAIL; MIGRATION what the migration did (migrated, refused, rolled_back, ...);
# OUTCOME the expectation when it was met, else "unexpected". Exit 0 when it was met.
source "$(dirname "$0")/../lib.sh"
source "$REPO/scripts/zdtm-lib.sh"

trap 'exit 143' TERM INT  # so that lib.sh's exit trap removes the containers
TEST=${1:?usage: zdtm_test.sh TEST}
TEST_NAME="zdtm $TEST"
SELECTION=$REPO/tests/zdtm/selection.txt
MIGRATION_LIST=$REPO/tests/zdtm/migration.txt
BIN_DIR=${ZDTM_BIN_DIR:-/var/tmp/migrate-zdtm/bin}
WAIT=${ZDTM_WAIT_SECONDS:-20}  # bound of the test's start and of its verdict after SIGTERM
[ -x "$BIN_DIR/$TEST" ] || fail "no $BIN_DIR/$TEST (scripts/build-zdtm.sh)"

read -r ARGS CRIU CAPS _ < <(zdtm_row "$TEST" "$SELECTION")
read -r MODE EXPECT EVIDENCE < <(sed -e 's/ *#.*//' "$MIGRATION_LIST" | awk -v t="$TEST" '$1 == t {
  e = $0; sub(/^[^ ]+ +[^ ]+ +[^ ]+ */, "", e); print $2, $3, e; f = 1 } END { if (!f) print "- - -" }')
[ "$MODE" != - ] || fail "$TEST is not in $MIGRATION_LIST"
MIGRATE_FLAGS=()
if [ "$CRIU" != - ]; then
  IFS=, read -r -a opts <<<"$CRIU"
  for o in "${opts[@]}"; do
    case "$o" in
      tcp-established|file-locks|ext-unix-sk) MIGRATE_FLAGS+=("--$o") ;;
      link-remap|skip-in-flight|no-ghost-fiemap|ghost-limit=*) MIGRATE_FLAGS+=(--criu-option "$o") ;;
      *) fail "$TEST needs CRIU option $o, which migrate container does not offer" ;;
    esac
  done
fi
# The hosts' runtimes do not change during the suite: look them up once (lib.sh's rt reads the
# agents' configs on every call, and this script calls it often).
declare -A RUNTIME_CMD
for h in host-a host-b; do RUNTIME_CMD[$h]="$(runtime_of "$h") --root $(runc_root "$h")"; done
# shellcheck disable=SC2086
rt() { local host=$1; shift; ${RUNTIME_CMD[$host]} "$@"; }

CONTROL=zc-$TEST-$$ MOVED=zm-$TEST-$$
CGROUP_PATH=/migrate-host-b/$MOVED

result() {  # result CONTROL MIGRATION MET(0|1) DETAIL: the RESULT line, then exit
  local outcome=$EXPECT
  [ "$3" = 0 ] || outcome=unexpected
  printf 'RESULT\t%s\t%s\t%s\t%s\t%s\t%s\n' "$TEST" "$1" "$2" "$outcome" "$SECONDS" "$4"
  log "control $1, migration $2: $outcome ($4)"
  exit "$3"
}

# start_zdtm HOST ID: TEST's container on HOST, cgroup /HOST/ID (in CREATED). Without zdtm-run's
# prestart hook (a destination's policy refuses hooks it did not allow; its agent adds its own
# loopback hook at restore): loopback is brought up between runc create and runc start.
start_zdtm() {
  local bundle pid
  bundle="$(bundles_dir "$1")/$2"
  zdtm_make_bundle "$bundle" "$TEST" "/$1/$2" "$ARGS" "$CAPS" "$BIN_DIR"
  jq 'del(.hooks)' "$bundle/config.json" >"$bundle/config.json.new" && mv "$bundle/config.json.new" "$bundle/config.json"
  rt "$1" --log "$TEST_TMP/$2.runc.log" create --bundle "$bundle" "$2" </dev/null >/dev/null 2>&1 ||
    fail "runc create $2 on $1: $(tail -n 3 "$TEST_TMP/$2.runc.log" | tr '\n' ' ')"
  pid=$(rt "$1" state "$2" | jq -r .pid)
  nsenter --net="/proc/$pid/ns/net" ip link set lo up || fail "loopback of $2 on $1"
  rt "$1" --log "$TEST_TMP/$2.runc.log" start "$2" </dev/null >/dev/null 2>&1 ||
    fail "runc start $2 on $1: $(tail -n 3 "$TEST_TMP/$2.runc.log" | tr '\n' ' ')"
}
zdtm_dir() { echo "$(container_bundle "$1" "$2")/rootfs/zdtm"; }

# verdict HOST ID SECONDS: SIGTERM to the test's own pid where it runs; prints PASS|FAIL <why>.
verdict() {
  local z cpid hpid why
  z=$(zdtm_dir "$1" "$2")
  why=$(zdtm_not_ended "$z" "$TEST") || { echo "FAIL $why"; return 0; }
  cpid=$(cat "$z/$TEST.pid" 2>/dev/null) || { echo "FAIL no pidfile"; return 0; }
  # shellcheck disable=SC2046
  hpid=$(zdtm_host_pid "$cpid" $(rt "$1" ps --format json "$2" | jq -r '.[]')) || {
    echo "FAIL test pid $cpid not found in $2 on $1 (tasks: $(rt "$1" ps "$2" | awk 'NR > 1 {print $2, $NF}' |
      tr '\n' ' '); the test wrote: $(tail -n 3 "$z/$TEST.out.inprogress" 2>/dev/null | tr '\n' ' '))"
    return 0
  }
  kill -TERM "$hpid"
  zdtm_result "$z" "$TEST" "$3" || true
}

# criu_warnings_as REGEX: the report has a warning of CRIU's dump on host-a matching REGEX; for
# '-', no warning from CRIU at all.
criu_warnings_as() {
  local warnings
  warnings=$(report '.warnings[]')
  if [ "$1" = - ]; then
    ! grep -q '^CRIU on ' <<<"$warnings"
  else
    grep -qE "^CRIU on host-a \(dump\): .*$1" <<<"$warnings"
  fi
}

CREATED+=("host-a $CONTROL" "host-a $MOVED")
start_zdtm host-a "$CONTROL" & start_zdtm host-a "$MOVED"
wait $! || fail "the control did not start"
for id in "$CONTROL" "$MOVED"; do
  why=$(zdtm_wait_ready "$(zdtm_dir host-a "$id")" "$TEST" "$WAIT") || result FAIL - 1 "$id: $why"
done
control=$(verdict host-a "$CONTROL" "$WAIT")
[ "${control%% *}" = PASS ] || result FAIL - 1 "control: $control"

pid_before=$(container_pid host-a "$MOVED")
migrate_json "$MOVED" host-a host-b --cgroups-mode "$MODE" --cgroup-path "$CGROUP_PATH" \
  "${MIGRATE_FLAGS[@]}"
status=$(report .status)
[ -n "$status" ] || status=exit-$RC
case "$EXPECT" in
  pass|lost|differs)
    [ "$RC" -eq 0 ] || result PASS "$status" 1 "exit $RC: $(report .error)"
    warned=$EVIDENCE
    [ "$EXPECT" != differs ] || warned=-
    criu_warnings_as "$warned" ||
      result PASS "$status" 1 "CRIU's warnings are not /$EVIDENCE/: $(jq -c .warnings <<<"$REPORT")"
    expect_absent host-a "$MOVED"
    expect_cgroup host-b "$MOVED" "$CGROUP_PATH"
    if [ "$EXPECT" = pass ]; then
      moved=$(verdict host-b "$MOVED" "$WAIT")
      [ "${moved%% *}" = PASS ] || result PASS "$status" 1 "on host-b: $moved"
    elif [ "$EXPECT" = differs ]; then
      moved=$(verdict host-b "$MOVED" "$WAIT")
      [ "${moved%% *}" = FAIL ] && grep -qE "$EVIDENCE" <<<"$moved" ||
        result PASS "$status" 1 "on host-b: $moved, expected FAIL /$EVIDENCE/"
    else
      moved=$(verdict host-b "$MOVED" 3)  # it waits for what was lost: 3 s tell
      [ "${moved%% *}" != PASS ] || result PASS "$status" 1 "passed on host-b although CRIU warned: $moved"
    fi
    result PASS "$status" 0 "$MODE, $(report .timings_ms.total) ms, downtime $(report .timings_ms.downtime) ms; host-b: $moved; warnings: $(jq -r '.warnings | join(" | ")' <<<"$REPORT")"
    ;;
  refused:*)
    check=${EXPECT#refused:}
    [ "$RC" -eq 1 ] && [ "$(report .frozen)" = false ] ||
      result PASS "$status" 1 "exit $RC, frozen $(report .frozen): $(report .error)"
    detail=$(jq -r --arg c "$check" '.checks[] | select(.name == $c and .ok == false) | .detail' <<<"$REPORT")
    grep -qE "$EVIDENCE" <<<"$detail" ||
      result PASS "$status" 1 "no failed check $check /$EVIDENCE/: $(jq -c '[.checks[] | select(.ok == false)]' <<<"$REPORT")"
    ;;
  blocked)
    [ "$RC" -eq 3 ] && [ "$status" = rolled_back ] ||
      result PASS "$status" 1 "exit $RC, expected 3 (rolled back): $(report .error)"
    grep -qE "$EVIDENCE" <<<"$(report .error)" || result PASS "$status" 1 "error is not /$EVIDENCE/: $(report .error)"
    ;;
  *) fail "unknown expectation '$EXPECT' for $TEST" ;;
esac
# Refused or rolled back: the container runs on host-a, its test state intact.
expect_absent host-b "$MOVED"
[ "$EXPECT" = blocked ] || [ "$(container_pid host-a "$MOVED")" = "$pid_before" ] ||
  result PASS "$status" 1 "the container was restarted on host-a"
source_after=$(verdict host-a "$MOVED" "$WAIT")
[ "${source_after%% *}" = PASS ] || result PASS "$status" 1 "on host-a afterwards: $source_after"
result PASS "$status" 0 "$(report .error | cut -c1-300); host-a afterwards: PASS"
