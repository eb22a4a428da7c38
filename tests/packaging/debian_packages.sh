#!/usr/bin/env bash
# debian_packages.sh BUILD_DIR VERSION: builds the .deb files with cpack, unpacks them into a
# fresh root with dpkg -x, and checks what an operator installs: both programs run from that
# root and say VERSION, the unit, man pages, completions and example config are packaged and
# work, and the Depends are right. Everything happens in a temporary folder, removed at exit.
set -euo pipefail
build=$1 version=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "-- $*"; }

step "cpack -G DEB"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack failed"; }
arch=$(dpkg --print-architecture)
agent=$work/out/migrate-agent_${version}_$arch.deb
controller=$work/out/migrate_${version}_$arch.deb
if [ ! -f "$agent" ] || [ ! -f "$controller" ]; then
  fail "expected two packages, got: $(ls "$work/out")"
fi
stat -c '    %s bytes %n' "$agent" "$controller"

step "contents (dpkg -c)"
expect_files() {
  local deb=$1 file
  shift
  dpkg -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/contents"
  for file in "$@"; do
    grep -qx "$file" "$work/contents" || fail "$(basename "$deb") lacks $file"
  done
}
expect_files "$agent" /usr/sbin/migrate-agent /usr/lib/systemd/system/migrate-agent.service \
  /usr/share/man/man8/migrate-agent.8.gz /usr/share/bash-completion/completions/migrate-agent \
  /usr/share/doc/migrate-agent/examples/agent.json
expect_files "$controller" /usr/bin/migrate /usr/share/man/man1/migrate.1.gz \
  /usr/share/bash-completion/completions/migrate

step "control fields"
field() { dpkg-deb -f "$1" "$2"; }
for deb in "$agent" "$controller"; do
  [ "$(field "$deb" Version)" = "$version" ] || fail "$(basename "$deb"): Version $(field "$deb" Version)"
done
expect_depends() {
  local deb=$1 dep depends
  depends=$(field "$deb" Depends)
  shift
  for dep in "$@"; do
    [[ ", $depends," == *", $dep"[\ ,]* ]] || fail "$(basename "$deb") Depends lacks $dep: $depends"
  done
}
expect_depends "$agent" libc6 libprotobuf32 libssl3 libzstd1 libsystemd0 libprometheus-cpp-core1.0 \
  "runc | crun" iproute2
expect_depends "$controller" libc6 libprotobuf32 libssl3
for lib in libsystemd libprometheus-cpp; do
  [[ $(field "$controller" Depends) != *$lib* ]] || fail "the controller links $lib"
done
dpkg-deb --ctrl-tarfile "$agent" | tar -t | grep -qx './postinst' || fail "no postinst"

step "dpkg -x into $work/root"
root=$work/root
dpkg -x "$agent" "$root"
dpkg -x "$controller" "$root"
[ "$("$root/usr/bin/migrate" --version)" = "migrate $version" ] || fail "migrate --version"
[ "$("$root/usr/sbin/migrate-agent" --version)" = "migrate-agent $version" ] ||
  fail "migrate-agent --version"
"$root/usr/sbin/migrate-agent" --help >"$work/help" || fail "migrate-agent --help"
grep -q '^  serve ' "$work/help" || fail "migrate-agent --help names no serve command"

step "systemd unit"
unit=$root/usr/lib/systemd/system/migrate-agent.service
for line in Type=notify WatchdogSec=30s KillMode=process \
  "ExecStart=migrate-agent serve --config /etc/migrate/agent.json"; do
  grep -qx "$line" "$unit" || fail "the unit lacks $line"
done

step "example config: valid JSON for the agent (it stops at the missing certificate)"
if timeout 20 "$root/usr/sbin/migrate-agent" serve \
  --config "$root/usr/share/doc/migrate-agent/examples/agent.json" \
  --state-dir "$work/state" 2>"$work/serve.err"; then
  fail "serve started with certificates that do not exist"
fi
grep -q 'ca_file /etc/migrate/node-1/ca.pem cannot be read' "$work/serve.err" ||
  fail "example config: $(cat "$work/serve.err")"

step "man pages (man -l)"
expect_man() {
  local page=$1 text
  shift
  MANWIDTH=100 man --warnings -l "$page" >"$work/man.txt" 2>"$work/man.err" ||
    fail "man -l $page"
  [ ! -s "$work/man.err" ] || fail "$(basename "$page"): $(cat "$work/man.err")"
  for text in "$@"; do
    grep -qF -- "$text" "$work/man.txt" || fail "$(basename "$page") does not show: $text"
  done
}
expect_man "$root/usr/share/man/man1/migrate.1.gz" "MIGRATE(1)" "migrate $version" COMMANDS \
  "migrate container" "--cgroups-mode" "migrate hosts check" "migrate certs issue" EXAMPLES \
  MIGRATE_HOSTS "migrate-agent(8)"
expect_man "$root/usr/share/man/man8/migrate-agent.8.gz" "MIGRATE-AGENT(8)" COMMANDS \
  "migrate-agent serve" "--config" "migrate-agent restore" "/etc/migrate/agent.json"

step "bash completion"
cat >"$work/inventory.json" <<'JSON'
{"hosts": [{"name": "node-1", "address": "10.0.0.1", "port": 7443},
           {"name": "node-2", "address": "10.0.0.2", "port": 7443}]}
JSON
# complete FILE FUNCTION WORD...: what bash offers for the last word.
complete_words() {
  local file=$1 function=$2
  shift 2
  MIGRATE_HOSTS=$work/inventory.json bash -c '
    source "$1"; function=$2; shift 2
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    "$function"; echo "${COMPREPLY[*]}"' complete "$file" "$function" "$@"
}
expect_completion() {
  local want=$1 got
  shift
  got=$(complete_words "$@")
  [ "$got" = "$want" ] || fail "completing '${*:3}': got '$got', want '$want'"
}
completions=$root/usr/share/bash-completion/completions
ctl=("$completions/migrate" _migrate migrate)
expect_completion "container" "${ctl[@]}" co
expect_completion "check" "${ctl[@]}" hosts ""
expect_completion "--cgroups-mode --cgroup-path" "${ctl[@]}" container --cg
expect_completion "soft strict" "${ctl[@]}" container web-1 --cgroups-mode s
expect_completion "node-1 node-2" "${ctl[@]}" container web-1 ""
expect_completion "node-2" "${ctl[@]}" container web-1 node-1 --dry-run node-2
expect_completion "node controller" "${ctl[@]}" certs issue --role ""
expect_completion "" "${ctl[@]}" container --timeout ""
agentc=("$completions/migrate-agent" _migrate_agent migrate-agent)
expect_completion "probe checkpoint restore serve" "${agentc[@]}" ""
expect_completion "--config" "${agentc[@]}" serve --conf
[ "$(bash -c ". '$completions/migrate'; complete -p migrate")" = "complete -F _migrate migrate" ] ||
  fail "the completion is not registered for migrate"

echo "ok: packages, contents, control fields, programs, unit, config, man pages, completion"
