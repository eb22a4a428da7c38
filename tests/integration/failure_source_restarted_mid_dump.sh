#!/usr/bin/env bash
# The SOURCE agent is killed while CRIU dumps and comes back at once, before the dump ended.
# runc and CRIU outlive the agent, so at restart neither the container's state nor the images
# tell yet what happened: the agent must wait for the dump to end before it decides.
#   1. The dump goes on and finishes (runc then removes the container): the agent waits for
#      it, then restores the container from the finished images.
#   2. runc and CRIU are killed too: the container is left frozen (the agent thaws it;
#      restoring from the half-written images would fail, and killing it would lose it) or,
#      when CRIU froze it with ptrace alone, running (the agent leaves it be).
# Either way the container runs on host-a once more, its count continuing, never on host-b.
source "$(dirname "$0")/lib.sh"
ID1=fail-middump-$$
ID2=fail-midkill-$$
AGENT_LOG="$(dirname "$MIGRATE_HOSTS")/host-a/agent.log"
trap 'held_continue; fast_data_link; "$TH" restart-agent host-a >/dev/null 2>&1 || true; cleanup_containers; rm -rf "$TEST_TMP"' EXIT


# The container must still be counting on host-a (and nowhere else) once the agent is back.
expect_back_on_source() {  # id count_before
  local i
  for i in $(seq 400); do
    [ "$(container_status host-a "$1")" = running ] && break
    sleep 0.05
  done
  expect_counting host-a "$1" "$2"
  expect_absent host-b "$1"
}

# 1. The dump outlives the agent and finishes while the new agent waits.
SAMPLE_MEMORY_MIB=64 start_counter host-a "$ID1"
before=$(count_of host-a "$ID1")
slow_data_link
migrate_json_held "$ID1" host-a host-b --cgroups-mode soft  # runc held: the dump cannot end
"$TH" kill-agent host-a
log "agent killed while runc checkpoint of $ID1 runs: restarting it now"
"$TH" restart-agent host-a & starter=$!
sleep 1
held_continue  # the dump goes on while the new agent waits for it
wait "$starter" || fail "the host-a agent did not come back"
migrate_json_wait
fast_data_link
case "$RC" in 3 | 4) ;; *) fail "exit $RC, expected 3 or 4" ;; esac
expect_back_on_source "$ID1" "$before"
grep -q "an interrupted dump or restore still uses .*(pids " "$AGENT_LOG" ||
  fail "the agent log does not say it waited for the interrupted dump"

# 2. runc and CRIU die with the agent: the container stays frozen, and is thawed.
SAMPLE_MEMORY_MIB=64 start_counter host-a "$ID2"
before=$(count_of host-a "$ID2")
slow_data_link
migrate_json_held "$ID2" host-a host-b --cgroups-mode soft
"$TH" kill-agent host-a
pkill -KILL -f "checkpoint .*$ID2" || fail "no runc checkpoint of $ID2 to kill: nothing tested"
held_continue  # removes the frozen cgroup; runc is gone
pkill -KILL -x criu || true
for i in $(seq 100); do
  pgrep -x criu >/dev/null || break
  sleep 0.05
done
# Whether the tasks stay frozen depends on how CRIU froze them: with the freezer cgroup they
# do (runc says paused); seized with ptrace only, they run on once CRIU is gone (running).
status=$(container_status host-a "$ID2")
case "$status" in paused | running) ;; *) fail "$ID2 is '$status' after CRIU was killed" ;; esac
log "runc and CRIU killed mid-dump: $ID2 is $status; restarting the agent"
"$TH" restart-agent host-a
migrate_json_wait
fast_data_link
case "$RC" in 3 | 4) ;; *) fail "exit $RC, expected 3 or 4" ;; esac
expect_back_on_source "$ID2" "$before"
if [ "$status" = paused ]; then
  grep -q "resumed the container an interrupted dump had left frozen" "$AGENT_LOG" ||
    fail "the agent log does not say it thawed the frozen container"
else
  grep -q "the container still runs on the source" "$AGENT_LOG" ||
    fail "the agent log does not say the container still ran"
fi
log PASS
