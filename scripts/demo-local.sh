#!/usr/bin/env bash
# Local checkpoint/restore demo of a counting busybox container with migrate-agent's own
# subcommands: the container is checkpointed in cgroup mode `ignore`, restored into a NEW
# cgroup path, and keeps counting; CRIU's logs prove the mode it really ran. Then `strict`
# is shown to be refused before anything is touched. Cleans up after itself.
#
# Needs root, runc, CRIU and busybox-static (scripts/install-deps.sh).
# Environment: MIGRATE_BUILD_DIR (default build), KEEP=1 to keep the demo directory.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

[ "$(id -u)" -eq 0 ] || { echo "demo-local: must run as root (runc + CRIU)" >&2; exit 1; }
BUILD_DIR=${MIGRATE_BUILD_DIR:-build}
AGENT="$BUILD_DIR/agent/migrate-agent"
if [ ! -x "$AGENT" ] || [ -n "$(find agent proto transfer -newer "$AGENT" -name '*.cc' -o -newer "$AGENT" -name '*.h' -o -newer "$AGENT" -name '*.proto' 2>/dev/null | head -n1)" ]; then
  echo "== building migrate-agent"
  GEN=()
  command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
  [ -f "$BUILD_DIR/CMakeCache.txt" ] || cmake -S . -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" --target migrate-agent -j"$(nproc)"
fi
AGENT=$(readlink -f "$AGENT")

DEMO=$(mktemp -d /tmp/migrate-demo-XXXXXX)
ROOT="$DEMO/runc-root"
CONF_DIR="$DEMO/criu-conf"
ID="counter-$$"
CG_PARENT="/migrate-demo-$$"
BUNDLE="$DEMO/bundle"

cleanup() {
  set +e
  runc --root "$ROOT" kill "$ID" KILL >/dev/null 2>&1
  runc --root "$ROOT" delete --force "$ID" >/dev/null 2>&1
  for mnt in $(awk '$9=="cgroup" || $9=="cgroup2" {print $5}' /proc/self/mountinfo); do
    for d in "$mnt$CG_PARENT"/*; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
    [ -d "$mnt$CG_PARENT" ] && rmdir "$mnt$CG_PARENT" 2>/dev/null
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "demo directory kept: $DEMO"; else rm -rf "$DEMO"; fi
}
trap cleanup EXIT

count() { cat "$BUNDLE/rootfs/count" 2>/dev/null || echo "-"; }
wait_count_above() {  # value seconds
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -le $deadline ]; do
    c=$(count)
    [ "$c" != "-" ] && [ "$c" -gt "$1" ] && { echo "$c"; return 0; }
    sleep 0.05
  done
  echo "count did not pass $1 within $2 s" >&2
  return 1
}

echo "== node"
"$AGENT" probe --runc-root "$ROOT" --criu-config-dir "$CONF_DIR" | sed 's/^/   /'

echo "== a counting busybox container (cgroupsPath $CG_PARENT/$ID)"
mkdir -p "$BUNDLE/rootfs/bin" "$BUNDLE/rootfs"/{proc,sys,dev,tmp,etc} "$ROOT" "$CONF_DIR"
cp /bin/busybox "$BUNDLE/rootfs/bin/busybox"
for a in sh usleep mv cat; do ln -s busybox "$BUNDLE/rootfs/bin/$a"; done
runc spec --bundle "$BUNDLE"
LOOP='i=0; while true; do i=$((i+1)); echo $i > /count.tmp; mv /count.tmp /count; usleep 50000; done'
# Edit runc's default spec: no terminal, writable root, the counting loop, a cgroup path, and
# org.criu.config naming this container's CRIU config file (as migrate sets on restore).
sed -i -e 's/"terminal": true/"terminal": false/' \
       -e 's/"readonly": true/"readonly": false/' \
       -e "s|^\(\t*\)\"sh\"\$|\1\"/bin/sh\", \"-c\", \"$LOOP\"|" \
       -e "s|^\t\"linux\": {|\t\"annotations\": {\"org.criu.config\": \"$CONF_DIR/$ID.conf\"},\n\t\"linux\": {\n\t\t\"cgroupsPath\": \"$CG_PARENT/$ID\",|" \
       "$BUNDLE/config.json"
grep -q '"terminal": false' "$BUNDLE/config.json" && grep -q 'usleep 50000' "$BUNDLE/config.json" &&
  grep -q "\"cgroupsPath\": \"$CG_PARENT/$ID\"" "$BUNDLE/config.json" ||
  { echo "demo-local: could not edit runc's default config.json" >&2; exit 1; }
runc --root "$ROOT" run --detach --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>&1
c=$(wait_count_above 10 10)
echo "   running, count $c; its cgroup: $(grep memory /proc/"$(runc --root "$ROOT" state "$ID" | awk -F'[:,]' '/"pid"/ {gsub(/ /,"",$2); print $2}')"/cgroup)"

echo "== checkpoint in cgroup mode ignore"
"$AGENT" checkpoint "$ID" --runc-root "$ROOT" --criu-config-dir "$CONF_DIR" \
  --image-dir "$DEMO/images" --work-dir "$DEMO/dump-work" --cgroups-mode ignore | sed 's/^/   /'
frozen=$(count)
echo "   count at checkpoint: $frozen; container gone: $(runc --root "$ROOT" list -q | grep -c "^$ID\$" || true) left"

echo "== restore in cgroup mode ignore into a new cgroup path $CG_PARENT/moved"
"$AGENT" restore "$ID" --runc-root "$ROOT" --criu-config-dir "$CONF_DIR" \
  --image-dir "$DEMO/images" --work-dir "$DEMO/restore-work" --bundle "$BUNDLE" \
  --cgroups-mode ignore --cgroup-path "$CG_PARENT/moved" | sed 's/^/   /'
after=$(wait_count_above "$((frozen + 10))" 10)
echo "   count continues: $frozen at checkpoint -> $after now"

echo "== strict is refused before anything is touched"
if out=$("$AGENT" restore "$ID-strict" --runc-root "$ROOT" --criu-config-dir "$CONF_DIR" \
    --image-dir "$DEMO/images" --work-dir "$DEMO/strict-work" --bundle "$BUNDLE" \
    --cgroups-mode strict 2>&1); then
  echo "demo-local: strict was NOT refused: $out" >&2
  exit 1
fi
echo "   $out"
echo "   the container still counts: $(wait_count_above "$after" 10)"
echo "== demo done (cleaning up)"
