#!/usr/bin/env bash
# The SOURCE agent is killed while CRIU dumps and comes back at once, before the dump ended.
# runc and CRIU outlive the agent, so at restart neither the container's state nor the images
# tell yet what happened: the agent must wait for the dump to end before it decides.
#   1. The dump goes on and finishes (runc then removes the container): the agent waits for
#      it, then restores the container from the finished images.
#   2. runc and CRIU are killed too: the container is left frozen (the agent thaws it;
#      restoring from the half-written images would fail, and killing it would lose it) or,
#      when CRIU froze it with ptrace alone, running (the agent leaves it be).
#   3. The same in a post-copy dump, which the agent froze itself as CRIU started (the early
#      freeze): left frozen (CRIU's network lock in it) or running (CRIU thaws the cgroup once
#      its ptrace holds the tasks), the container runs on host-a again.
# Either way the container runs on host-a once more, its count continuing, never on host-b.
source "$(dirname "$0")/lib.sh"
ID1=fail-middump-$$
ID2=fail-midkill-$$
ID3=fail-midpc-$$
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

# kill_mid_dump ID ARGS...: the agent, runc and CRIU killed while the held dump of ID runs,
# the agent restarted; echoes the container's status in between (paused or running).
kill_mid_dump() {
  local id=$1 i status
  shift
  migrate_json_held "$id" host-a host-b "$@"
  "$TH" kill-agent host-a
  pkill -KILL -f "checkpoint .*$id" || fail "no runc checkpoint of $id to kill: nothing tested"
  held_continue  # removes the frozen cgroup; runc is gone
  pkill -KILL -x criu || true
  for i in $(seq 100); do
    pgrep -x criu >/dev/null || break
    sleep 0.05
  done
  # Whether the tasks stay frozen depends on how CRIU froze them: with the freezer cgroup they
  # do (runc says paused); seized with ptrace only, they run on once CRIU is gone (running).
  status=$(container_status host-a "$id")
  case "$status" in paused | running) ;; *) fail "$id is '$status' after CRIU was killed" ;; esac
  log "runc and CRIU killed mid-dump: $id is $status; restarting the agent"
  "$TH" restart-agent host-a
  migrate_json_wait
  fast_data_link
  case "$RC" in 3 | 4) ;; *) fail "exit $RC, expected 3 or 4" ;; esac
  echo "$status" >"$TEST_TMP/status"
}

# expect_resumed ID STATUS COUNT: back on host-a, and the agent log says how.
expect_resumed() {
  expect_back_on_source "$1" "$3"
  if [ "$2" = paused ]; then
    [ "$(grep -c "resumed the container an interrupted dump had left frozen" "$AGENT_LOG")" -gt "$THAWED" ] ||
      fail "the agent log does not say it thawed the frozen container $1"
  else
    [ "$(grep -c "the container still runs on the source" "$AGENT_LOG")" -gt "$RAN" ] ||
      fail "the agent log does not say the container $1 still ran"
  fi
}
log_counts() {
  THAWED=$(grep -c "resumed the container an interrupted dump had left frozen" "$AGENT_LOG" || true)
  RAN=$(grep -c "the container still runs on the source" "$AGENT_LOG" || true)
}

# 2. runc and CRIU die with the agent: the container stays frozen, and is thawed.
SAMPLE_MEMORY_MIB=64 start_counter host-a "$ID2"
before=$(count_of host-a "$ID2")
slow_data_link
log_counts
kill_mid_dump "$ID2" --cgroups-mode soft
expect_resumed "$ID2" "$(cat "$TEST_TMP/status")" "$before"

# 3. The same in a post-copy dump, frozen by the agent before CRIU froze it.
SAMPLE_MEMORY_MIB=64 start_counter host-a "$ID3"
before=$(count_of host-a "$ID3")
log_counts
kill_mid_dump "$ID3" --cgroups-mode ignore --strategy post-copy
expect_resumed "$ID3" "$(cat "$TEST_TMP/status")" "$before"
log PASS
