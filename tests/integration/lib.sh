# Shared helpers of the migration tests: real agents on the two test hosts
# (scripts/test-hosts.sh), real runc + CRIU containers, the real `migrate` CLI.
# Each test script sources this file, creates its own containers (unique ids) and removes
# them on exit, whatever happened.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TH="$REPO/scripts/test-hosts.sh"
SAMPLE="$REPO/scripts/sample-container.sh"
: "${MIGRATE_BIN:?MIGRATE_BIN must name the migrate binary}"
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
eval "$("$TH" env)"

TEST_NAME=$(basename "$0" .sh)
CREATED=()  # "host id" pairs to remove at exit

log() { printf '[%s +%ss] %s\n' "$TEST_NAME" "$SECONDS" "$*" >&2; }
fail() { printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2; exit 1; }
# A command that ends a test through `set -e` says where and what (a bare exit hides why).
# Only where errexit is on: a `set +e` section tests exit codes itself.
on_error() {
  local rc=$?
  [[ $- == *e* ]] || return 0
  printf '[%s] FAIL: %s line %s: `%s` exited %s (in %s)\n' "$TEST_NAME" "${BASH_SOURCE[1]##*/}" \
    "${BASH_LINENO[0]}" "$BASH_COMMAND" "$rc" "${FUNCNAME[*]:1}" >&2
}
set -E
trap on_error ERR

# A host's runtime and its root, as its agent is configured now (test-hosts.sh use-runtime
# changes them).
agent_field() { jq -r ".$2 // \"\"" "$(dirname "$MIGRATE_HOSTS")/$1/agent.json"; }
runc_root() { agent_field "$1" runc_root; }
runtime_of() { agent_field "$1" runtime_path; }
rt() { local host=$1; shift; "$(runtime_of "$host")" --root "$(runc_root "$host")" "$@"; }
state_dir() { case $1 in host-a) echo "$HOST_A_STATE_DIR" ;; host-b) echo "$HOST_B_STATE_DIR" ;; esac; }
bundles_dir() { case $1 in host-a) echo "$HOST_A_BUNDLES" ;; host-b) echo "$HOST_B_BUNDLES" ;; esac; }
netns_path() { case $1 in host-a) echo "$HOST_A_NETNS" ;; host-b) echo "$HOST_B_NETNS" ;; esac; }

cleanup_containers() {
  local pair host id root
  # A test that failed while a watcher sampled: the watcher must not outlive it.
  [ -z "${WATCHER:-}" ] || kill "$WATCHER" 2>/dev/null || true
  for pair in "${CREATED[@]}"; do
    read -r host id <<<"$pair"
    for h in host-a host-b; do
      root=$(runc_root "$h")
      # runc and crun keep a folder per container in their root: none, nothing to remove.
      [ -e "$root/$id" ] && { RUNTIME=$(runtime_of "$h") "$SAMPLE" remove "$id" "$root" || true; }
      rm -rf "$(state_dir "$h")/containers/$id"
    done
    rm -rf "$(bundles_dir "$host")/$id"
  done
}
trap cleanup_containers EXIT

# start_counter HOST ID: a counting busybox container under cgroup /<host>/<id>.
start_counter() {
  CREATED+=("$1 $2")
  RUNTIME=$(runtime_of "$1") "$SAMPLE" start "$2" "$(runc_root "$1")" "$(bundles_dir "$1")/$2" "/$1/$2" >&2
}

# container_status HOST ID: the runtime's status word, or "absent".
container_status() {
  rt "$1" state "$2" 2>/dev/null | jq -r .status || echo absent
}
container_pid() { rt "$1" state "$2" | jq -r .pid; }
container_bundle() { rt "$1" state "$2" | jq -r .bundle; }
count_of() { cat "$(container_bundle "$1" "$2")/rootfs/count"; }

# expect_counting HOST ID MIN: the container runs on HOST, its count is >= MIN and grows.
expect_counting() {
  local host=$1 id=$2 min=$3 status first now i
  status=$(container_status "$host" "$id")
  [ "$status" = running ] || fail "$id on $host is '$status', expected running"
  first=$(count_of "$host" "$id")
  [ "$first" -ge "$min" ] || fail "$id on $host counts $first, expected >= $min (count restarted?)"
  for i in $(seq 100); do
    now=$(count_of "$host" "$id")
    [ "$now" -gt "$first" ] && { log "$id on $host counts on: $first -> $now"; return 0; }
    sleep 0.05
  done
  fail "$id on $host does not count any more (stuck at $first)"
}

# expect_absent HOST ID
expect_absent() {
  local status
  status=$(container_status "$1" "$2")
  [ "$status" = absent ] || fail "$2 still exists on $1 ($status)"
}

# expect_cgroup HOST ID PATH: every v1 controller of the container's init is PATH.
expect_cgroup() {
  local pid line path
  pid=$(container_pid "$1" "$2")
  while IFS= read -r line; do
    path=${line#*:*:}
    case "$line" in
      0::*) continue ;;  # the unified hierarchy of a hybrid host is not managed by runc here
    esac
    [ "$path" = "$3" ] || fail "$2 (pid $pid) in cgroup '$line', expected $3"
  done </proc/"$pid"/cgroup
  log "$2 on $1: every controller at $3"
}

# expect_loopback HOST ID: lo is UP with 127.0.0.1 inside the container.
expect_loopback() {
  local pid out
  pid=$(container_pid "$1" "$2")
  out=$(nsenter --net="/proc/$pid/ns/net" ip -4 addr show dev lo)
  grep -q 'state UP\|,UP' <<<"$out" || fail "$2 on $1: loopback down: $out"
  grep -q 'inet 127.0.0.1/8' <<<"$out" || fail "$2 on $1: no 127.0.0.1 on lo: $out"
}

# migrate_command_json COMMAND ARGS...: runs `migrate COMMAND ARGS --output json`; sets REPORT
# and RC (its stderr in $TEST_TMP/migrate.err).
migrate_command_json() {
  local command=$1
  shift
  set +e
  REPORT=$("$MIGRATE_BIN" "$command" "$@" --output json 2>"$TEST_TMP/migrate.err")
  RC=$?
  set -e
  log "migrate $command $* -> exit $RC"
  [ -n "$REPORT" ] && jq -c . <<<"$REPORT" >&2 || cat "$TEST_TMP/migrate.err" >&2
}
# migrate_json ARGS...: `migrate container ARGS --output json` (migrate_command_json).
migrate_json() { migrate_command_json container "$@"; }

report() { jq -r "$1" <<<"$REPORT"; }

# slow_data_link / fast_data_link: throttle host-a's side of the data link (tbf), so that a
# transfer lasts long enough to be cut, and lift it again.
NS_A=$(basename "$HOST_A_NETNS")
NS_B=$(basename "$HOST_B_NETNS")
slow_data_link() { ip netns exec "$NS_A" tc qdisc add dev mig-data-a root tbf rate 400kbit burst 16kbit latency 2s; }
fast_data_link() { ip netns exec "$NS_A" tc qdisc del dev mig-data-a root 2>/dev/null || true; }

# migrate_json_frozen ID SRC DST ARGS... : starts the migration in the background and returns
# once the source is frozen (CRIU writing images); migrate_json_wait then sets RC and REPORT.
migrate_json_frozen() {
  local known
  known=$(migration_dirs "$2")
  ( migrate_json "$@"; echo "$RC" >"$TEST_TMP/rc"; echo "$REPORT" >"$TEST_TMP/report" ) &
  BACKGROUND_MIGRATION=$!
  wait_for_freeze "$2" "$known"
}
# migrate_json_held ID SRC DST ARGS...: as migrate_json_frozen, and holds the source's
# `runc checkpoint` (hold) the moment the container is frozen: its pid is found when the dump
# starts, before the freeze, so that even a quick dump cannot end before it is held.
migrate_json_held() {
  local known pid
  known=$(migration_dirs "$2")
  ( migrate_json "$@"; echo "$RC" >"$TEST_TMP/rc"; echo "$REPORT" >"$TEST_TMP/report" ) &
  BACKGROUND_MIGRATION=$!
  pid=$(find_pid "checkpoint .*$1\$") || exit 1  # find_pid said why
  wait_for_freeze "$2" "$known"
  hold_pid "$pid" "runc checkpoint of $1"
}
migrate_json_wait() {
  wait "$BACKGROUND_MIGRATION" || true
  RC=$(cat "$TEST_TMP/rc")
  REPORT=$(cat "$TEST_TMP/report")
}

# hold PATTERN: freezes the first process matching PATTERN (pgrep -f, polling for up to 10 s)
# in a frozen cgroup of its own, so that a dump or restore outlives an agent's stop;
# held_continue thaws it, moves it back to its freezer cgroup and removes the frozen one.
# Holding `runc checkpoint` holds the dump deterministically: CRIU waits for runc's answer to
# its post-dump notification (and runc lives until the dump's end), however fast CRIU writes.
# Not SIGSTOP: when the agent dies, runc's process group is orphaned, and the kernel kills an
# orphaned group that holds a stopped process (SIGHUP).
HELD=()  # "pid original-freezer-cgroup" pairs
HOLD_CGROUP=/sys/fs/cgroup/freezer/migrate-test-hold-$$
hold() {
  local p
  p=$(find_pid "$1") || exit 1  # find_pid said why
  hold_pid "$p" "$1"
}
# find_pid PATTERN: the first process matching PATTERN (polling for up to 10 s).
find_pid() {
  local p i
  for i in $(seq 2000); do
    p=$(pgrep -f "$1" | head -n 1 || true)
    if [ -n "$p" ]; then echo "$p"; return 0; fi
    sleep 0.005
  done
  fail "no process matching '$1' to hold"
}
# hold_pid PID WHAT: freezes PID (found earlier, so that nothing is lost looking for it).
hold_pid() {
  local p=$1 i from
  from=$(sed -n 's/^[0-9]*:freezer://p' "/proc/$p/cgroup" 2>/dev/null) || true
  mkdir -p "$HOLD_CGROUP"
  echo "$p" >"$HOLD_CGROUP/cgroup.procs" 2>/dev/null || fail "pid $p ($2) ended before it was held"
  HELD+=("$p $from")
  echo FROZEN >"$HOLD_CGROUP/freezer.state"
  for i in $(seq 200); do [ "$(cat "$HOLD_CGROUP/freezer.state")" = FROZEN ] && break; sleep 0.01; done
  log "held pid $p ($2) in a frozen cgroup"
}
held_continue() {
  local entry i
  [ -d "$HOLD_CGROUP" ] || { HELD=(); return 0; }
  echo THAWED >"$HOLD_CGROUP/freezer.state"
  for entry in "${HELD[@]}"; do
    echo "${entry%% *}" >"/sys/fs/cgroup/freezer${entry#* }/cgroup.procs" 2>/dev/null || true
  done
  HELD=()
  for i in $(seq 100); do rmdir "$HOLD_CGROUP" 2>/dev/null && return 0; sleep 0.05; done
  log "WARNING: $HOLD_CGROUP still holds $(tr '\n' ' ' <"$HOLD_CGROUP/cgroup.procs")"
}

# migration_dirs HOST: the agent's migration folders on HOST, one per line.
migration_dirs() { ls -1 "$(state_dir "$1")/migrations" 2>/dev/null || true; }

# wait_for_freeze HOST KNOWN_DIRS: waits until a migration folder of HOST that is not in
# KNOWN_DIRS (taken before the migration started) holds a CRIU image: the container is frozen.
wait_for_freeze() {
  local host=$1 known=$2 d i
  for i in $(seq 3000); do
    for d in $(migration_dirs "$host"); do
      grep -qx "$d" <<<"$known" && continue
      if ls "$(state_dir "$host")/migrations/$d/images/"*.img >/dev/null 2>&1; then
        log "frozen on $host: migration $d is writing images"
        return 0
      fi
    done
    sleep 0.01
  done
  fail "no checkpoint started on $host within 30 s"
}

TEST_TMP=$(mktemp -d)
trap 'cleanup_containers; rm -rf "$TEST_TMP"' EXIT

# api HOST PATH REQUEST_TYPE TEXT RESPONSE_TYPE: one raw call of the agent API as the
# controller would make it (protobuf text format in, decoded text out), for tests that play a
# controller that died half-way. Sets API_STATUS (the HTTP status) and API_OUT.
api() {
  local host=$1 path=$2 req_type=$3 text=$4 resp_type=$5 dir ip
  dir=$(dirname "$MIGRATE_HOSTS")
  ip=$(jq -r --arg h "$host" '.hosts[] | select(.name == $h) | .address' "$MIGRATE_HOSTS")
  printf '%s' "$text" | protoc -I "$REPO" --encode="migrate.proto.$req_type" \
    "$REPO/proto/agent_api.proto" >"$TEST_TMP/api.req"
  API_STATUS=$(curl -s -o "$TEST_TMP/api.resp" -w '%{http_code}' --max-time 120 \
    --cacert "$dir/pki/controller/ca.pem" --cert "$dir/pki/controller/cert.pem" \
    --key "$dir/pki/controller/key.pem" -H 'Content-Type: application/x-protobuf' \
    --data-binary @"$TEST_TMP/api.req" "https://$ip:7443$path")
  [ "$API_STATUS" = 200 ] || resp_type=ApiError
  API_OUT=$(protoc -I "$REPO" --decode="migrate.proto.$resp_type" "$REPO/proto/agent_api.proto" \
    <"$TEST_TMP/api.resp" 2>&1 || true)
  log "api $host $path -> $API_STATUS: $(tr '\n' ' ' <<<"$API_OUT")"
}

# expect_memory_intact HOST ID: a SAMPLE_MEMORY_MIB container's memory checksum, taken now
# (SIGUSR1), equals the one it took at start.
expect_memory_intact() {
  local host=$1 id=$2 rootfs i
  rootfs="$(container_bundle "$host" "$id")/rootfs"
  rm -f "$rootfs/memsum"
  rt "$host" kill "$id" USR1
  for i in $(seq 200); do [ -s "$rootfs/memsum" ] && break; sleep 0.05; done
  [ -s "$rootfs/memsum" ] || fail "$id on $host did not checksum its memory"
  cmp -s "$rootfs/memsum" "$rootfs/memsum.start" ||
    fail "$id on $host: memory changed ($(cat "$rootfs/memsum.start") -> $(cat "$rootfs/memsum"))"
  log "$id on $host: memory intact ($(cut -c1-12 "$rootfs/memsum"))"
}

# start_watcher ID / stop_watcher: samples both hosts every 100 ms while a test runs;
# stop_watcher fails the test if any sample found the container running on both.
start_watcher() {
  local id=$1
  (
    trap 'exit 0' TERM
    while :; do
      echo "$(date +%s.%N) $(container_status host-a "$id") $(container_status host-b "$id")"
      sleep 0.1
    done
  ) >"$TEST_TMP/watch.log" 2>/dev/null &
  WATCHER=$!
}
stop_watcher() {
  [ -n "${WATCHER:-}" ] || return 0
  kill "$WATCHER" 2>/dev/null || true
  wait "$WATCHER" 2>/dev/null || true
  WATCHER=
  local both samples
  both=$(awk '$2 == "running" && $3 == "running"' "$TEST_TMP/watch.log" | head -n 3)
  [ -z "$both" ] || fail "two copies ran at once: $both"
  samples=$(wc -l <"$TEST_TMP/watch.log")
  [ "$samples" -ge 2 ] || fail "the watcher took only $samples samples"
  log "watcher: $samples samples, never two copies at once"
}

# running_host ID: the one host where the container runs (fails if none or both).
running_host() {
  local a b
  a=$(container_status host-a "$1")
  b=$(container_status host-b "$1")
  if [ "$a" = running ] && [ "$b" != running ]; then echo host-a
  elif [ "$b" = running ] && [ "$a" != running ]; then echo host-b
  else fail "$1 runs on host-a: $a, host-b: $b (exactly one expected)"
  fi
}

# journal_field HOST MIGRATION FIELD: a field of the agent's journal record ("" if none).
journal_field() {
  local record
  record="$(state_dir "$1")/migrations/$2/journal.pb"
  [ -f "$record" ] || return 0
  protoc -I "$REPO" --decode=migrate.proto.MigrationRecord "$REPO/proto/agent_state.proto" \
    <"$record" | sed -n "s/^$3: //p" | tr -d '"'
}
journal_phase() { journal_field "$1" "$2" phase | sed 's/^PHASE_//'; }

# expect_nothing_left ID: no staging, no images of an ended migration, nothing frozen, and
# no cgroup of the container under the cgroup parent of the host where it does not run.
expect_nothing_left() {
  local id=$1 runs h d phase
  runs=$(running_host "$id")
  for h in host-a host-b; do
    d="$(state_dir "$h")/staging"
    if [ -d "$d" ] && [ -n "$(ls -A "$d")" ]; then fail "staging left on $h: $(ls -A "$d")"; fi
    for d in $(migration_dirs "$h"); do
      [ "$(journal_field "$h" "$d" container_id)" = "$id" ] || continue
      phase=$(journal_phase "$h" "$d")
      case "$phase" in
        COMMITTED | ROLLED_BACK)
          [ -e "$(state_dir "$h")/migrations/$d/images" ] && fail "images of ended migration $d left on $h"
          ;;
        *) fail "migration $d on $h is still $phase" ;;
      esac
    done
    [ "$(container_status "$h" "$id")" = paused ] && fail "$id left frozen on $h"
    if [ "$h" != "$runs" ]; then
      [ "$(container_status "$h" "$id")" = absent ] || fail "$id still exists on $h ($(container_status "$h" "$id"))"
      for d in /sys/fs/cgroup/*/migrate-"$h"/"$id"; do
        [ -d "$d" ] && fail "cgroup $d left on $h"
      done
    fi
  done
  log "$id: runs on $runs only; nothing of its migrations left"
}
