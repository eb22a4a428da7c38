#!/usr/bin/env bash
# Builds CRIU's zdtm static tests, statically linked (they run in a busybox root file system),
# from the CRIU source tree that scripts/install-deps.sh fetches.
#
#   build-zdtm.sh [--src CRIU_TREE] [--list FILE] OUT_DIR
#
#   --src   a CRIU source tree holding test/zdtm (default /var/cache/migrate-deps/criu-4.1.1;
#           when it lacks test/zdtm, test/zdtm is extracted from the cached orig tarball beside it
#           into OUT_DIR/src; the given tree is never written to)
#   --list  the tests to build: first word of each line, '#' comments (default
#           tests/zdtm/selection.txt)
#
# OUT_DIR/bin/<test>   the static binaries (and zdtm_init, the containers' PID 1)
# OUT_DIR/desc/<test>.desc  zdtm's descriptions
# OUT_DIR/built.txt    what built              OUT_DIR/failed.txt        what did not (+ why)
# OUT_DIR/build.log    make's output           OUT_DIR/build/            the build tree (a copy)
#
# Idempotent: a second run with the same source rebuilds nothing. Exit 1 when a test of the list
# does not build (the others are still built and installed).
set -euo pipefail

CRIU_VERSION=4.1.1
DEPS_DIR=${MIGRATE_DEPS_BUILD_DIR:-/var/cache/migrate-deps}
CRIU_TARBALL=$DEPS_DIR/criu_${CRIU_VERSION}.orig.tar.xz
CRIU_SHA256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
HERE=$(cd "$(dirname "$0")" && pwd)

log() { printf 'build-zdtm: %s\n' "$*" >&2; }
die() { printf 'build-zdtm: error: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,18s/^# \{0,1\}//p' "$0" >&2; exit 2; }

src=$DEPS_DIR/criu-$CRIU_VERSION
list=$HERE/../tests/zdtm/selection.txt
while [ $# -gt 0 ]; do
  case "$1" in
    --src) [ $# -ge 2 ] || usage; src=$2; shift 2 ;;
    --list) [ $# -ge 2 ] || usage; list=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
out=$1
[ -f "$list" ] || die "no test list $list"
mkdir -p "$out"
out=$(cd "$out" && pwd)

mapfile -t tests < <(sed -e 's/#.*//' "$list" | awk 'NF {print $1}')
[ "${#tests[@]}" -gt 0 ] || die "$list names no test"

# The zdtm sources: the given tree, else test/zdtm out of the cached tarball.
zdtm=$src/test/zdtm
if [ ! -f "$zdtm/static/Makefile" ] || [ ! -f "$zdtm/lib/Makefile" ]; then
  zdtm=$out/src/criu-$CRIU_VERSION/test/zdtm
  if [ ! -f "$zdtm/static/Makefile" ]; then
    [ -f "$CRIU_TARBALL" ] || die "no zdtm in $src and no $CRIU_TARBALL (run scripts/install-deps.sh)"
    echo "$CRIU_SHA256  $CRIU_TARBALL" | sha256sum -c --status || die "checksum mismatch: $CRIU_TARBALL"
    log "extracting test/zdtm from $CRIU_TARBALL"
    rm -rf "$out/src" && mkdir -p "$out/src"
    tar -C "$out/src" -xJf "$CRIU_TARBALL" "criu-$CRIU_VERSION/test/zdtm"
  fi
fi
for t in "${tests[@]}"; do
  [ -f "$zdtm/static/$t.c" ] || die "$t: no $zdtm/static/$t.c"
done

# Build in a copy: the source tree stays as install-deps left it (zdtm's make writes .gitignore,
# objects and dependency files next to the sources). The copy keeps mtimes, and is only
# refreshed when a source file changes (name, size or mtime), so make stays incremental.
build=$out/build
stamp="$(cd "$zdtm" && pwd) $(cd "$zdtm" && find Makefile.inc lib static -type f -printf '%p %s %T@\n' |
  sort | sha256sum | cut -c1-16)"
if [ "$(cat "$build/.source" 2>/dev/null)" != "$stamp" ]; then
  log "copying zdtm sources from $zdtm"
  rm -rf "$build" && mkdir -p "$build/zdtm"
  cp -a "$zdtm/Makefile.inc" "$zdtm/lib" "$zdtm/static" "$build/zdtm/"
  # Nothing built in the source tree may leak into the copy.
  (cd "$build/zdtm" && find lib static \( -name '*.o' -o -name '*.d' -o -name '*.a' \) -delete)
  echo "$stamp" >"$build/.source"
fi

start=$(date +%s)
log "building ${#tests[@]} tests (static) into $out/bin"
# LDFLAGS through the environment: zdtm's makefiles append to it (a command-line value would
# replace their per-target additions).
set +e
LDFLAGS=-static nice -n 10 make -k -j"$(nproc)" -C "$build/zdtm/static" "${tests[@]}" \
  >"$out/build.log" 2>&1
make_rc=$?
set -e

mkdir -p "$out/bin" "$out/desc"
# The containers' PID 1 (scripts/zdtm-run.sh), ours.
init_src=$HERE/../tests/zdtm/zdtm_init.c
if [ ! -x "$out/bin/zdtm_init" ] || [ "$init_src" -nt "$out/bin/zdtm_init" ]; then
  nice -n 10 gcc -static -O2 -Wall -Werror -o "$out/bin/zdtm_init.new" "$init_src" >>"$out/build.log" 2>&1 ||
    die "zdtm_init does not build (log $out/build.log)"
  mv "$out/bin/zdtm_init.new" "$out/bin/zdtm_init"
fi
: >"$out/built.txt.new"
: >"$out/failed.txt.new"
for t in "${tests[@]}"; do
  b=$build/zdtm/static/$t
  if [ ! -x "$b" ]; then
    why=$(grep -m1 -E "(error|undefined reference).*" "$out/build.log" | grep -F "$t" || true)
    printf '%s\tdoes not build%s\n' "$t" "${why:+: $why}" >>"$out/failed.txt.new"
    continue
  fi
  if readelf -l "$b" 2>/dev/null | grep -q INTERP; then
    printf '%s\tlinked dynamically\n' "$t" >>"$out/failed.txt.new"
    continue
  fi
  cmp -s "$b" "$out/bin/$t" || cp -p "$b" "$out/bin/$t"
  d=$build/zdtm/static/$t.desc
  if [ -f "$d" ]; then cp -p "$d" "$out/desc/$t.desc"; else rm -f "$out/desc/$t.desc"; fi
  echo "$t" >>"$out/built.txt.new"
done
mv "$out/built.txt.new" "$out/built.txt"
mv "$out/failed.txt.new" "$out/failed.txt"

built=$(wc -l <"$out/built.txt")
failed=$(wc -l <"$out/failed.txt")
log "built $built of ${#tests[@]} in $(($(date +%s) - start)) s (make exit $make_rc; log $out/build.log)"
if [ "$failed" -gt 0 ]; then
  log "not built:"
  sed 's/^/  /' "$out/failed.txt" >&2
  exit 1
fi
