#!/usr/bin/env bash
# A legitimate migration host-a -> host-b while host-b is under cheap denial of service, all
# at once (issue 10, "Exhaustion"):
#   - 1,000 stalled TCP connections on host-b's API port (reopened as host-b drops them),
#   - 100 on its data port (more than its 16 stream slots and 64 handshake slots),
#   - 5 mutual-TLS peers with host-a's valid certificate trickling their HELLO a byte a second,
#   - 3 rollbacks of a second migration whose restore on host-b is held (runc SIGSTOPped), so
#     that they would wait on that migration's lock.
# Checks: the migration succeeds; GET /v1/health on host-b answers within 1 s, again and
# again; host-b's agent uses under 20 % of a core under attack (before the migration starts);
# its log shows no EMFILE spin; no process host-b's agent spawns (runc, CRIU) holds one of
# the agent's own sockets; every trickling peer is cut; at most one of the rollbacks waits (the
# others are refused at once), and the held migration ends with its container on one host.
# Bounded: the attackers stop after ATTACK_SECONDS (default 90) whatever happens and are
# killed by pid at exit; everything talks only to the test hosts.
source "$(dirname "$0")/lib.sh"
ID=exhaust-$$
HELD_ID=exhaust-held-$$
ATTACK_SECONDS=${ATTACK_SECONDS:-90}
PKI=$(dirname "$MIGRATE_HOSTS")/pki
PEERS=(python3 "$(dirname "$0")/exhaustion_peers.py")
B_API=198.18.2.2     # host-b's management address (test-hosts.sh)
B_DATA=198.18.0.2    # host-b's data address, reached from host-a's namespace
ATTACKERS=()
stop_attackers() {
  local pid
  for pid in "${ATTACKERS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${ATTACKERS[@]}"; do wait "$pid" 2>/dev/null || true; done
  ATTACKERS=()
}
trap 'held_continue; stop_attackers; cleanup_containers; rm -rf "$TEST_TMP"' EXIT

# The pid of the agent listening on host-b's API port.
agent_pid() {
  nsenter --net="$HOST_B_NETNS" ss -Hltnp "sport = :7443" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
socket_inodes() { ls -l "/proc/$1/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\].*/\1/p' | sort -u; }

health_within_1s() {
  local t
  t=$(curl -s -o /dev/null -w '%{time_total}' -m 1 --cacert "$PKI/controller/ca.pem" \
        --cert "$PKI/controller/cert.pem" --key "$PKI/controller/key.pem" \
        --resolve "host-b:7443:$B_API" https://host-b:7443/v1/health) || fail "health on host-b did not answer within 1 s"
  log "health on host-b: ${t}s"
}

# The pids of every descendant of $1 (runc, CRIU and whatever they start).
descendants() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END { for (p in parent) { q = parent[p]; while (q != "" && q != 0) { if (q == root) { print p; break } q = parent[q] } } }'
}

# Records in $TEST_TMP/leak any descendant of the agent that holds one of its sockets.
check_children_hold_no_agent_socket() {
  local agent=$1 mine child
  mine=$(socket_inodes "$agent")
  for child in $(descendants "$agent"); do
    if comm -12 <(echo "$mine") <(socket_inodes "$child") | grep -q .; then
      echo "process $child ($(cat "/proc/$child/comm" 2>/dev/null)) holds a socket of the agent" \
        >>"$TEST_TMP/leak"
    fi
  done
}

AGENT_B=$(agent_pid)
[ -n "$AGENT_B" ] || fail "no agent listening on host-b:7443"
LOG_B=$(dirname "$MIGRATE_HOSTS")/host-b/agent.log
accept_warnings_before=$(grep -c 'accept:' "$LOG_B" || true)
start_counter host-a "$ID"

log "attack: 1000 stalled on the API port, 100 on the data port, 5 trickling HELLOs"
"${PEERS[@]}" stalled "$B_API" 7443 1000 --seconds "$ATTACK_SECONDS" >"$TEST_TMP/api.out" &
ATTACKERS+=($!)
nsenter --net="$HOST_A_NETNS" "${PEERS[@]}" stalled "$B_DATA" 7444 100 --seconds "$ATTACK_SECONDS" \
  >"$TEST_TMP/data.out" &
ATTACKERS+=($!)
nsenter --net="$HOST_A_NETNS" "${PEERS[@]}" trickle "$B_DATA" 7444 5 --seconds "$ATTACK_SECONDS" \
  --ca "$PKI/host-a/ca.pem" --cert "$PKI/host-a/cert.pem" --key "$PKI/host-a/key.pem" \
  >"$TEST_TMP/trickle.out" &
ATTACKERS+=($!)

# Under attack, before the migration: health stays quick, the agent stays cool.
for _ in $(seq 5); do health_within_1s; done
ticks=$(cpu_ticks "$AGENT_B")
start=$(date +%s%N)
for _ in $(seq 10); do health_within_1s; sleep 1; done
used=$(( $(cpu_ticks "$AGENT_B") - ticks ))
share=$(awk -v t="$used" -v hz="$(getconf CLK_TCK)" -v ns="$(( $(date +%s%N) - start ))" \
          'BEGIN { printf "%.3f", t / hz / (ns / 1e9) }')
log "host-b's agent under attack: $used ticks = $share of a core"
awk -v s="$share" 'BEGIN { exit !(s < 0.20) }' || fail "the agent used $share of a core under attack (limit 0.20)"

# A second migration held in its restore on host-b, and three rollbacks of it at once.
start_counter host-a "$HELD_ID"
held_before=$(count_of host-a "$HELD_ID")
known=$(migration_dirs host-b)
( migrate_json "$HELD_ID" host-a host-b --cgroups-mode soft; echo "$RC" >"$TEST_TMP/held.rc" ) &
HELD_MIGRATION=$!
hold "restore --detach .*$HELD_ID\$"
held_mid=$(comm -13 <(sort <<<"$known") <(migration_dirs host-b | sort) | head -n 1)
[ -n "$held_mid" ] || fail "no migration folder of $HELD_ID on host-b"
ROLLBACKS=()
for n in 1 2 3; do
  ( TEST_TMP=$TEST_TMP/rollback-$n; mkdir -p "$TEST_TMP"
    api host-b /v1/rollback RollbackRequest "migration_id: \"$held_mid\"" MigrationStatus
    echo "$API_STATUS" >"$TEST_TMP/status" ) &
  ROLLBACKS+=($!)
done
sleep 1

# The migration itself, with the attack going on; children checked while it runs.
before=$(count_of host-a "$ID")
( while :; do check_children_hold_no_agent_socket "$AGENT_B"; sleep 0.02; done ) &
WATCHER=$!
migrate_json "$ID" host-a host-b --cgroups-mode soft
kill "$WATCHER" 2>/dev/null || true
wait "$WATCHER" 2>/dev/null || true
[ -s "$TEST_TMP/leak" ] && fail "$(sort -u "$TEST_TMP/leak" | head -3)"
[ "$RC" -eq 0 ] || fail "migration under attack failed: $(report .error)"
[ "$(report .status)" = migrated ] || fail "status $(report .status)"
expect_absent host-a "$ID"
expect_counting host-b "$ID" "$before"
health_within_1s

# The held migration: at most one rollback waited for its lock, and it ends on one host.
refused=$(cat "$TEST_TMP"/rollback-*/status 2>/dev/null | grep -c '^503$' || true)
[ "$refused" -ge 2 ] || fail "$refused of the 3 rollbacks were refused at once (expected 2 or 3)"
held_continue
for pid in "${ROLLBACKS[@]}"; do wait "$pid" || true; done
wait "$HELD_MIGRATION" || true
log "held migration: exit $(cat "$TEST_TMP/held.rc"), rollbacks answered $(cat "$TEST_TMP"/rollback-*/status | tr '\n' ' ')"
held_on=$(running_host "$HELD_ID")
case "$held_on" in host-a | host-b) expect_counting "$held_on" "$HELD_ID" "$held_before" ;;
  *) fail "the held container runs on '$held_on'" ;; esac

stop_attackers
cat "$TEST_TMP/api.out" "$TEST_TMP/data.out" "$TEST_TMP/trickle.out" >&2
grep -q ' 0 cut' "$TEST_TMP/trickle.out" && fail "a trickling HELLO was never cut"
accept_warnings=$(( $(grep -c 'accept:' "$LOG_B" || true) - accept_warnings_before ))
[ "$accept_warnings" -le 10 ] || fail "$accept_warnings accept warnings in host-b's log: an EMFILE spin"
log PASS
