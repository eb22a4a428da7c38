#!/usr/bin/env bash
# FIFOs in the container's root file system move with it, host-a -> host-b -> host-a: /fifo,
# which the container's shell holds open (CRIU reopens it by its path at restore: without it
# there the restore fails, "Can't open fake fifo"), and /idle.fifo, which nothing opens (it
# must arrive all the same, with its mode). The count goes on after each move.
source "$(dirname "$0")/lib.sh"
ID=rt-fifo-$$
SAMPLE_FIFO=1 start_counter host-a "$ID"

# expect_fifos HOST: both FIFOs in the running container's root, /fifo held open on fd 3.
expect_fifos() {
  local host=$1 rootfs pid
  rootfs="$(container_bundle "$host" "$ID")/rootfs"
  [ -p "$rootfs/fifo" ] || fail "$host: /fifo is missing or not a FIFO"
  [ -p "$rootfs/idle.fifo" ] || fail "$host: /idle.fifo is missing or not a FIFO"
  [ "$(stat -c %a "$rootfs/idle.fifo")" = 640 ] ||
    fail "$host: /idle.fifo has mode $(stat -c %a "$rootfs/idle.fifo"), not 640"
  pid=$(container_pid "$host" "$ID")
  [ "$(readlink "/proc/$pid/fd/3")" = /fifo ] ||
    fail "$host: the shell's fd 3 is $(readlink "/proc/$pid/fd/3"), not /fifo"
}

# move FROM TO: the container leaves FROM, counts on on TO, its FIFOs in place there.
move() {
  local from=$1 to=$2 before
  before=$(count_of "$from" "$ID")
  migrate_json "$ID" "$from" "$to" --cgroups-mode soft
  [ "$RC" -eq 0 ] || fail "migration $from -> $to failed: $(report .error)"
  expect_absent "$from" "$ID"
  expect_counting "$to" "$ID" "$before"
  expect_fifos "$to"
}

expect_fifos host-a
move host-a host-b
move host-b host-a
log PASS
