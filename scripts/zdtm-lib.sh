# Shared by scripts/zdtm-run.sh (plain runc on one host) and the migration suite
# (tests/integration/zdtm/): the selection's columns, the busybox bundle of one zdtm test, and
# a test's start, pid and verdict read from its root file system. Source it; it sets nothing
# but functions and ZDTM_LIB_DIR.
#
# The test's files live in the container's /zdtm (bundle/rootfs/zdtm): TEST.pid (written by
# the test's launcher), TEST.started (zdtm_init: the launcher's exit status), TEST.start (the
# test's output until it redirects it), TEST.out.inprogress, then TEST.out (last line PASS or
# FAIL).

ZDTM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# zdtm_row TEST SELECTION: "args criu caps control cr tag" of TEST's line ('-' each if absent).
zdtm_row() {
  sed -e 's/#.*//' "$2" | awk -v t="$1" '$1 == t {print $2, $3, $4, $5, $6, $7; f=1}
    END {if (!f) print "- - - - - -"}'
}

# zdtm_make_base_rootfs DIR: busybox and its applets, /etc/passwd and /etc/group, a world-
# writable /zdtm. zdtm_make_bundle copies $ZDTM_BASE_ROOTFS when set (one such tree for many
# bundles is much faster than ~400 symlinks each time), else makes it in place.
zdtm_make_base_rootfs() {
  local r=$1 a
  mkdir -p "$r"/{bin,proc,sys,dev,tmp,etc,zdtm}
  chmod 1777 "$r/tmp"
  chmod 0777 "$r/zdtm"
  cp "${BUSYBOX:-/bin/busybox}" "$r/bin/busybox"
  for a in $("${BUSYBOX:-/bin/busybox}" --list); do
    [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
  done
  echo 'root:x:0:0:root:/:/bin/sh' >"$r/etc/passwd"
  echo 'root:x:0:' >"$r/etc/group"
}

# zdtm_make_bundle BUNDLE TEST CGROUPS_PATH ARGS CAPS BIN_DIR [CRIU_CONFIG]: a bundle whose PID 1
# is zdtm_init running BIN_DIR/TEST in /zdtm. ARGS and CAPS are the selection's columns
# (comma separated, '-' none; '@' in ARGS is the test's name, env:K=V an environment variable).
# runc's default spec otherwise, with no terminal, a writable root, CAPS added, and a prestart
# hook that brings loopback up (tests use 127.0.0.1 from the start). CRIU_CONFIG, when given,
# is named by the org.criu.config annotation.
zdtm_make_bundle() {
  local b=$1 test=$2 cg=$3 args=$4 caps=$5 bin_dir=$6 conf=${7:-} r=$1/rootfs a w
  local test_args=() test_env=() words=()
  if [ "$args" != - ]; then
    IFS=, read -r -a words <<<"${args//@/$test}"
    for w in "${words[@]}"; do
      case "$w" in
        env:*) test_env+=("${w#env:}") ;;
        *) test_args+=("$w") ;;
      esac
    done
  fi
  local args_json env_json caps_json='[]'
  args_json=$(jq -cn --args '$ARGS.positional' -- /zdtm/zdtm_init "$test.started" "$test.start" \
    "./$test" --pidfile="$test.pid" --outfile="$test.out" "${test_args[@]}")
  env_json=$(jq -cn --args '$ARGS.positional' -- "${test_env[@]}")
  if [ "$caps" != - ]; then  # SETUID or CAP_SETUID
    caps_json=$(jq -cn --arg c "$caps" '$c | ascii_upcase | split(",") | map(if startswith("CAP_") then . else "CAP_" + . end)')
  fi
  if [ -n "${ZDTM_BASE_ROOTFS:-}" ]; then
    mkdir -p "$r" && cp -a "$ZDTM_BASE_ROOTFS/." "$r/"
  else
    zdtm_make_base_rootfs "$r"
  fi
  cp "$bin_dir/$test" "$r/zdtm/$test"
  cp "$bin_dir/zdtm_init" "$r/zdtm/zdtm_init"
  (cd "$b" && runc spec)
  local hook='p=$(sed -n '\''s/.*"pid": *\([0-9][0-9]*\).*/\1/p'\''); [ -n "$p" ] && nsenter --net=/proc/$p/ns/net ip link set lo up; exit 0'
  jq --arg cg "$cg" --arg hook "$hook" --arg conf "$conf" \
     --argjson caps "$caps_json" --argjson args "$args_json" --argjson env "$env_json" '
       .process.terminal = false
     | .process.args = $args
     | .process.env += $env
     | .process.cwd = "/zdtm"
     | .root.readonly = false
     | .linux.cgroupsPath = $cg
     | if $conf != "" then .annotations["org.criu.config"] = $conf else . end
     | .hooks.prestart = [{path: "/bin/sh", args: ["sh", "-c", $hook],
                           env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}]
     | .process.capabilities |= with_entries(
         if (.key | IN("bounding", "effective", "permitted")) then .value = (.value + $caps | unique)
         else . end)
     ' "$b/config.json" >"$b/config.json.new"
  mv "$b/config.json.new" "$b/config.json"
}

# zdtm_wait_for SECONDS CMD...: polls CMD every 0.05 s until it succeeds or time is up.
zdtm_wait_for() {
  local n=$(($1 * 20))
  shift
  while [ "$n" -gt 0 ]; do
    "$@" && return 0
    sleep 0.05
    n=$((n - 1))
  done
  return 1
}

zdtm_said() {  # zdtm_said ZDIR TEST [N]: the last N (4) non-empty lines of the outfile, one line
  grep -v '^$' "$1/$2.out" 2>/dev/null | tail -n "${3:-4}" | tr '\n' ' ' | cut -c1-400
}

# zdtm_wait_ready ZDIR TEST SECONDS: the test runs (its launcher exited 0) and has not ended.
# Otherwise prints why and returns 1.
zdtm_wait_ready() {
  local z=$1 t=$2 launcher
  zdtm_launched() { [ -s "$z/$t.pid" ] || [ -s "$z/$t.started" ]; }
  if ! zdtm_wait_for "$3" zdtm_launched; then
    echo "no pidfile after $3 s"
    return 1
  fi
  # The launcher's status comes right after the pidfile: it is 0 once the test runs.
  zdtm_wait_for 5 test -s "$z/$t.started" || true
  launcher=$(cat "$z/$t.started" 2>/dev/null || echo '?')
  if [ "$launcher" != 0 ]; then
    echo "the test did not start (launcher exit $launcher): $(cat "$z/$t.start" "$z/$t.out.inprogress" \
      "$z/$t.out" 2>/dev/null | tr '\n' ' ' | cut -c1-400)"
    return 1
  fi
  zdtm_not_ended "$z" "$t"
}

# zdtm_not_ended ZDIR TEST: fails, saying what the test wrote, when it ended before SIGTERM.
zdtm_not_ended() {
  [ -e "$1/$2.out" ] || return 0
  echo "the test exited before SIGTERM: $(zdtm_said "$1" "$2")"
  return 1
}

# zdtm_host_pid CONTAINER_PID HOST_PID...: which of the given host pids (the container's tasks,
# e.g. from `runc ps`) is CONTAINER_PID in the container's pid namespace (NSpid's last field;
# not /proc/<pid>/ns/pid, unreadable for a task that made itself non-dumpable).
zdtm_host_pid() {
  local cpid=$1 p nspid
  shift
  for p in "$@"; do
    nspid=$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status" 2>/dev/null) || continue
    [ "$nspid" = "$cpid" ] && { echo "$p"; return 0; }
  done
  return 1
}

# zdtm_result ZDIR TEST SECONDS: after SIGTERM, waits for the outfile; prints "PASS <its last
# line>" (status 0) or "FAIL <what it said>" (status 1).
zdtm_result() {
  local z=$1 t=$2
  if ! zdtm_wait_for "$3" test -e "$z/$t.out"; then
    echo "FAIL no outfile $3 s after SIGTERM ($(tail -n 3 "$z/$t.out.inprogress" 2>/dev/null | tr '\n' ' '))"
    return 1
  fi
  if tail -n 1 "$z/$t.out" | grep -qw PASS; then
    echo "PASS $(tail -n 1 "$z/$t.out")"
    return 0
  fi
  echo "FAIL $(zdtm_said "$z" "$t")"
  return 1
}
