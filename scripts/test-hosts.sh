#!/usr/bin/env bash
# Two test hosts on one machine, for demos and migration tests:
#
#   host-a, host-b  network namespaces "migrate-host-a" / "migrate-host-b", joined by a veth
#                   pair (the data network, 198.18.0.1 <-> 198.18.0.2), each also linked to
#                   the root namespace by a veth of its own (the management network through
#                   which the controller reaches the agents: 198.18.1.2 and 198.18.2.2).
#                   198.18.0.0/15 is reserved for network testing (RFC 2544); every address
#                   lives only inside namespaces this script creates.
#   per host        a migrate-agent (own certificate, state directory, runc root, cgroup
#                   parent), started inside the host's network namespace, its Prometheus
#                   metrics on 127.0.0.1:9464 of that namespace.
#   controller      a controller certificate and an inventory file (hosts.json).
#
#   test-hosts.sh up     create everything (fails if already up; run `down` first)
#   test-hosts.sh env    print shell assignments: MIGRATE_HOSTS, HOST_A_RUNC_ROOT, ...
#   test-hosts.sh down   remove everything it made (containers, agents, namespaces, cgroups)
#   test-hosts.sh status
#   test-hosts.sh metrics HOST         print a host's metrics (GET /metrics on its loopback)
#   test-hosts.sh kill-agent HOST      SIGKILL a host's agent (failure tests)
#   test-hosts.sh restart-agent HOST   (re)start a host's agent and wait until it listens
#   test-hosts.sh stop-agent HOST [SIGNAL]   stop it with SIGNAL (default TERM), wait until gone
#   test-hosts.sh start-agent HOST     start it (environment passed through) and wait for it
#   test-hosts.sh use-runtime HOST RUNTIME [CRIU]   restart a host's agent with another runtime
#                                      binary (and CRIU binary), each runtime with its own root
#   test-hosts.sh use-policy HOST FILE|-   restart a host's agent with FILE (JSON) as its
#                                      received_containers policy; '-': the default (empty) one
#
# Environment of `up`: HOST_A_RUNTIME, HOST_B_RUNTIME (runtime binaries, runc or crun; default
# Debian's runc from PATH), HOST_A_CRIU, HOST_B_CRIU (CRIU binaries; default criu from PATH).
#
# Environment: TEST_HOSTS_DIR (default /run/migrate-test-hosts), MIGRATE_BUILD_DIR (default
# build), MIGRATE_AGENT / MIGRATE_BIN (binaries; default from the build directory).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
DIR=${TEST_HOSTS_DIR:-/run/migrate-test-hosts}
BUILD=${MIGRATE_BUILD_DIR:-build}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
AGENT_BIN=${MIGRATE_AGENT:-$BUILD/agent/migrate-agent}
MIGRATE_BIN=${MIGRATE_BIN:-$BUILD/controller/migrate}
HOSTS=(host-a host-b)
API_PORT=7443
DATA_PORT=7444
METRICS_LISTEN=127.0.0.1:9464  # inside each host's namespace: loopback only
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

log() { printf 'test-hosts: %s\n' "$*" >&2; }
die() { printf 'test-hosts: error: %s\n' "$*" >&2; exit 1; }

netns_of() { echo "migrate-$1"; }
upper() { echo "$1" | tr 'a-z-' 'A-Z_'; }
data_ip() { case $1 in host-a) echo 198.18.0.1 ;; host-b) echo 198.18.0.2 ;; esac; }
mgmt_ip() { case $1 in host-a) echo 198.18.1.2 ;; host-b) echo 198.18.2.2 ;; esac; }
mgmt_root_ip() { case $1 in host-a) echo 198.18.1.1 ;; host-b) echo 198.18.2.1 ;; esac; }
mgmt_root_if() { case $1 in host-a) echo mig-mgmt-a ;; host-b) echo mig-mgmt-b ;; esac; }
# Cgroups: containers started on a host live under /<host>/<id>; the agent rebuilds restored
# containers' cgroups (ignore mode) under /migrate-<host>/<id>.
cgroup_parent() { echo "/migrate-$1"; }

# The runtime's own root on a host: one per runtime binary, so that they never share state.
runtime_root() {  # host runtime
  case "$2" in
    runc) echo "$DIR/$1/runc" ;;
    *) echo "$DIR/$1/root-$(basename "$(dirname "$2")")-$(basename "$2")" ;;
  esac
}
agent_field() { jq -r ".$2 // \"\"" "$DIR/$1/agent.json"; }

cmd_env() {
  [ -f "$DIR/hosts.json" ] || die "test hosts are not up (no $DIR/hosts.json)"
  echo "export MIGRATE_HOSTS=$DIR/hosts.json"
  local h H
  for h in "${HOSTS[@]}"; do
    H=$(upper "$h")
    echo "export ${H}_RUNC_ROOT=$(agent_field "$h" runc_root)"
    echo "export ${H}_RUNTIME=$(agent_field "$h" runtime_path)"
    echo "export ${H}_CRIU=$(agent_field "$h" criu_path)"
    echo "export ${H}_NETNS=/run/netns/$(netns_of "$h")"
    echo "export ${H}_STATE_DIR=$DIR/$h/state"
    echo "export ${H}_BUNDLES=$DIR/$h/bundles"
    echo "export ${H}_CGROUP_PREFIX=/$h"
    echo "export ${H}_METRICS=http://$(agent_field "$h" metrics_listen)/metrics"
  done
}

wait_for_port() {  # ip port seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    if timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

start_agent() {
  log "agent $1: starting in namespace $(netns_of "$1")"
  # setsid: the agent outlives this script; its log is $DIR/<host>/agent.log.
  nsenter --net="/run/netns/$(netns_of "$1")" setsid "$AGENT_BIN" serve --config "$DIR/$1/agent.json" \
    </dev/null >>"$DIR/$1/agent.log" 2>&1 &
  echo $! >"$DIR/$1/agent.pid"
}

stop_agent() {  # host signal [seconds to wait before SIGKILL, default 5]
  local pid
  [ -f "$DIR/$1/agent.pid" ] || return 0
  pid=$(cat "$DIR/$1/agent.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$2" "$pid" 2>/dev/null || true
    for _ in $(seq $((${3:-5} * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$DIR/$1/agent.pid"
}

check_host() { case " ${HOSTS[*]} " in *" $1 "*) ;; *) die "no test host '$1' (hosts: ${HOSTS[*]})" ;; esac; }

# Simulates a crash (SIGKILL), for failure tests.
cmd_kill_agent() {
  check_host "$1"
  stop_agent "$1" KILL
  log "agent $1 killed"
}

cmd_restart_agent() {
  check_host "$1"
  [ -f "$DIR/$1/agent.json" ] || die "test hosts are not up"
  stop_agent "$1" TERM
  cmd_start_agent "$1"
}

# Stops a host's agent with SIGNAL (default TERM: a graceful stop, given up to 60 s to end
# what it is doing), for fault tests.
cmd_stop_agent() {
  check_host "$1"
  stop_agent "$1" "${2:-TERM}" 60
  log "agent $1 stopped (${2:-TERM})"
}

# Starts a host's agent (its environment passes through, e.g. MIGRATE_FAILPOINTS) and waits
# until it listens: it has recovered its journal by then.
cmd_start_agent() {
  check_host "$1"
  [ -f "$DIR/$1/agent.json" ] || die "test hosts are not up"
  start_agent "$1"
  wait_for_port "$(mgmt_ip "$1")" "$API_PORT" 120 || die "agent $1 did not come up (log: $DIR/$1/agent.log)"
  log "agent $1 started"
}

# write_agent_config HOST RUNTIME CRIU: the host's agent.json, with the runtime's own root;
# every (runtime, root) pair a host ever used is listed in <host>/roots for `down`.
write_agent_config() {
  local h=$1 runtime=$2 criu=$3 root
  root=$(runtime_root "$h" "$runtime")
  mkdir -p "$root"
  grep -qxF "$runtime $root" "$DIR/$h/roots" 2>/dev/null || echo "$runtime $root" >>"$DIR/$h/roots"
  cat >"$DIR/$h/agent.json" <<JSON
{
  "node_name": "$h",
  "listen_address": "0.0.0.0",
  "api_port": $API_PORT,
  "data_port": $DATA_PORT,
  "ca_file": "$DIR/pki/$h/ca.pem",
  "cert_file": "$DIR/pki/$h/cert.pem",
  "key_file": "$DIR/pki/$h/key.pem",
  "state_dir": "$DIR/$h/state",
  "runc_root": "$root",
  "runtime_path": "$runtime",
  "criu_path": "$criu",
  "cgroup_parent": "$(cgroup_parent "$h")",
  "log_level": "${TEST_HOSTS_LOG_LEVEL:-info}",
  "metrics_listen": "$METRICS_LISTEN"
}
JSON
  if [ -f "$DIR/$h/received_containers.json" ]; then
    jq --slurpfile p "$DIR/$h/received_containers.json" '.received_containers = $p[0]' \
      "$DIR/$h/agent.json" >"$DIR/$h/agent.json.new"
    mv "$DIR/$h/agent.json.new" "$DIR/$h/agent.json"
  fi
}

# Restarts a host's agent with another runtime binary (and CRIU binary, default criu).
cmd_use_runtime() {
  check_host "$1"
  [ -n "${2:-}" ] || die "use-runtime HOST RUNTIME [CRIU]"
  [ -f "$DIR/$1/agent.json" ] || die "test hosts are not up"
  stop_agent "$1" TERM
  write_agent_config "$1" "$2" "${3:-criu}"
  cmd_start_agent "$1"
  log "agent $1 now uses $2 (CRIU ${3:-criu})"
}

# Restarts a host's agent with another policy for received containers (kept across use-runtime
# in <host>/received_containers.json); '-' goes back to the agent's default.
cmd_use_policy() {
  check_host "$1"
  [ -n "${2:-}" ] || die "use-policy HOST FILE|-"
  [ -f "$DIR/$1/agent.json" ] || die "test hosts are not up"
  if [ "$2" = - ]; then
    rm -f "$DIR/$1/received_containers.json"
  else
    jq -e 'type == "object"' "$2" >/dev/null || die "$2: not a JSON object"
    jq . "$2" >"$DIR/$1/received_containers.json"
  fi
  stop_agent "$1" TERM
  write_agent_config "$1" "$(agent_field "$1" runtime_path)" "$(agent_field "$1" criu_path)"
  cmd_start_agent "$1"
  log "agent $1 now has received_containers $(jq -c . "$DIR/$1/received_containers.json" 2>/dev/null || echo '{} (default)')"
}

cmd_up() {
  [ -x "$AGENT_BIN" ] || die "$AGENT_BIN not built (run scripts/build.sh)"
  [ -x "$MIGRATE_BIN" ] || die "$MIGRATE_BIN not built (run scripts/build.sh)"
  [ -e "$DIR/hosts.json" ] && die "already up ($DIR); run '$0 down' first"
  local h
  for h in "${HOSTS[@]}"; do
    grep -qw "$(netns_of "$h")" <<<"$(ip netns list)" && die "network namespace $(netns_of "$h") exists; run '$0 down'"
  done
  mkdir -p "$DIR"
  # Everything made from here on is removed by `down`, also when `up` fails half-way.
  trap 'log "up failed: cleaning up"; cmd_down >/dev/null 2>&1 || true' ERR

  log "network: namespaces, data link, management links"
  for h in "${HOSTS[@]}"; do
    ip netns add "$(netns_of "$h")"
    ip -n "$(netns_of "$h")" link set lo up
  done
  ip link add mig-data-a netns "$(netns_of host-a)" type veth peer name mig-data-b netns "$(netns_of host-b)"
  for h in "${HOSTS[@]}"; do
    local ns dev
    ns=$(netns_of "$h")
    dev=mig-data-${h#host-}
    ip -n "$ns" addr add "$(data_ip "$h")/30" dev "$dev"
    ip -n "$ns" link set "$dev" up
    ip link add "$(mgmt_root_if "$h")" type veth peer name mgmt0 netns "$ns"
    ip addr add "$(mgmt_root_ip "$h")/30" dev "$(mgmt_root_if "$h")"
    ip link set "$(mgmt_root_if "$h")" up
    ip -n "$ns" addr add "$(mgmt_ip "$h")/30" dev mgmt0
    ip -n "$ns" link set mgmt0 up
  done

  log "certificates: cluster CA, one per host, one for the controller"
  mkdir -p "$DIR/pki"
  "$MIGRATE_BIN" certs ca --out "$DIR/pki/ca" >/dev/null
  for h in "${HOSTS[@]}"; do
    "$MIGRATE_BIN" certs issue --ca-dir "$DIR/pki/ca" --name "$h" --role node \
      --ip "$(mgmt_ip "$h")" --ip "$(data_ip "$h")" --out "$DIR/pki/$h" >/dev/null
  done
  "$MIGRATE_BIN" certs issue --ca-dir "$DIR/pki/ca" --name controller --role controller \
    --out "$DIR/pki/controller" >/dev/null

  for h in "${HOSTS[@]}"; do
    mkdir -p "$DIR/$h"/{state,bundles}
    local runtime_var criu_var
    runtime_var="$(upper "$h")_RUNTIME"
    criu_var="$(upper "$h")_CRIU"
    write_agent_config "$h" "${!runtime_var:-runc}" "${!criu_var:-criu}"
    start_agent "$h"
  done

  cat >"$DIR/hosts.json" <<JSON
{
  "controller": {
    "ca": "pki/controller/ca.pem",
    "cert": "pki/controller/cert.pem",
    "key": "pki/controller/key.pem"
  },
  "hosts": [
    { "name": "host-a", "address": "$(mgmt_ip host-a)", "port": $API_PORT, "data_address": "$(data_ip host-a)" },
    { "name": "host-b", "address": "$(mgmt_ip host-b)", "port": $API_PORT, "data_address": "$(data_ip host-b)" }
  ]
}
JSON
  for h in "${HOSTS[@]}"; do
    if ! wait_for_port "$(mgmt_ip "$h")" "$API_PORT" 20; then
      tail -n 20 "$DIR/$h/agent.log" >&2 || true
      die "agent $h did not come up (log: $DIR/$h/agent.log)"
    fi
  done
  trap - ERR
  log "up: inventory $DIR/hosts.json; eval \"\$($0 env)\" for the variables"
}

remove_cgroup_tree() {  # cgroup path, e.g. /host-a
  local mount dir
  for mount in /sys/fs/cgroup/* /sys/fs/cgroup/unified; do
    dir="$mount$1"
    [ -d "$dir" ] || continue
    # Deepest first; a cgroup with live tasks cannot go (reported, not fatal).
    find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    [ -d "$dir" ] && log "warning: cgroup $dir still in use"
  done
  return 0
}

cmd_down() {
  local h id
  local runtime root
  for h in "${HOSTS[@]}"; do
    stop_agent "$h" TERM
    [ -f "$DIR/$h/roots" ] || continue
    while read -r runtime root; do
      for id in $(ls "$root" 2>/dev/null); do
        "$runtime" --root "$root" kill "$id" KILL 2>/dev/null || true
        "$runtime" --root "$root" delete -f "$id" 2>/dev/null || true
      done
    done <"$DIR/$h/roots"
  done
  for h in "${HOSTS[@]}"; do
    ip netns del "$(netns_of "$h")" 2>/dev/null || true
    ip link del "$(mgmt_root_if "$h")" 2>/dev/null || true
  done
  for h in "${HOSTS[@]}"; do
    remove_cgroup_tree "/$h"
    remove_cgroup_tree "$(cgroup_parent "$h")"
  done
  case "$DIR" in
    /|"") die "refusing to remove '$DIR'" ;;
  esac
  # A CRIU killed mid-restore leaves its cgroup yard (and runc its criu-root) mounted.
  awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$DIR"
  log "down"
}

# The host's metrics, scraped inside its namespace (the listener is on its loopback).
cmd_metrics() {
  check_host "$1"
  [ -f "$DIR/$1/agent.json" ] || die "test hosts are not up"
  nsenter --net="/run/netns/$(netns_of "$1")" \
    curl -sSf --max-time 10 "http://$(agent_field "$1" metrics_listen)/metrics"
}

cmd_status() {
  local h pid
  [ -f "$DIR/hosts.json" ] || { echo "down"; return 0; }
  for h in "${HOSTS[@]}"; do
    pid=$(cat "$DIR/$h/agent.pid" 2>/dev/null || echo "")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "$h: agent pid $pid, api $(mgmt_ip "$h"):$API_PORT, data $(data_ip "$h"):$DATA_PORT"
    else
      echo "$h: agent NOT running (log: $DIR/$h/agent.log)"
    fi
    "$(agent_field "$h" runtime_path)" --root "$(agent_field "$h" runc_root)" list 2>/dev/null | sed 's/^/  /'
  done
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  metrics) cmd_metrics "${2:-}" ;;
  kill-agent) cmd_kill_agent "${2:-}" ;;
  restart-agent) cmd_restart_agent "${2:-}" ;;
  stop-agent) cmd_stop_agent "${2:-}" "${3:-TERM}" ;;
  start-agent) cmd_start_agent "${2:-}" ;;
  use-runtime) cmd_use_runtime "${2:-}" "${3:-}" "${4:-}" ;;
  use-policy) cmd_use_policy "${2:-}" "${3:-}" ;;
  *) die "usage: $0 up|env|down|status|kill-agent HOST|restart-agent HOST|stop-agent HOST [SIGNAL]|start-agent HOST|use-runtime HOST RUNTIME [CRIU]|use-policy HOST FILE|-|metrics HOST" ;;
esac
