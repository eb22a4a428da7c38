#!/usr/bin/env bash
# A hostile source cannot root the destination (docs/agent.md, "Threat model"). Canary files
# outside both state directories (one under /run, one under the test's tmp dir) must stay
# byte-identical, and no file may appear next to them, whatever host-a sends:
#   1. Preflight refusals, real migrations with `migrate container`: a container on host-a
#      whose config.json carries a prestart and a createRuntime hook, a bind mount of a host
#      path, a host network namespace joined by path, a device node, a sysctl, an added
#      capability. Each: exit 1, failed check `container-policy` on host-b naming the part,
#      nothing frozen (no migration folder on host-a, same pid, counting), the hook never ran
#      again, nothing on host-b. Also "Hooks" and "Mounts": runc (Go's encoding/json) matches
#      keys whatever their case.
#   2. A lying source: the test plays the controller (its certificate) and host-a (its valid
#      node certificate, tests/tools/send_tree): preflight and prepare-receive on host-b with a
#      benign config.json, then streams that no honest agent sends: a config with hooks, a
#      rootfs that is a symlink to a host directory, root.path escaping the bundle (relative
#      and absolute), config.json a symlink to a host file, a device node in the rootfs,
#      images holding a symlink, a hard link or a FIFO. Each: the stream or /v1/restore is
#      refused with the reason, host-b rolls back, no container and nothing of the migration
#      left on host-b.
#   3. Real images (dumped on host-a by hand), so that runc's restore runs the config's hooks:
#      a hook carrying migrate's own loopback marker (which the policy leaves to the restore)
#      forged by the source: the container is restored on host-b and the forged hook never
#      ran (the restore removes it); a createRuntime hook under "Hooks": refused. Both rolled
#      back.
source "$(dirname "$0")/lib.sh"
: "${MIGRATE_SEND_TREE:?MIGRATE_SEND_TREE must name tests/tools send_tree}"
PKI=$(dirname "$MIGRATE_HOSTS")/pki
B_DATA=198.18.0.2  # host-b's data address, reached from host-a's namespace (test-hosts.sh)
CANARY=/run/migrate-hostile-canary-$$
# A network namespace of this host that a container joins by path (/proc/1/ns/net cannot be
# opened here: the machine may itself run in a container).
JOIN_NETNS=migrate-hostile-$$
ip netns add "$JOIN_NETNS"
trap 'cleanup_containers; ip netns del "$JOIN_NETNS" 2>/dev/null || true; rm -rf "$TEST_TMP" "$CANARY"' EXIT

# --- canaries ------------------------------------------------------------------------------
mkdir -p "$CANARY/etc" "$CANARY/rootfs-target/bin" "$TEST_TMP/canary"
echo 'root:$6$canary:19000:0:99999:7:::' >"$CANARY/etc/shadow"
chmod 0600 "$CANARY/etc/shadow"
head -c 4096 /dev/urandom >"$CANARY/etc/blob"
cp /bin/busybox "$CANARY/rootfs-target/bin/busybox"
head -c 4096 /dev/urandom >"$TEST_TMP/canary/blob"
CANARY_TREES=("$CANARY" "$TEST_TMP/canary")
manifest() {  # every entry under the canary trees: path, type, mode, size, sha256 of files
  find "${CANARY_TREES[@]}" -printf '%p %y %m %s\n' | sort
  find "${CANARY_TREES[@]}" -type f -print0 | sort -z | xargs -0 sha256sum
}
manifest >"$TEST_TMP/canary.manifest"
log "canaries: $(grep -c ' f ' "$TEST_TMP/canary.manifest") files under ${CANARY_TREES[*]}"
expect_canaries_intact() {
  manifest >"$TEST_TMP/canary.now"
  diff "$TEST_TMP/canary.manifest" "$TEST_TMP/canary.now" >&2 ||
    fail "$1: the canaries changed (above)"
}

# --- 1. preflight refusals -----------------------------------------------------------------
HOOK_LOG=$TEST_TMP/hook-ran
# refused_in_preflight NAME JQ WORD: a container started on host-a with config.json edited by
# JQ; its migration must be refused by host-b's container-policy check, whose detail has WORD.
refused_in_preflight() {
  local name=$1 filter=$2 word=$3 id=hostile-$1-$$ pid a_before b_before detail hooks
  SAMPLE_JQ=$filter start_counter host-a "$id"
  pid=$(container_pid host-a "$id")
  hooks=$(cat "$HOOK_LOG" 2>/dev/null || true)
  a_before=$(migration_dirs host-a)
  b_before=$(migration_dirs host-b)
  migrate_json "$id" host-a host-b
  [ "$RC" = 1 ] || fail "$name: exit $RC, expected 1 (refused in preflight)"
  [ "$(report .status)" = failed ] || fail "$name: status $(report .status)"
  [ "$(report .frozen)" = false ] || fail "$name: the source was asked to freeze"
  detail=$(report '.checks[] | select(.host == "host-b" and .name == "container-policy" and (.ok | not)) | .detail')
  [ -n "$detail" ] || fail "$name: no failed container-policy check on host-b: $(report .checks)"
  grep -qF -- "$word" <<<"$detail" || fail "$name: container-policy does not name '$word': $detail"
  log "$name refused: $detail"
  # Nothing frozen: checkpoint-send never ran (it makes the source's migration folder), the
  # container kept its pid and counts on.
  [ "$(migration_dirs host-a)" = "$a_before" ] || fail "$name: a migration began on host-a"
  [ "$(migration_dirs host-b)" = "$b_before" ] || fail "$name: a migration began on host-b"
  [ "$(container_pid host-a "$id")" = "$pid" ] || fail "$name: the container was restarted"
  expect_counting host-a "$id" 0
  expect_absent host-b "$id"
  [ ! -e "$HOST_B_STATE_DIR/containers/$id" ] || fail "$name: host-b holds a bundle of $id"
  [ "$(cat "$HOOK_LOG" 2>/dev/null || true)" = "$hooks" ] || fail "$name: a hook ran again"
  expect_canaries_intact "$name"
  RUNTIME=$(runtime_of host-a) "$SAMPLE" remove "$id" "$(runc_root host-a)"
}

hook="{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo ran >> $HOOK_LOG\"]}"
refused_in_preflight hooks \
  ".hooks = {prestart: [$hook], createRuntime: [$hook]}" "hooks.prestart[0]: runs /bin/sh"
grep -qF "hooks.createRuntime[0]" <<<"$(report .checks)" || fail "createRuntime hook not named"
[ -s "$HOOK_LOG" ] || fail "the hooks did not run on host-a (runc ignored them?)"
refused_in_preflight bind-mount \
  ".mounts += [{destination: \"/mnt/host\", type: \"bind\", source: \"$CANARY\", options: [\"rbind\", \"ro\"]}]" \
  "bind mount of $CANARY from this host"
refused_in_preflight netns-by-path \
  ".linux.namespaces |= map(if .type == \"network\" then . + {path: \"/run/netns/$JOIN_NETNS\"} else . end)" \
  "joins the network namespace /run/netns/$JOIN_NETNS"
refused_in_preflight device \
  '.linux.devices = [{path: "/dev/kmsg", type: "c", major: 1, minor: 11, fileMode: 420, uid: 0, gid: 0}]' \
  "linux.devices[0]: /dev/kmsg"
refused_in_preflight sysctl '.linux.sysctl = {"net.ipv4.ip_forward": "1"}' \
  "linux.sysctl net.ipv4.ip_forward"
refused_in_preflight capability '.process.capabilities |= map_values(. + ["CAP_SYS_ADMIN"])' \
  "CAP_SYS_ADMIN beyond runc's default set"
# runc reads config.json with Go's encoding/json, which matches a key to a field whatever its
# case: "Hooks" is runc's hooks, "Mounts" (the later key) its mounts.
refused_in_preflight hooks-key-case ".Hooks = {createRuntime: [$hook]}" '"Hooks"'
grep -c ran "$HOOK_LOG" | grep -qx 3 || fail "the Hooks hook did not run on host-a (runc ignored it?)"
refused_in_preflight mounts-key-case \
  ".Mounts = .mounts + [{destination: \"/mnt/host\", type: \"bind\", source: \"$CANARY\", options: [\"rbind\", \"ro\"]}]" \
  '"Mounts"'

# --- 2. a lying source ---------------------------------------------------------------------
# benign_bundle DIR: runc's default spec and a busybox root: what host-b's preflight approves.
benign_bundle() {
  mkdir -p "$1/rootfs/bin"
  cp /bin/busybox "$1/rootfs/bin/busybox"
  runc spec --bundle "$1"
  jq '.process.terminal = false' "$1/config.json" >"$1/config.json.new"
  mv "$1/config.json.new" "$1/config.json"
}
# benign_images DIR: files named like CRIU's images (regular files only).
benign_images() {
  mkdir -p "$1"
  head -c 512 /dev/urandom >"$1/inventory.img"
  head -c 65536 /dev/urandom >"$1/pages-1.img"
}
pb_bytes() { jq -c . "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }  # a file as a text-format bytes value
pb_field() { sed -n "s/^$1: \"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" <<<"$API_OUT" | head -n 1; }
new_migration_id() { od -An -tx1 -N8 /dev/urandom | tr -d ' \n'; }

BENIGN=$TEST_TMP/benign-bundle
benign_bundle "$BENIGN"

# lie_prepare ID: preflight on host-b with the benign config, then prepare-receive; sets MID,
# BUNDLE_TOKEN, IMAGES_TOKEN, DATA_PORT.
lie_prepare() {
  local id=$1
  MID=$(new_migration_id)
  CREATED+=("host-b $id")
  api host-b /v1/preflight PreflightRequest "migration_id: \"$MID\" role: ROLE_DESTINATION
    container_id: \"$id\" cgroup_mode: CGROUP_MODE_SOFT bytes_needed: 67108864
    source_config_json: \"$(pb_bytes "$BENIGN/config.json")\"" PreflightResponse
  [ "$API_STATUS" = 200 ] || fail "$id: preflight on host-b failed"
  grep -A1 'name: "container-policy"' <<<"$API_OUT" | grep -q 'ok: true' ||
    fail "$id: host-b's preflight did not approve the benign config"
  api host-b /v1/prepare-receive PrepareReceiveRequest "migration_id: \"$MID\"
    container_id: \"$id\" source_node: \"host-a\" bytes_needed: 67108864" PrepareReceiveResponse
  [ "$API_STATUS" = 200 ] || fail "$id: prepare-receive on host-b failed"
  BUNDLE_TOKEN=$(pb_field bundle_token)
  IMAGES_TOKEN=$(pb_field images_token)
  DATA_PORT=$(pb_field data_port)
  [ -n "$BUNDLE_TOKEN" ] && [ -n "$IMAGES_TOKEN" ] && [ -n "$DATA_PORT" ] ||
    fail "$id: prepare-receive answered no tokens: $API_OUT"
}

# send_as_host_a TOKEN DIR: streams DIR from host-a's namespace with host-a's certificate;
# sets SEND_RC and SEND_OUT (the receiver's reason when refused).
send_as_host_a() {
  set +e
  SEND_OUT=$(timeout 60 nsenter --net="$HOST_A_NETNS" "$MIGRATE_SEND_TREE" \
    --ca "$PKI/host-a/ca.pem" --cert "$PKI/host-a/cert.pem" --key "$PKI/host-a/key.pem" \
    --host "$B_DATA" --port "$DATA_PORT" --server-name host-b --token "$1" "$2" 2>&1)
  SEND_RC=$?
  set -e
  log "send $(basename "$2") as host-a -> exit $SEND_RC: $SEND_OUT"
}

# lie_restore ID MODE: /v1/restore on host-b (sets API_STATUS, API_OUT).
lie_restore() {
  api host-b /v1/restore RestoreRequest "migration_id: \"$MID\" container_id: \"$1\"
    cgroup_mode: $2" RestoreResponse
}

# rolled_back ID NAME: host-b rolls the migration back; nothing of it is left there.
rolled_back() {
  local id=$1 name=$2 d
  api host-b /v1/rollback RollbackRequest "migration_id: \"$MID\" peer_node: \"host-a\"
    reason: \"test: hostile source\"" MigrationStatus
  [ "$API_STATUS" = 200 ] || fail "$name: rollback on host-b failed"
  grep -q 'phase: PHASE_ROLLED_BACK' <<<"$API_OUT" || fail "$name: not rolled back: $API_OUT"
  [ "$(journal_phase host-b "$MID")" = ROLLED_BACK ] || fail "$name: journal says $(journal_phase host-b "$MID")"
  expect_absent host-b "$id"
  [ ! -e "$HOST_B_STATE_DIR/containers/$id" ] || fail "$name: host-b kept $(ls -R "$HOST_B_STATE_DIR/containers/$id")"
  [ ! -e "$HOST_B_STATE_DIR/migrations/$MID/images" ] || fail "$name: host-b kept the images"
  d=$HOST_B_STATE_DIR/staging
  if [ -d "$d" ] && [ -n "$(ls -A "$d")" ]; then fail "$name: staging left on host-b: $(ls -A "$d")"; fi
  for d in /sys/fs/cgroup/*/migrate-host-b/"$id"; do
    [ -d "$d" ] && fail "$name: cgroup $d left on host-b"
  done
  [ ! -e "$CANARY/pwned" ] || fail "$name: the hostile bundle wrote $CANARY/pwned"
  expect_canaries_intact "$name"
  log "$name: rolled back, nothing left on host-b, canaries intact"
}

# lie_send NAME ID BUNDLE_DIR IMAGES_DIR KIND: prepares ID on host-b (lie_prepare) and streams
# BUNDLE_DIR and IMAGES_DIR (KIND: benign or real images) as host-a; both must be accepted.
lie_send() {
  local name=$1 id=$2 bundle=$3 images=$4 kind=$5
  lie_prepare "$id"
  send_as_host_a "$BUNDLE_TOKEN" "$bundle"
  [ "$SEND_RC" = 0 ] || fail "$name: the bundle stream was refused: $SEND_OUT"
  send_as_host_a "$IMAGES_TOKEN" "$images"
  [ "$SEND_RC" = 0 ] || fail "$name: the $kind images were refused: $SEND_OUT"
}

# lie_bundle NAME BUNDLE_DIR WORD: host-b approved the benign config; the source streams
# BUNDLE_DIR instead (and benign images). The restore must be refused naming WORD (the whole
# refusal is left in REFUSAL).
lie_bundle() {
  local name=$1 bundle=$2 word=$3 id=lie-$1-$$ images=$TEST_TMP/images-$1
  benign_images "$images"
  lie_send "$name" "$id" "$bundle" "$images" benign
  lie_restore "$id" CGROUP_MODE_SOFT
  [ "$API_STATUS" != 200 ] || fail "$name: host-b restored the lying bundle"
  grep -q 'restore refused' <<<"$API_OUT" || fail "$name: restore failed, but not refused: $API_OUT"
  grep -qF -- "$word" <<<"$API_OUT" || fail "$name: the refusal does not name '$word': $API_OUT"
  [ "$(journal_phase host-b "$MID")" = PREPARED ] || fail "$name: refused after $(journal_phase host-b "$MID")"
  REFUSAL=$API_OUT
  rolled_back "$id" "$name"
}

# lie_images NAME IMAGES_DIR WORD: a benign bundle, then images no CRIU writes: the images
# stream must be refused naming WORD, and so must the restore.
lie_images() {
  local name=$1 images=$2 word=$3 id=lie-$1-$$
  lie_prepare "$id"
  send_as_host_a "$BUNDLE_TOKEN" "$BENIGN"
  [ "$SEND_RC" = 0 ] || fail "$name: the benign bundle was refused: $SEND_OUT"
  send_as_host_a "$IMAGES_TOKEN" "$images"
  [ "$SEND_RC" != 0 ] || fail "$name: host-b accepted the images"
  grep -qiF -- "$word" <<<"$SEND_OUT" || fail "$name: the images refusal does not name '$word': $SEND_OUT"
  lie_restore "$id" CGROUP_MODE_SOFT
  [ "$API_STATUS" != 200 ] || fail "$name: host-b restored without the images"
  grep -q 'images stream did not arrive' <<<"$API_OUT" || fail "$name: restore answered $API_OUT"
  rolled_back "$id" "$name"
}

# lie_bundle_stream NAME BUNDLE_DIR WORD: a bundle the receiver itself must refuse (naming
# WORD); the restore then finds no bundle.
lie_bundle_stream() {
  local name=$1 bundle=$2 word=$3 id=lie-$1-$$ images=$TEST_TMP/images-$1
  benign_images "$images"
  lie_prepare "$id"
  send_as_host_a "$BUNDLE_TOKEN" "$bundle"
  [ "$SEND_RC" != 0 ] || fail "$name: host-b accepted the bundle"
  grep -qiF -- "$word" <<<"$SEND_OUT" || fail "$name: the bundle refusal does not name '$word': $SEND_OUT"
  send_as_host_a "$IMAGES_TOKEN" "$images"
  [ "$SEND_RC" = 0 ] || fail "$name: the benign images were refused: $SEND_OUT"
  lie_restore "$id" CGROUP_MODE_SOFT
  [ "$API_STATUS" != 200 ] || fail "$name: host-b restored without the bundle"
  grep -q 'bundle stream did not arrive' <<<"$API_OUT" || fail "$name: restore answered $API_OUT"
  rolled_back "$id" "$name"
}

# Hooks that would write a canary file, in every stage runc knows.
bundle=$TEST_TMP/bundle-hooks
cp -a "$BENIGN" "$bundle"
pwn="{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"echo pwned > $CANARY/pwned\"]}"
jq ".hooks = {prestart: [$pwn], createRuntime: [$pwn], createContainer: [$pwn], startContainer: [$pwn], poststart: [$pwn], poststop: [$pwn]}" \
  "$BENIGN/config.json" >"$bundle/config.json"
lie_bundle hooks "$bundle" "hooks.prestart[0]: runs /bin/sh"
grep -qF 'hooks.poststop[0]' <<<"$REFUSAL" || fail "hooks: the poststop hook is not named"

# The rootfs a symlink to a host directory (runc would restore onto it).
bundle=$TEST_TMP/bundle-rootfs-link
mkdir -p "$bundle"
cp "$BENIGN/config.json" "$bundle/config.json"
ln -s "$CANARY/rootfs-target" "$bundle/rootfs"
lie_bundle rootfs-symlink "$bundle" "is not a directory inside"

# root.path leaving the bundle, relative and absolute.
for kind in relative absolute; do
  bundle=$TEST_TMP/bundle-root-$kind
  cp -a "$BENIGN" "$bundle"
  if [ "$kind" = relative ]; then root="../../../../../../../..$CANARY/rootfs-target"; else root=$CANARY/rootfs-target; fi
  jq --arg r "$root" '.root.path = $r' "$BENIGN/config.json" >"$bundle/config.json"
  lie_bundle "root-$kind" "$bundle" "must be a relative path inside the bundle"
  grep -qF "root.path \\'$root\\'" <<<"$REFUSAL" || fail "root-$kind: the refusal does not name $root"
done

# config.json a symlink to a host file (the agent would read and then rewrite it).
cp "$BENIGN/config.json" "$CANARY/etc/config.json"
manifest >"$TEST_TMP/canary.manifest"
bundle=$TEST_TMP/bundle-config-link
mkdir -p "$bundle"
cp -a "$BENIGN/rootfs" "$bundle/rootfs"
ln -s "$CANARY/etc/config.json" "$bundle/config.json"
lie_bundle config-symlink "$bundle" "config.json is a symlink: refused"

# A device node in the root file system (/dev/mem: all of host-b's memory), which host-b's
# policy does not admit (received_containers.allow_device_nodes is off).
bundle=$TEST_TMP/bundle-device
cp -a "$BENIGN" "$bundle"
mkdir -p "$bundle/rootfs/dev"
mknod -m 0600 "$bundle/rootfs/dev/mem" c 1 1
lie_bundle_stream device-node "$bundle" "device nodes are refused in received trees"

# Images holding a symlink to a host file (CRIU, as root, opens images by name).
images=$TEST_TMP/images-symlink
benign_images "$images"
ln -s "$CANARY/etc/shadow" "$images/core-1.img"
lie_images images-symlink "$images" symlink

# Images holding a hard link.
images=$TEST_TMP/images-hardlink
benign_images "$images"
ln "$images/pages-1.img" "$images/pages-2.img"
lie_images images-hardlink "$images" "hard link"

# Images holding a FIFO (CRIU, as root, would block opening it, or read what a writer feeds).
images=$TEST_TMP/images-fifo
benign_images "$images"
mkfifo "$images/core-1.img"
lie_images images-fifo "$images" "no special files in this stream"

# --- 3. real images: the restore runs runc's hooks -------------------------------------------
# lie_real_images NAME ID JQ: a counting container on host-a, dumped there by hand (runc
# checkpoint: host-a's root does as it likes), streamed to host-b with its bundle's
# config.json edited by JQ, after a preflight of the benign config; then /v1/restore.
lie_real_images() {
  local name=$1 id=$2 filter=$3 src images=$TEST_TMP/images-$1 bundle=$TEST_TMP/bundle-$1
  start_counter host-a "$id"
  src=$(container_bundle host-a "$id")
  timeout 60 "$(runtime_of host-a)" --root "$(runc_root host-a)" checkpoint \
    --image-path "$images" --work-path "$TEST_TMP/dump-work-$name" -- "$id" ||
    fail "$name: runc checkpoint of $id on host-a failed"
  cp -a "$src" "$bundle"
  jq "$filter" "$src/config.json" >"$bundle/config.json"
  lie_send "$name" "$id" "$bundle" "$images" real
  lie_restore "$id" CGROUP_MODE_IGNORE
}

# The policy leaves prestart hooks marked as migrate's loopback hook to the restore, which
# removes every one of them: a source may mark its own hook so. With real images the restore
# runs runc's prestart hooks, so a forged hook that were kept would write the canary.
ID=lie-forged-$$
forged="{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"# migrate: loopback up during restore\\necho pwned > $CANARY/pwned\"]}"
lie_real_images forged "$ID" ".hooks = {prestart: [$forged]}"
[ "$API_STATUS" = 200 ] || fail "forged hook: the restore of real images failed: $API_OUT"
[ "$(container_status host-b "$ID")" = running ] || fail "forged hook: $ID does not run on host-b"
[ ! -e "$CANARY/pwned" ] || fail "forged hook: host-b ran the source's hook"
grep -q 'loopback_up: true' <<<"$API_OUT" || fail "forged hook: host-b's own loopback hook did not run"
grep -qF 'echo pwned' "$(container_bundle host-b "$ID")/config.json" &&
  fail "forged hook: host-b kept the forged hook in the restored bundle"
log "forged hook: restored on host-b without it (host-b's own loopback hook ran)"
rolled_back "$ID" "forged hook"

# "Hooks", which runc reads as its hooks (and merges with the "hooks" the restore adds): a
# createRuntime hook that runc would run during the restore, as root on host-b.
ID=lie-hooks-key-$$
lie_real_images hooks-key "$ID" ".Hooks = {createRuntime: [$pwn]}"
[ ! -e "$CANARY/pwned" ] || fail "Hooks: host-b ran the source's hook (it wrote $CANARY/pwned)"
[ "$API_STATUS" != 200 ] || fail "Hooks: host-b restored a config with \"Hooks\""
grep -q 'restore refused' <<<"$API_OUT" || fail "Hooks: restore failed, but not refused: $API_OUT"
grep -qF '\"Hooks\"' <<<"$API_OUT" || fail "Hooks: the refusal does not name \"Hooks\": $API_OUT"
rolled_back "$ID" "Hooks"

expect_canaries_intact "the end"
log PASS
