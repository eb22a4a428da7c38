#!/usr/bin/env bash
# A sample container for demos and tests: busybox (static) counting up 20 times a second
# into /count inside its root file system, in its own namespaces (network included, with
# loopback up as a CNI plugin would leave it).
#
#   sample-container.sh start ID RUNC_ROOT BUNDLE_DIR CGROUPS_PATH
#   sample-container.sh count BUNDLE_DIR        # prints the current count
#   sample-container.sh pid ID RUNC_ROOT        # prints the init pid
#   sample-container.sh remove ID RUNC_ROOT     # kill + delete (bundle left alone)
#
# SAMPLE_MEMORY_MIB=N makes the shell hold about N MiB of memory before it counts: half
# random (base64 text), half one repeated letter, as a stand-in for a real process's heap. It
# writes the memory's md5 to /memsum.start, and to /memsum whenever it gets SIGUSR1.
# SAMPLE_CGROUPNS=1 gives the container a cgroup namespace of its own (runc's default spec
# has none on a hybrid host): inside, /proc/self/cgroup then shows paths relative to it.
# SAMPLE_FIFO=1 puts two FIFOs in its root file system: /fifo, which the shell holds open
# (fd 3, read-write) while it counts, and /idle.fifo (mode 0640), which nothing opens.
# SAMPLE_WORKLOAD=BINARY runs that static program as the container's process instead, with
# SAMPLE_MEMORY_MIB as its argument (the benchmarks' tests/tools/page_workload: it writes
# /count and /progress itself), and SAMPLE_HOT_MIB, when set, as its working set.
# RUNTIME names the runtime binary (default runc from PATH; crun works too).
# SAMPLE_COUNT_OVER_TCP=1 sends the count through an established TCP connection over the
# container's own 127.0.0.1 (busybox nc client -> nc server -> /count): the count goes on only
# while that connection lives, which is what a migration with --tcp-established must keep.
# SAMPLE_JQ='FILTER' edits config.json with jq before the container starts (tests: a hook, a
# host mount, a namespace by path, ... that a destination must refuse).
set -euo pipefail

die() { printf 'sample-container: %s\n' "$*" >&2; exit 1; }
BUSYBOX=${BUSYBOX:-/bin/busybox}
RUNTIME=${RUNTIME:-runc}  # runc or crun binary that runs the container (the spec is runc's)

make_bundle() {
  local bundle=$1 cgroups_path=$2
  [ -e "$bundle" ] && die "bundle $bundle already exists"
  [ -x "$BUSYBOX" ] || die "$BUSYBOX missing (install busybox-static)"
  mkdir -p "$bundle/rootfs"/{bin,proc,sys,dev,tmp,etc}
  cp "$BUSYBOX" "$bundle/rootfs/bin/busybox"
  local applet
  for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$bundle/rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/:/bin/sh' >"$bundle/rootfs/etc/passwd"
  if [ "${SAMPLE_FIFO:-0}" = 1 ]; then
    mkfifo -m 0600 "$bundle/rootfs/fifo"
    mkfifo -m 0640 "$bundle/rootfs/idle.fifo"
  fi
  # The process: /counter.sh inside the container.
  {
    echo '#!/bin/sh'
    if [ "${SAMPLE_FIFO:-0}" = 1 ]; then echo 'exec 3<>/fifo'; fi
    local mib=${SAMPLE_MEMORY_MIB:-0}
    if [ "$mib" -gt 0 ]; then
      local half=$((mib * 1024 * 1024 / 2))
      echo "r=\$(head -c $((half * 3 / 4)) /dev/urandom | base64 -w 0)"
      echo "z=\$(head -c $half /dev/zero | tr '\\0' a)"
      # The memory's checksum at start, and again on SIGUSR1: a restore that lost or
      # zeroed pages shows as a different sum (tests: expect_memory_intact).
      echo 'echo "$r$z" | md5sum > /memsum.start'
      echo "trap 'echo \"\$r\$z\" | md5sum > /memsum.new; mv /memsum.new /memsum' USR1"
    fi
    if [ "${SAMPLE_COUNT_OVER_TCP:-0}" = 1 ]; then
      # The server's stdin never ends (busybox nc quits at stdin EOF); the client connects
      # once loopback is up and the server listens (port 5000 = 0x1388, 0A = LISTEN).
      echo 'sleep 999999 | nc -l -p 5000 | while read l; do echo $l > /count.new; mv /count.new /count; done &'
      echo 'while ! ip -4 addr show dev lo | grep -q 127.0.0.1; do usleep 20000; done'
      echo 'while ! cat /proc/net/tcp /proc/net/tcp6 | grep -q ":1388 0*:0000 0A"; do usleep 20000; done'
      echo 'i=0; while :; do i=$((i+1)); echo $i; usleep 50000; done | nc 127.0.0.1 5000'
    else
      echo 'i=0'
      echo 'while :; do i=$((i+1)); echo $i > /count.new; mv /count.new /count; usleep 50000; done'
    fi
  } >"$bundle/rootfs/counter.sh"
  chmod 0755 "$bundle/rootfs/counter.sh"
  # runc's default spec, with: no terminal, a writable root, our process and cgroup path.
  runc spec --bundle "$bundle"
  sed -i \
    -e 's/"terminal": true/"terminal": false/' \
    -e 's/"readonly": true/"readonly": false/' \
    -e 's|^\(\s*\)"sh"$|\1"sh", "/counter.sh"|' \
    -e "s|^\(\s*\)\"linux\": {|\1\"linux\": {\n\1\t\"cgroupsPath\": \"$cgroups_path\",|" \
    "$bundle/config.json"
  grep -q "cgroupsPath\": \"$cgroups_path\"" "$bundle/config.json" || die "config.json edit failed"
  if [ -n "${SAMPLE_WORKLOAD:-}" ]; then
    cp "$SAMPLE_WORKLOAD" "$bundle/rootfs/bin/workload"
    jq --arg mib "${SAMPLE_MEMORY_MIB:-64}" --arg hot "${SAMPLE_HOT_MIB:-}" \
      '.process.args = ["/bin/workload", $mib] + (if $hot == "" then [] else [$hot] end)' \
      "$bundle/config.json" >"$bundle/config.json.new"
    mv "$bundle/config.json.new" "$bundle/config.json"
  fi
  if [ "${SAMPLE_CGROUPNS:-0}" = 1 ]; then
    jq '.linux.namespaces += [{"type": "cgroup"}]' "$bundle/config.json" >"$bundle/config.json.new"
    mv "$bundle/config.json.new" "$bundle/config.json"
  fi
  if [ -n "${SAMPLE_JQ:-}" ]; then
    jq "$SAMPLE_JQ" "$bundle/config.json" >"$bundle/config.json.new" || die "SAMPLE_JQ failed"
    mv "$bundle/config.json.new" "$bundle/config.json"
  fi
}

cmd=${1:-}
case "$cmd" in
  start)
    [ $# -eq 5 ] || die "usage: $0 start ID RUNC_ROOT BUNDLE_DIR CGROUPS_PATH"
    id=$2 root=$3 bundle=$4 cgpath=$5
    [ -n "$id" ] && [ -n "$root" ] && [ -n "$bundle" ] && [ -n "$cgpath" ] ||
      die "start: ID, RUNC_ROOT, BUNDLE_DIR and CGROUPS_PATH must not be empty"
    make_bundle "$bundle" "$cgpath"
    # Detached, stdio on /dev/null: CRIU cannot dump stdio pointing at host files.
    "$RUNTIME" --root "$root" run -d --bundle "$bundle" "$id" </dev/null >/dev/null 2>&1 ||
      die "$RUNTIME run $id failed ($RUNTIME --root $root run -d --bundle $bundle $id)"
    pid=$("$RUNTIME" --root "$root" state "$id" | sed -n 's/^\s*"pid": \([0-9]*\).*/\1/p')
    nsenter --net="/proc/$pid/ns/net" ip link set lo up
    for _ in $(seq 2400); do [ -s "$bundle/rootfs/count" ] && break; sleep 0.05; done
    [ -s "$bundle/rootfs/count" ] || die "container $id does not count"
    echo "started $id (pid $pid, bundle $bundle, cgroup $cgpath)"
    ;;
  count)
    [ $# -eq 2 ] || die "usage: $0 count BUNDLE_DIR"
    cat "$2/rootfs/count"
    ;;
  pid)
    [ $# -eq 3 ] || die "usage: $0 pid ID RUNC_ROOT"
    "$RUNTIME" --root "$3" state "$2" | sed -n 's/^\s*"pid": \([0-9]*\).*/\1/p'
    ;;
  remove)
    [ $# -eq 3 ] || die "usage: $0 remove ID RUNC_ROOT"
    "$RUNTIME" --root "$3" kill "$2" KILL 2>/dev/null || true
    "$RUNTIME" --root "$3" delete -f "$2" 2>/dev/null || true
    ;;
  *) die "usage: $0 start|count|pid|remove ..." ;;
esac
