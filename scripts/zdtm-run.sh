#!/usr/bin/env bash
# Runs one zdtm static test (built by scripts/build-zdtm.sh) as the process of a busybox
# container under plain runc, on this host, and prints its verdict.
#
#   zdtm-run.sh [options] control|cr TEST
#
#   control  start the container, let the test run ~1 s, SIGTERM the test, read its outfile
#   cr       start it, `runc checkpoint`, copy the bundle, `runc restore -d` the copy as a new
#            container (new id, new cgroupsPath, --manage-cgroups-mode soft), SIGTERM, read;
#            when the checkpoint fails or hangs (then it is killed), the source is thawed and
#            its test signalled, as a rollback would: the verdict says how the source fared
#
# Options:
#   --bin-dir DIR     the built tests (default $ZDTM_BIN_DIR, else /var/tmp/migrate-zdtm/bin)
#   --selection FILE  TEST's arguments, CRIU options and capabilities (default
#                     tests/zdtm/selection.txt); --args/--criu/--caps override its columns
#   --args A,B        the test's arguments ('@' = the test's name; env:NAME=VALUE sets an
#                     environment variable of the container's processes), '-' for none
#   --criu O,P        CRIU options: tcp-established, file-locks and ext-unix-sk become runc flags
#                     (checkpoint and restore), any other (e.g. link-remap, ghost-limit=8M) a
#                     line of the CRIU config file the bundle's org.criu.config names
#   --caps X,...      capabilities added to runc's default spec (bounding/effective/permitted),
#                     with or without the CAP_ prefix
#   --runc-env K=V    environment of `runc checkpoint` and `runc restore` (runc passes its
#                     environment on to CRIU), e.g. CRIU_FAULT=137; repeatable
#   --same-bundle     cr: restore from the checkpointed bundle itself, not from a copy (the
#                     files keep their inodes; tells inode-identity checks from real failures)
#   --pre-restore CMD cr: run CMD (sh -c) between checkpoint and restore, with ZDTM_BUNDLE=
#                     the bundle to be restored and ZDTM_IMAGES= the images (experiments)
#   --logs DIR        keep the logs (CRIU's dump.log/restore.log, runc's, the test's output)
#   --timeout SEC     bound of each step: start, checkpoint, restore, outfile (default 30)
#
# The container: runc's default spec (default capabilities), no terminal, writable root,
# cgroupsPath /zdtm-probe/<id>, its own runc root /run/zdtm-probe/runc, a prestart hook that
# brings loopback up (runc restores a network namespace with lo down). PID 1 is zdtm_init
# (tests/zdtm/zdtm_init.c, like the init of zdtm's "ns" flavour): it starts the test in /zdtm
# (pidfile, outfile and test files live there), waits for the test's launcher, reaps orphans
# (not with ZDTM_NOREAP). stdio is /dev/null throughout: CRIU cannot dump stdio pointing at
# files outside the container. The test's own pid (from its pidfile, translated to the host's
# pid namespace) gets SIGTERM, as zdtm does.
#
# Output, one line on stdout: "TEST MODE VERDICT STEP: DETAIL" with VERDICT PASS, FAIL (the
# test said so or wrote nothing), ERROR (a runc/CRIU step failed) or HANG (a step timed out; it
# was killed). Exit status: 0 PASS, 1 FAIL, 2 usage or set-up error, 3 HANG, 4 ERROR.
# Everything it made is removed on every exit path: containers (a frozen one is thawed first),
# their cgroups under every /sys/fs/cgroup/* hierarchy, processes, temporary files.
set -euo pipefail
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/zdtm-lib.sh"
BUSYBOX=${BUSYBOX:-/bin/busybox}
RUNC_ROOT=/run/zdtm-probe/runc
CGROUP_PARENT=zdtm-probe
CRIU_ANNOTATION=org.criu.config

die() { printf 'zdtm-run: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/ s/^# \{0,1\}//p' "$0" | grep -v "^set -euo" >&2; exit 2; }

bin_dir=${ZDTM_BIN_DIR:-/var/tmp/migrate-zdtm/bin}
selection=$HERE/../tests/zdtm/selection.txt
opt_args='' opt_criu='' opt_caps='' logs='' step_timeout=30 runc_env=() same_bundle=0 pre_restore=
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir=$2; shift 2 ;;
    --selection) selection=$2; shift 2 ;;
    --args) opt_args=$2; shift 2 ;;
    --criu) opt_criu=$2; shift 2 ;;
    --caps) opt_caps=$2; shift 2 ;;
    --logs) logs=$2; shift 2 ;;
    --runc-env) runc_env+=("$2"); shift 2 ;;
    --same-bundle) same_bundle=1; shift ;;
    --pre-restore) pre_restore=$2; shift 2 ;;
    --timeout) step_timeout=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || usage
mode=$1 test=$2
case "$mode" in control|cr) ;; *) die "mode must be control or cr, not $mode" ;; esac
[ -x "$bin_dir/$test" ] || die "no test binary $bin_dir/$test (scripts/build-zdtm.sh)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (install busybox-static)"
[ "$(id -u)" -eq 0 ] || die "must run as root"

# The selection's columns: test args criu caps control cr   (# comment)
sel_args=- sel_criu=- sel_caps=-
[ -f "$selection" ] && read -r sel_args sel_criu sel_caps _ < <(zdtm_row "$test" "$selection")
args=${opt_args:-$sel_args} criu_opts=${opt_criu:-$sel_criu} caps=${opt_caps:-$sel_caps}

# ---------------------------------------------------------------------------------------------
# State to clean up, and the cleanup itself (EXIT trap: every path ends there).
tag=$(printf '%s' "$test" | tr -c 'a-zA-Z0-9_.+-' '_')
id_src="zp-$tag-$$-src" id_dst="zp-$tag-$$-dst"
work=''
timed_pid=''     # the timed step in progress (timeout's pid = its process group), if any
verdict='' step='' detail=''

cgroup_dirs() {  # every cgroup dir of our containers, deepest first, on every hierarchy
  local id
  for id in "$id_src" "$id_dst"; do
    find /sys/fs/cgroup/*/"$CGROUP_PARENT/$id" /sys/fs/cgroup/"$CGROUP_PARENT/$id" \
      -depth -type d 2>/dev/null || true
  done
}

cleanup() {
  local rc=$? id d p
  set +e
  trap - EXIT INT TERM
  # A step interrupted by a signal: its timeout is still our unreaped child, so its process
  # group (runc and the CRIU it started) is still ours to kill.
  [ -n "$timed_pid" ] && kill -KILL -- "-$timed_pid" 2>/dev/null
  # A hung dump leaves the container frozen: thaw it, or nothing in it can die.
  for d in $(cgroup_dirs); do
    [ -f "$d/freezer.state" ] && echo THAWED >"$d/freezer.state" 2>/dev/null
  done
  for id in "$id_src" "$id_dst"; do
    timeout -k 2 10 runc --root "$RUNC_ROOT" kill "$id" KILL >/dev/null 2>&1
    timeout -k 2 10 runc --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1
  done
  # Whatever runc did not reap (tasks CRIU restored into other cgroups, stragglers).
  for d in $(cgroup_dirs); do
    [ -f "$d/cgroup.procs" ] || continue
    for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  for _ in $(seq 50); do
    for d in $(cgroup_dirs); do rmdir "$d" 2>/dev/null; done
    [ -z "$(cgroup_dirs)" ] && break
    sleep 0.1
  done
  [ -z "$(cgroup_dirs)" ] || printf 'zdtm-run: cgroups left behind: %s\n' "$(cgroup_dirs | tr '\n' ' ')" >&2
  rmdir /sys/fs/cgroup/*/"$CGROUP_PARENT" /sys/fs/cgroup/"$CGROUP_PARENT" 2>/dev/null
  if [ -n "$work" ] && [ -d "$work" ]; then
    [ -n "$logs" ] && keep_logs
    rm -rf --one-file-system "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

keep_logs() {
  local dst=$logs/$test/$mode f
  rm -rf "$dst" && mkdir -p "$dst"
  for f in "$work"/w-src/dump.log "$work"/w-dst/restore.log "$work"/*.runc.log "$work"/*.out \
           "$work/criu.conf"; do
    [ -f "$f" ] && cp "$f" "$dst/"
  done
  for b in src dst; do
    for f in "$work/b-$b/rootfs/zdtm/$test".{out,out.inprogress,start}; do
      [ -f "$f" ] && cp "$f" "$dst/$b.$(basename "$f")"
    done
  done
  printf '%s %s %s %s: %s\n' "$test" "$mode" "$verdict" "$step" "$detail" >"$dst/result"
}

finish() {  # finish VERDICT STEP DETAIL
  verdict=$1 step=$2 detail=$3
  printf '%s %s %s %s: %s\n' "$test" "$mode" "$verdict" "$step" "$detail"
  case "$verdict" in PASS) exit 0 ;; FAIL) exit 1 ;; HANG) exit 3 ;; *) exit 4 ;; esac
}

# timed SECONDS OUTFILE CMD...: runs CMD bounded in time, its stdio on /dev/null (stdin) and
# OUTFILE; `timeout` makes CMD its own process group and kills all of it (runc and the CRIU it
# started) when time is up. Returns CMD's status, 124 on timeout.
timed() {
  local secs=$1 out=$2 rc=0
  shift 2
  timeout -k 3 "$secs" "$@" </dev/null >"$out" 2>&1 &
  timed_pid=$!
  wait "$timed_pid" || rc=$?
  timed_pid=''
  [ "$rc" -eq 137 ] && rc=124
  return "$rc"
}

# ---------------------------------------------------------------------------------------------
work=$(mktemp -d /var/tmp/zdtm-run.XXXXXX)
mkdir -p "$RUNC_ROOT"

# The CRIU options.
runc_flags=()
: >"$work/criu.conf"
echo "# zdtm-run: CRIU options for $test" >>"$work/criu.conf"
if [ "$criu_opts" != - ]; then
  IFS=, read -r -a opts <<<"$criu_opts"
  for o in "${opts[@]}"; do
    case "$o" in
      tcp-established|file-locks|ext-unix-sk) runc_flags+=("--$o") ;;
      *) echo "$o" >>"$work/criu.conf" ;;
    esac
  done
fi
# host_pid ID CONTAINER_PID: the host pid of the container's task CONTAINER_PID, among the
# container's tasks (`runc ps`).
host_pid() {
  # shellcheck disable=SC2046
  zdtm_host_pid "$2" $(timeout 10 runc --root "$RUNC_ROOT" ps --format json "$1" 2>/dev/null | jq -r '.[]')
}

# signal_and_verdict ID ZDTM_DIR: SIGTERM the test's own pid, read the outfile.
signal_and_verdict() {
  local id=$1 z=$2 cpid hpid why out
  why=$(zdtm_not_ended "$z" "$test") || finish FAIL early "$why"
  cpid=$(cat "$z/$test.pid" 2>/dev/null) || finish FAIL signal "no pidfile in the container any more"
  if ! hpid=$(host_pid "$id" "$cpid"); then
    why=$(zdtm_not_ended "$z" "$test") || finish FAIL early "$why"
    finish FAIL signal "test pid $cpid not found in container $id"
  fi
  kill -TERM "$hpid" || finish FAIL signal "kill -TERM $hpid failed"
  out=$(zdtm_result "$z" "$test" "$step_timeout") && finish PASS result "${out#PASS }"
  finish FAIL result "${out#FAIL }"
}

# after_failed_dump: what migrate's rollback does when the dump failed or was killed: thaw the
# source (a killed CRIU leaves the freezer FROZEN), then SIGTERM the test there. Prints
# "the source afterwards: PASS|FAIL ...".
after_failed_dump() {
  local d cpid hpid
  for d in $(cgroup_dirs); do
    [ -f "$d/freezer.state" ] && echo THAWED >"$d/freezer.state" 2>/dev/null
  done
  if ! cpid=$(cat "$zsrc/$test.pid" 2>/dev/null) || ! hpid=$(host_pid "$id_src" "$cpid"); then
    echo "the source afterwards: gone"
    return 0
  fi
  kill -TERM "$hpid" 2>/dev/null
  echo "the source afterwards: $(zdtm_result "$zsrc" "$test" "$step_timeout")"
}

criu_errors() {  # criu_errors LOG: CRIU's error lines, briefly
  grep -E 'Error|error' "$1" 2>/dev/null | grep -v 'RLIMIT_NOFILE' | tail -n 4 |
    sed -E 's/^\([0-9. ]+\) //' | tr '\n' ' ' | cut -c1-600
}

# ---------------------------------------------------------------------------------------------
src=$work/b-src
zdtm_make_bundle "$src" "$test" "/$CGROUP_PARENT/$id_src" "$args" "$caps" "$bin_dir" "$work/criu.conf"
zsrc=$src/rootfs/zdtm

# stdio on /dev/null: the container inherits it (errors go to runc's --log).
if ! timed "$step_timeout" /dev/null \
     runc --root "$RUNC_ROOT" --log "$work/run.runc.log" run -d --bundle "$src" "$id_src"; then
  finish ERROR start "runc run failed: $(tail -n 3 "$work/run.runc.log" 2>/dev/null | tr '\n' ' ' | cut -c1-400)"
fi
why=$(zdtm_wait_ready "$zsrc" "$test" "$step_timeout") || finish FAIL start "$why"

if [ "$mode" = control ]; then
  sleep 1
  signal_and_verdict "$id_src" "$zsrc"
fi

# cr: checkpoint, restore a copy as a new container, then the verdict.
sleep 0.3
img=$work/img
mkdir -p "$img" "$work/w-src" "$work/w-dst"
rc=0
timed "$step_timeout" "$work/checkpoint.out" \
  env "${runc_env[@]}" runc --root "$RUNC_ROOT" --log "$work/checkpoint.runc.log" checkpoint \
  --image-path "$img" --work-path "$work/w-src" --manage-cgroups-mode soft "${runc_flags[@]}" \
  "$id_src" || rc=$?
if [ "$rc" -eq 124 ]; then
  # timed() killed runc and CRIU; their process group is gone before the thaw.
  hung="runc checkpoint did not finish in $step_timeout s (killed; dump.log ends: $(tail -n 2 "$work/w-src/dump.log" 2>/dev/null | sed -E 's/^\([0-9. ]+\) //' | tr '\n' ' ' | cut -c1-300))"
  finish HANG checkpoint "$hung; $(after_failed_dump)"
elif [ "$rc" -ne 0 ]; then
  finish ERROR checkpoint "runc checkpoint exit $rc: $(criu_errors "$work/w-src/dump.log"); $(after_failed_dump)"
fi

dst=$work/b-dst
if [ "$same_bundle" = 1 ]; then
  dst=$src
else
  cp -a "$src" "$dst"
fi
jq --arg cg "/$CGROUP_PARENT/$id_dst" '.linux.cgroupsPath = $cg' "$dst/config.json" >"$dst/config.json.new"
mv "$dst/config.json.new" "$dst/config.json"
if [ -n "$pre_restore" ]; then
  ZDTM_BUNDLE=$dst ZDTM_IMAGES=$img sh -c "$pre_restore" || finish ERROR pre-restore "exit $?: $pre_restore"
fi
rc=0
timed "$step_timeout" "$work/restore.out" \
  env "${runc_env[@]}" runc --root "$RUNC_ROOT" --log "$work/restore.runc.log" restore -d \
  --image-path "$img" --work-path "$work/w-dst" --bundle "$dst" --manage-cgroups-mode soft \
  "${runc_flags[@]}" "$id_dst" || rc=$?
if [ "$rc" -eq 124 ]; then
  finish HANG restore "runc restore did not finish in $step_timeout s (killed; restore.log ends: $(tail -n 2 "$work/w-dst/restore.log" 2>/dev/null | sed -E 's/^\([0-9. ]+\) //' | tr '\n' ' ' | cut -c1-300))"
elif [ "$rc" -ne 0 ]; then
  finish ERROR restore "runc restore exit $rc: $(criu_errors "$work/w-dst/restore.log")"
fi
sleep 0.3
signal_and_verdict "$id_dst" "$dst/rootfs/zdtm"
