#!/usr/bin/env bash
# Post-copy there and back: host-a -> host-b (ignore, new cgroup path) and host-b -> host-a
# (soft), each a 64 MiB container whose memory checksum must survive, with a watcher that
# never sees two copies. The report says post-copy ran, CRIU counted every page in (on demand
# and in the background), and the downtime. A refused combination changes nothing.
source "$(dirname "$0")/lib.sh"
ID=pc-rt-$$
SAMPLE_MEMORY_MIB=64 start_counter host-a "$ID"

migrate_json "$ID" host-a host-b --strategy post-copy --tcp-established
[ "$RC" -eq 2 ] || fail "post-copy with --tcp-established: exit $RC, want 2 (bad input)"
expect_counting host-a "$ID" "$(count_of host-a "$ID")"

start_watcher "$ID"
before=$(count_of host-a "$ID")
migrate_json "$ID" host-a host-b --strategy post-copy --cgroups-mode ignore \
  --cgroup-path "/migrate-host-b/$ID-moved"
[ "$RC" -eq 0 ] || fail "post-copy to host-b failed: $(report .error)"
[ "$(report .strategy)" = post-copy ] || fail "strategy $(report .strategy)"
[ "$(report .cgroups_mode.restore_effective)" = ignore ] || fail "restore ran $(report .cgroups_mode.restore_effective)"
total=$(report .post_copy.pages_total)
[ "$total" -gt 16000 ] || fail "pages_total $total for 64 MiB"
[ "$(report .post_copy.pages_copied)" = "$total" ] || fail "copied $(report .post_copy.pages_copied) of $total"
[ "$(report '.post_copy.pages_faulted + .post_copy.pages_pushed')" = "$total" ] ||
  fail "faulted + pushed != total: $(report .post_copy)"
[ "$(report .timings_ms.downtime)" -gt 0 ] || fail "no downtime measured"
[ "$(report .timings_ms.post_copy_window)" -gt 0 ] || fail "no post-copy window"
[ -n "$(report .post_copy.limit)" ] || fail "the report does not state post-copy's limit"
# CRIU's own account of the dump (stats-dump, written after the last page): the frozen time
# covers the window and fits in the migration, or (CRIU 4.1.1 resets its dump statistics when
# its page server starts) it is missing and the report says so; never a made-up figure.
frozen=$(report .timings_ms.criu_frozen)
if [ "$frozen" -eq 0 ]; then
  report '.warnings[]' | grep -q "CRIU kept no usable statistics of this post-copy dump" ||
    fail "no CRIU dump times and no warning saying why"
elif [ "$frozen" -lt "$(report .timings_ms.post_copy_window)" ] ||
  [ "$frozen" -gt "$(report .timings_ms.total)" ]; then
  fail "CRIU's frozen time $frozen ms does not fit the window and the migration"
fi
[ "$(report .timings_ms.criu_restore)" -gt 0 ] || fail "no CRIU restore time in the report"
log "to host-b: downtime $(report .timings_ms.downtime) ms, window $(report .timings_ms.post_copy_window) ms, $total pages ($(report .post_copy.pages_faulted) faulted), link $(report .post_copy.link_raw) raw / $(report .post_copy.link_wire) wire"
expect_absent host-a "$ID"
expect_counting host-b "$ID" "$before"
expect_cgroup host-b "$ID" "/migrate-host-b/$ID-moved"
expect_memory_intact host-b "$ID"

before=$(count_of host-b "$ID")
# Soft back into a path of its own: both test hosts share one kernel's cgroups, and the
# source's tasks stay (frozen) in theirs until the end.
migrate_json "$ID" host-b host-a --strategy post-copy --cgroup-path "/migrate-host-a/$ID"
[ "$RC" -eq 0 ] || fail "post-copy back to host-a failed: $(report .error)"
[ "$(report .cgroups_mode.restore_effective)" = soft ] || fail "restore ran $(report .cgroups_mode.restore_effective)"
expect_absent host-b "$ID"
expect_counting host-a "$ID" "$before"
expect_memory_intact host-a "$ID"
stop_watcher
pgrep -f "migrate-fence .*--label" >/dev/null && fail "a fence outlived its migration: $(pgrep -af migrate-fence)"
log PASS
