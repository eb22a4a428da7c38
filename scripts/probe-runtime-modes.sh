#!/usr/bin/env bash
# Measures what one OCI runtime (runc or crun) and CRIU really do with each cgroup mode, on
# one host, without migrate: a busybox counting container is checkpointed and restored for
# every mode x mechanism x cgroup-namespace variant, and what happened is read back from
# CRIU's logs, /proc/<pid>/cgroup of every task (on the host and from inside) and the count.
#
#   probe-runtime-modes.sh RUNTIME_BINARY > results.jsonl   # one JSON object per line and side
#   probe-runtime-modes.sh --table results.jsonl...         # a Markdown table of such lines
#   probe-runtime-modes.sh --summary results.jsonl...       # the same, one column per mode
#
# Environment:
#   PROBE_CRIU=/path/to/criu   CRIU to use (default: the criu on PATH). Its directory is put
#                              first on PATH: runc >= 1.2 ignores --criu, crun's libcriu runs
#                              `criu` from PATH.
#   PROBE_MODES="ignore soft full strict"   MODE@new (e.g. soft@new): restore into a new cgroup
#                              path and id, as ignore always does
#   PROBE_MECHANISMS="flag config"   flag: --manage-cgroups-mode X on checkpoint and restore;
#                              config: a CRIU config file `manage-cgroups=X` named by the
#                              bundle's org.criu.config annotation (no flag); env: the same file
#                              in CRIU_CONFIG_FILE (no flag, no annotation); userconf: the same
#                              line in $HOME/.criu/default.conf with HOME pointing at a temp dir
#                              (CRIU reads it like /etc/criu/default.conf, with the same
#                              precedence, so the host's /etc/criu stays untouched).
#   PROBE_KEEP_LOGS=DIR        copy every run's dump.log / restore.log / runtime logs there.
#   PROBE_CGROUPNS="spec added"      spec: the runtime's own `spec` as it is; added: with a
#                              {"type":"cgroup"} namespace added.
#
# Each run: container <id> in cgroupsPath /probe-rt/<id>, checkpoint (image and work dirs of
# its own), then restore: for ignore as <id>-n into /probe-rt-new/<id> (moving the container to
# a new cgroup is what ignore is for), for the other modes as <id> into the same path.
# Everything it makes (containers under --root /run/probe-runtimes/..., cgroups /probe-rt* under
# every /sys/fs/cgroup/* hierarchy, temp dirs) is removed again, also on failure or Ctrl-C.
set -euo pipefail

log() { printf 'probe-runtime-modes: %s\n' "$*" >&2; }
die() { printf 'probe-runtime-modes: error: %s\n' "$*" >&2; exit 1; }

# --- --table / --summary: render result lines --------------------------------------------

# jq helpers shared by both renderings.
JQ_LIB='
  def short: gsub("p[0-9]+-[a-z]+(-new)?-[a-z]+-(spec|added)(-n)?"; "{id}")
             | gsub("time=\"[^\"]*\" level=error msg="; "") | gsub("/tmp/probe-rt[^ `\"]*"; "…")
             | gsub("\\\\n"; " ") | gsub("[|]"; "\\|");
  def cg: if . == null or . == "" then "-" else short end;
  def modecol: .mode + (if .restore_into_new_cgroup and .mode != "ignore" then " (new path)" else "" end);
  def why: (.error // "?") | if test("Abort restore of existing cgroups") then "cg: Abort restore of existing cgroups"
           elif test("Can.t move [0-9]+ into ") then "cg: Can'"'"'t move into the dumped (removed) cgroup"
           elif test("Invalid manage cgroups mode") then "Invalid manage cgroups mode"
           else short end;
  def ckshort: if .ok | not then "REFUSED (" + why + ")"
               elif .dump_cg_adding > 0 or .dump_cg_values > 0 then "cgroups dumped" else "no cgroup dumped" end;
  def rsshort: if .skipped then "-"
               elif .ok | not then "FAILED, ran " + (.restore_mode // "?") + " (" + why + ")"
               else "ran " + .restore_mode
                    + (if .tasks_in_target then "" else ", TASKS NOT IN " + (.target_cgroup | short) end)
                    + (if .config_has_cgroupns then (if .cgroupns_private then ", cgroupns private" else ", CGROUPNS LOST" end) else "" end)
                    + (if .count_continued then "" else ", COUNT STOPPED" end) end;
'

if [ "${1:-}" = --table ]; then
  shift
  [ $# -gt 0 ] || die "usage: $0 --table RESULTS.jsonl..."
  echo '| runtime | CRIU | cgroupns | mode | mechanism | side | result |'
  echo '|---|---|---|---|---|---|---|'
  cat "$@" | jq -r "$JQ_LIB"'
    if .side == "checkpoint" then
      (if .ok then
         "ok; " + (if .dump_cg_adding > 0 or .dump_cg_values > 0
                   then "cgroups dumped (\(.dump_cg_adding) `cg: adding cgroup`, \(.dump_cg_values) `cg: Dumping value`)"
                   else "no cgroup dumped" end)
         + (if .cgroup_img_dirs != null then "; cgroup.img dirs: \(.cgroup_img_dirs)" else "" end)
         + (if .config_parsed then "; config file read" else "" end)
       else "FAILED: " + (.error // "?" | short) end) as $r
      | "| \(.runtime) \(.version) | \(.criu_version) | \(.cgroupns) | \(modecol) | \(.mechanism) | checkpoint | \($r) |"
    else
      (if .skipped then "not run: " + .skipped
       elif .ok then
         "ok; CRIU ran \(.restore_mode)"
         + (if .config_parsed then " (config file read)" else "" end)
         + "; tasks: v1 \(.host_v1 | cg), v2 \(.host_v2 | cg)"
         + (if .tasks_in_target then " (in target)" else " (NOT in target \(.target_cgroup | short))" end)
         + "; inside: \(.inside_init // "-" | short)"
         + "; cgroupns \(.cgroupns_private | if . then "private" else "host" end)"
         + "; count " + (if .count_continued then "continued" else "did NOT continue" end)
       else "FAILED (CRIU ran \(.restore_mode // "?")): " + (.error // "?" | short) end) as $r
      | "| \(.runtime) \(.version) | \(.criu_version) | \(.cgroupns) | \(modecol) | \(.mechanism) | restore | \($r) |"
    end'
  exit 0
fi

# One row per runtime x CRIU x cgroupns x mechanism, one column per mode: "checkpoint / restore".
if [ "${1:-}" = --summary ]; then
  shift
  [ $# -gt 0 ] || die "usage: $0 --summary RESULTS.jsonl..."
  cat "$@" | jq -rs "$JQ_LIB"'
    (map(modecol) | unique
     | sort_by(. as $m | ["ignore", "soft", "soft (new path)", "full", "strict"] | index($m) // 9)) as $modes
    | "| runtime | CRIU | cgroupns | mechanism | " + ($modes | join(" | ")) + " |",
      "|---|---|---|---|" + ($modes | map("---|") | join("")),
      ([to_entries[] | .value + {_i: .key}]
       | group_by([.runtime, .version, .criu_version, .cgroupns, .mechanism]) | sort_by(.[0]._i)[]
       | . as $g
       | "| \(.[0].runtime) \(.[0].version) | \(.[0].criu_version) | \(.[0].cgroupns) | \(.[0].mechanism) | "
         + ($modes | map(. as $m
             | ($g | map(select(modecol == $m))) as $cell
             | if ($cell | length) == 0 then " "
               else ($cell | map(select(.side == "checkpoint"))[0] | ckshort) + " / "
                    + ($cell | map(select(.side == "restore"))[0] | rsshort) end) | join(" | "))
         + " |")'
  exit 0
fi

# --- set-up ------------------------------------------------------------------------------

[ $# -eq 1 ] || die "usage: $0 RUNTIME_BINARY  |  $0 --table|--summary RESULTS.jsonl..."
RT=$1
[ -x "$RT" ] || die "$RT is not an executable"
[ "$(id -u)" -eq 0 ] || die "must run as root"
command -v jq >/dev/null || die "jq missing"
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (install busybox-static)"

if [ -n "${PROBE_CRIU:-}" ]; then
  [ -x "$PROBE_CRIU" ] || die "PROBE_CRIU=$PROBE_CRIU is not an executable"
  PATH="$(dirname "$PROBE_CRIU"):$PATH"
fi
export PATH
CRIU_BIN=$(command -v criu) || die "no criu on PATH"
CRIU_VERSION=$("$CRIU_BIN" --version | sed -n 's/^Version: *//p')

read -r RT_NAME _ RT_VERSION _ < <("$RT" --version | head -n1)
case "$RT_NAME" in runc | crun) ;; *) die "$RT: not runc or crun ($("$RT" --version | head -n1))" ;; esac

MODES=${PROBE_MODES:-ignore soft full strict}
MECHANISMS=${PROBE_MECHANISMS:-flag config}
CGROUPNS_VARIANTS=${PROBE_CGROUPNS:-spec added}
KERNEL=$(uname -r)
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
HOST_CGNS=$(readlink /proc/self/ns/cgroup)
# Controllers on the v2 hierarchy of a hybrid host ("" when none, e.g. hugetlb moved to v1).
V2_CONTROLLERS=$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null || true)

# crun refuses a hybrid host with any controller on the v2 hierarchy.
if [ "$RT_NAME" = crun ] && [ -s /sys/fs/cgroup/unified/cgroup.controllers ]; then
  die "crun refuses this hybrid host while controllers sit on cgroup v2 ($(cat /sys/fs/cgroup/unified/cgroup.controllers)):
  'cgroups in hybrid mode not supported, drop all controllers from cgroupv2'. To move hugetlb to v1
  (a host change; allowed while nothing uses hugetlb on v2):
    mkdir /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb"
fi

# Does the runtime's own default spec have a cgroup namespace? (runc adds one on pure v2 only.)
RT_SPEC_CGNS=$(d=$(mktemp -d) && (cd "$d" && "$RT" spec >/dev/null) &&
  jq '[.linux.namespaces[].type] | index("cgroup") != null' "$d/config.json"; rm -rf "$d")

TAG="$RT_NAME-$RT_VERSION-$$"
RT_ROOT=/run/probe-runtimes/$TAG
TMP=$(mktemp -d "/tmp/probe-rt.$TAG.XXXX")
CG_PARENT=probe-rt
CG_PARENT_NEW=probe-rt-new
declare -a CREATED_IDS=()

rt() { timeout 120 "$RT" --root "$RT_ROOT" "$@"; }

remove_cgroup() {  # remove_cgroup REL_PATH: under every hierarchy, deepest first
  local mnt d pids
  for mnt in /sys/fs/cgroup/*; do
    d="$mnt/$1"
    [ -d "$d" ] || continue
    # Tasks left behind (a runtime that lost track of them) are ours: they sit in our cgroup.
    pids=$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u)
    if [ -n "$pids" ]; then
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
      for _ in $(seq 50); do
        [ -z "$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
        sleep 0.1
      done
    fi
    find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ -d "$d" ] && log "warning: could not remove cgroup $d ($(wc -l <"$d/cgroup.procs" 2>/dev/null || echo '?') tasks)"
  done
  return 0
}

remove_container() {
  local id=$1
  rt kill "$id" KILL >/dev/null 2>&1 || true
  for _ in $(seq 50); do
    rt state "$id" 2>/dev/null | jq -e '.status == "running" or .status == "paused"' >/dev/null 2>&1 || break
    sleep 0.1
  done
  rt delete -f "$id" >/dev/null 2>&1 || true
}

cleanup() {
  local id
  for id in "${CREATED_IDS[@]}"; do remove_container "$id"; done
  for id in "${CREATED_IDS[@]}"; do
    remove_cgroup "$CG_PARENT/$id"
    remove_cgroup "$CG_PARENT_NEW/${id%-n}"
  done
  local mnt
  for mnt in /sys/fs/cgroup/*; do
    rmdir "$mnt/$CG_PARENT" "$mnt/$CG_PARENT_NEW" 2>/dev/null || true
  done
  rm -rf "$RT_ROOT" "$TMP"
  rmdir /run/probe-runtimes 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers that read what happened -----------------------------------------------------

init_pid() { rt state "$1" 2>/dev/null | jq -r '.pid // empty'; }

tasks_of() {  # the init pid and all its descendants
  local -a todo=("$1") all=()
  local p c
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[0]}
    todo=("${todo[@]:1}")
    [ -d "/proc/$p" ] || continue
    all+=("$p")
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do todo+=("$c"); done
  done
  echo "${all[@]}"
}

# v1 path shared by every v1 hierarchy (or "mixed:c=p,..."), from /proc/<pid>/cgroup text.
v1_summary() {
  awk -F: '$1 ~ /^[1-9][0-9]*$/ { if (!($3 in seen)) { seen[$3] = 1; u++; p = $3 }; n++; all = all (all ? "," : "") $2 "=" $3 }
           END { if (n == 0) print ""; else if (u == 1) print p; else print "mixed:" all }'
}
v2_summary() { awk -F: '$1 == "0" { print $3 }'; }

# cgroup.img: count directory entries per controller (no crit here: a few lines of protobuf
# wire format). Prints {"controllers": N, "dirs": M} or null.
cgroup_img_counts() {
  [ -f "$1" ] || { echo null; return; }
  python3 - "$1" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i); f, t = key >> 3, key & 7
        if t == 0: _, i = varint(b, i)
        elif t == 2:
            n, i = varint(b, i); yield f, b[i:i + n]; i += n
        elif t == 5: i += 4
        elif t == 1: i += 8
        else: raise ValueError(t)
def count_dirs(d):  # cgroup_dir_entry: children = 2
    return 1 + sum(count_dirs(c) for f, c in fields(d) if f == 2)
pos = 8 if struct.unpack_from("<I", data, 0)[0] in (0x54564319, 0x55105940) else 4
ctl = dirs = 0
while pos + 4 <= len(data):
    (n,) = struct.unpack_from("<I", data, pos); pos += 4
    for f, c in fields(data[pos:pos + n]):           # cgroup_entry: controllers = 2
        if f == 2:
            ctl += 1
            dirs += sum(count_dirs(d) for g, d in fields(c) if g == 2)  # cg_controller_entry: dirs = 2
    pos += n
print(json.dumps({"controllers": ctl, "dirs": dirs}))
PY
}

# The mode CRIU ran on restore, from restore.log.
restore_mode_of() {
  local m
  m=$(sed -n 's/.*cg: Preparing cgroups yard (cgroups restore mode \(0x[0-9a-f]*\)).*/\1/p' "$1" 2>/dev/null | head -n1)
  case "$m" in
    0x1) echo none ;; 0x2) echo props ;; 0x4) echo soft ;; 0x8) echo full ;; 0x10) echo strict ;;
    '') if [ -f "$1" ]; then echo ignore; else echo "no restore.log"; fi ;;
    *) echo "$m" ;;
  esac
}

# The first real error of a CRIU log (the rlimit line is harmless here).
criu_error_of() {
  grep -E 'Error|error' "$1" 2>/dev/null | grep -v 'RLIMIT_NOFILE' | head -n1 | sed 's/^([ 0-9.]*) *//' || true
}

wait_count_above() {  # wait_count_above BUNDLE N SECONDS: prints the count (or what is there)
  local c=""
  for _ in $(seq $(($3 * 20))); do
    c=$(cat "$1/rootfs/count" 2>/dev/null || true)
    [ -n "$c" ] && [ "$c" -gt "$2" ] 2>/dev/null && break
    sleep 0.05
  done
  echo "${c:-0}"
}

make_bundle() {  # make_bundle DIR CGROUPS_PATH CGROUPNS_VARIANT CRIU_CONF(or "")
  local b=$1 cgpath=$2 ns=$3 conf=$4 applet
  mkdir -p "$b/rootfs"/{bin,proc,sys,dev,tmp,etc}
  cp "$BUSYBOX" "$b/rootfs/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$b/rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/:/bin/sh' >"$b/rootfs/etc/passwd"
  printf '#!/bin/sh\ni=0\nwhile :; do i=$((i+1)); echo $i > /count.new; mv /count.new /count; usleep 50000; done\n' \
    >"$b/rootfs/counter.sh"
  chmod 0755 "$b/rootfs/counter.sh"
  (cd "$b" && "$RT" spec >/dev/null)
  jq --arg cg "$cgpath" --arg ns "$ns" --arg conf "$conf" '
      .process.terminal = false | .root.readonly = false | .process.args = ["sh", "/counter.sh"]
      | .linux.cgroupsPath = $cg
      | if $ns == "added" and ([.linux.namespaces[].type] | index("cgroup") | not)
        then .linux.namespaces += [{"type": "cgroup"}] else . end
      | if $conf != "" then .annotations["org.criu.config"] = $conf else . end' \
    "$b/config.json" >"$b/config.json.new"
  mv "$b/config.json.new" "$b/config.json"
}

# --- one run -----------------------------------------------------------------------------

emit() { jq -cn "$@"; }

keep_logs() {  # keep_logs RUN_DIR NAME
  [ -n "${PROBE_KEEP_LOGS:-}" ] || return 0
  local dest="$PROBE_KEEP_LOGS/$TAG/$2" f
  mkdir -p "$dest"
  for f in "$1"/work-dump/dump.log "$1"/work-restore/restore.log "$1"/images/*.log "$1"/*.log \
           "$1"/*.err "$1"/*.out "$1"/criu.conf; do
    [ -f "$f" ] && cp "$f" "$dest/$(basename "$(dirname "$f")")-$(basename "$f")"
  done
  return 0
}

probe_one() {
  # MODE@new: restore into a new cgroup path and id whatever the mode (ignore always does).
  local mode=${1%@new} mech=$2 ns=$3 newpath=false
  { [ "$mode" = ignore ] || [ "$1" != "$mode" ]; } && newpath=true
  local mtag=$mode
  [ "$1" != "$mode" ] && mtag="$mode-new"
  local id="p$$-$mtag-$mech-$ns" dir="$TMP/$mtag-$mech-$ns"
  local b="$dir/bundle" img="$dir/images" wd="$dir/work-dump" wr="$dir/work-restore" conf=""
  local cg_old="/$CG_PARENT/$id" cg_new="/$CG_PARENT_NEW/$id"
  mkdir -p "$dir" "$wd" "$wr"
  if [ "$mech" != flag ]; then
    conf="$dir/criu.conf"
    echo "manage-cgroups=$mode" >"$conf"
  fi
  local annotation=""
  [ "$mech" = config ] && annotation=$conf
  make_bundle "$b" "$cg_old" "$ns" "$annotation"
  local spec_cgns
  spec_cgns=$(jq '[.linux.namespaces[].type] | index("cgroup") != null' "$b/config.json")

  local -a flag=() envv=()
  [ "$mech" = flag ] && flag=(--manage-cgroups-mode "$mode")
  [ "$mech" = env ] && envv=("CRIU_CONFIG_FILE=$conf")
  if [ "$mech" = userconf ]; then
    mkdir -p "$dir/home/.criu"
    cp "$conf" "$dir/home/.criu/default.conf"
    envv=("HOME=$dir/home")
  fi

  local common
  common=$(emit --arg runtime "$RT_NAME" --arg version "$RT_VERSION" --arg path "$RT" \
    --arg criu "$CRIU_VERSION" --arg kernel "$KERNEL" --arg date "$DATE" --arg mode "$mode" \
    --arg mech "$mech" --arg ns "$ns" --argjson cgns "$spec_cgns" --argjson dflt "$RT_SPEC_CGNS" \
    --argjson newpath "$newpath" --arg v2c "$V2_CONTROLLERS" \
    '{runtime: $runtime, version: $version, runtime_path: $path, criu_version: $criu,
      kernel: $kernel, date: $date, v2_controllers: $v2c, mode: $mode, restore_into_new_cgroup: $newpath,
      mechanism: $mech, cgroupns: $ns,
      config_has_cgroupns: $cgns, default_spec_has_cgroupns: $dflt}')

  CREATED_IDS+=("$id")
  log "$RT_NAME $RT_VERSION + CRIU $CRIU_VERSION: $mode by $mech, cgroupns $ns$([ "$newpath" = true ] && echo ', restore into a new cgroup path')"
  # Detached: the container inherits the runtime's stdio, and CRIU cannot dump stdio on a host
  # file, so /dev/null everywhere and the runtime's own messages in --log.
  if ! timeout 120 "$RT" --root "$RT_ROOT" --log "$dir/run.log" run -d --bundle "$b" "$id" \
      </dev/null >/dev/null 2>&1; then
    emit --argjson c "$common" --arg e "$(tail -n1 "$dir/run.log" 2>/dev/null)" \
      '$c + {side: "checkpoint", ok: false, error: ("run failed: " + $e)}'
    return 0
  fi
  wait_count_above "$b" 3 10 >/dev/null
  local pid before_host inside_before cgns_before
  pid=$(init_pid "$id")
  before_host=$(cat "/proc/$pid/cgroup")
  if inside_before=$(rt exec "$id" cat /proc/1/cgroup 2>&1); then
    inside_before="v1 $(v1_summary <<<"$inside_before"), v2 $(v2_summary <<<"$inside_before")"
  else
    inside_before="exec failed: $(tail -n1 <<<"$inside_before")"
  fi
  cgns_before=$([ "$(readlink "/proc/$pid/ns/cgroup")" != "$HOST_CGNS" ] && echo true || echo false)

  # Checkpoint.
  local ck_ok=true ck_err=""
  if ! env "${envv[@]}" timeout 120 "$RT" --root "$RT_ROOT" checkpoint --image-path "$img" \
      --work-path "$wd" "${flag[@]}" "$id" </dev/null >"$dir/checkpoint.out" 2>&1; then
    ck_ok=false
    ck_err=$(grep -v '^\s*$' "$dir/checkpoint.out" | tail -n1)
  fi
  local dump_log
  dump_log=$(find "$dir" -name dump.log | head -n1)
  local count_at_dump
  count_at_dump=$(cat "$b/rootfs/count" 2>/dev/null || echo 0)
  local adding values parsed img_counts
  adding=$(grep -c 'cg: adding cgroup' "$dump_log" 2>/dev/null || true)
  values=$(grep -c 'cg: Dumping value' "$dump_log" 2>/dev/null || true)
  parsed=$(grep -q 'Parsing config file' "$dump_log" 2>/dev/null && echo true || echo false)
  img_counts=$(cgroup_img_counts "$img/cgroup.img")
  [ "$ck_ok" = true ] || [ -z "$dump_log" ] || ck_err="$ck_err | dump.log: $(criu_error_of "$dump_log")"
  emit --argjson c "$common" --argjson ok "$ck_ok" --arg e "$ck_err" --arg log "${dump_log#"$dir"/}" \
    --argjson add "${adding:-0}" --argjson val "${values:-0}" --argjson parsed "$parsed" \
    --argjson img "$img_counts" --arg host "$(v1_summary <<<"$before_host")" \
    --arg host2 "$(v2_summary <<<"$before_host")" --arg inside "$inside_before" \
    --argjson cgns "$cgns_before" --argjson count "${count_at_dump:-0}" \
    '$c + {side: "checkpoint", ok: $ok, error: (if $e == "" then null else $e end), dump_log: $log,
           dump_cg_adding: $add, dump_cg_values: $val, config_parsed: $parsed,
           cgroup_img_controllers: $img.controllers, cgroup_img_dirs: $img.dirs,
           host_v1_before: $host, host_v2_before: $host2, inside_before: $inside,
           cgroupns_private_before: $cgns, count_at_dump: $count}'
  if [ "$ck_ok" != true ]; then
    emit --argjson c "$common" '$c + {side: "restore", ok: false, skipped: "checkpoint failed"}'
    keep_logs "$dir" "$mtag-$mech-$ns"
    remove_container "$id"
    remove_cgroup "${cg_old#/}"
    return 0
  fi
  local state_after
  state_after=$(rt state "$id" 2>/dev/null | jq -r '.status // empty' || true)
  if [ -n "$state_after" ]; then rt delete -f "$id" >/dev/null 2>&1 || true; fi

  # Restore: ignore into a new cgroup path under a new id, the others in place.
  local rid=$id target=$cg_old
  if [ "$newpath" = true ]; then
    rid="$id-n"
    target=$cg_new
    CREATED_IDS+=("$rid")
    jq --arg cg "$cg_new" '.linux.cgroupsPath = $cg' "$b/config.json" >"$b/config.json.new"
    mv "$b/config.json.new" "$b/config.json"
  fi
  count_at_dump=$(cat "$b/rootfs/count" 2>/dev/null || echo 0)
  local rs_ok=true rs_err=""
  if ! env "${envv[@]}" timeout 120 "$RT" --root "$RT_ROOT" --log "$dir/restore.err" restore -d \
      --image-path "$img" --work-path "$wr" --bundle "$b" "${flag[@]}" "$rid" </dev/null >/dev/null 2>&1; then
    rs_ok=false
    rs_err=$(grep -v '^\s*$' "$dir/restore.err" | tail -n1)
  fi
  local restore_log rmode rparsed
  restore_log=$(find "$wr" "$img" -name restore.log 2>/dev/null | head -n1)
  rmode=$(restore_mode_of "$restore_log")
  rparsed=$(grep -q 'Parsing config file' "$restore_log" 2>/dev/null && echo true || echo false)
  if [ "$rs_ok" != true ]; then
    [ -z "$restore_log" ] || rs_err="$rs_err | restore.log: $(criu_error_of "$restore_log")"
    emit --argjson c "$common" --arg e "$rs_err" --arg m "$rmode" --argjson parsed "$rparsed" \
      --arg log "${restore_log#"$dir"/}" --arg target "$target" \
      '$c + {side: "restore", ok: false, error: $e, restore_mode: $m, config_parsed: $parsed,
             restore_log: $log, target_cgroup: $target}'
    keep_logs "$dir" "$mtag-$mech-$ns"
    return 0
  fi
  local rpid tasks t tasks_json="[]" in_target=true v2_in_target=true v1="" v2="" first=1
  rpid=$(init_pid "$rid")
  tasks=$(tasks_of "$rpid")
  for t in $tasks; do
    local cgtext tv1 tv2
    cgtext=$(cat "/proc/$t/cgroup" 2>/dev/null) || continue
    tv1=$(v1_summary <<<"$cgtext")
    tv2=$(v2_summary <<<"$cgtext")
    [ "$tv1" = "$target" ] || in_target=false
    [ "$tv2" = "$target" ] || v2_in_target=false
    if [ $first -eq 1 ]; then v1=$tv1; v2=$tv2; first=0
    elif [ "$tv1" != "$v1" ]; then v1="$v1 / $tv1"; fi
    tasks_json=$(jq -c --arg p "$t" --arg cg "$cgtext" '. + [{pid: ($p | tonumber), cgroup: ($cg | split("\n"))}]' <<<"$tasks_json")
  done
  local inside_self inside_init cgns_after count_after continued
  inside_self=$(rt exec "$rid" cat /proc/self/cgroup 2>&1 || true)
  inside_init=$(rt exec "$rid" cat /proc/1/cgroup 2>&1 || true)
  cgns_after=$([ "$(readlink "/proc/$rpid/ns/cgroup")" != "$HOST_CGNS" ] && echo true || echo false)
  count_after=$(wait_count_above "$b" "$count_at_dump" 5)
  continued=$([ "$count_after" -gt "$count_at_dump" ] 2>/dev/null && echo true || echo false)
  emit --argjson c "$common" --arg m "$rmode" --argjson parsed "$rparsed" \
    --arg log "${restore_log#"$dir"/}" --arg target "$target" --arg rid "$rid" \
    --argjson tasks "$tasks_json" --argjson in "$in_target" --argjson in2 "$v2_in_target" \
    --arg v1 "$v1" --arg v2 "$v2" \
    --arg self "$inside_self" --arg init "$inside_init" --argjson cgns "$cgns_after" \
    --argjson before "${count_at_dump:-0}" --argjson after "${count_after:-0}" --argjson cont "$continued" \
    --arg stateafter "$state_after" \
    '$c + {side: "restore", ok: true, error: null, restore_mode: $m, config_parsed: $parsed,
           restore_log: $log, container_id: $rid, target_cgroup: $target, tasks: $tasks,
           tasks_in_target: $in, tasks_v2_in_target: $in2, host_v1: $v1, host_v2: $v2,
           inside_self: ($self | split("\n")), inside_init_raw: ($init | split("\n")),
           inside_init: (($init | split("\n") | map(select(test("^[1-9]")) | split(":")[2]) | unique | join(" "))
                         + ", v2 " + ($init | split("\n") | map(select(startswith("0::")) | .[3:]) | join(" "))),
           cgroupns_private: $cgns, count_at_dump: $before, count_after: $after,
           count_continued: $cont,
           checkpointed_container_state: (if $stateafter == "" then "gone" else $stateafter end)}'
  keep_logs "$dir" "$mtag-$mech-$ns"
  remove_container "$rid"
  remove_cgroup "${cg_old#/}"
  remove_cgroup "${cg_new#/}"
}

mkdir -p "$RT_ROOT"
log "$RT ($RT_NAME $RT_VERSION), CRIU $CRIU_VERSION ($CRIU_BIN), kernel $KERNEL"
for ns in $CGROUPNS_VARIANTS; do
  for mech in $MECHANISMS; do
    for mode in $MODES; do
      probe_one "$mode" "$mech" "$ns"
    done
  done
done
