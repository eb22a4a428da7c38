#!/usr/bin/env bash
# Installs the container runtimes the test matrix runs against, beside (never instead of)
# Debian's runc 1.1.5 in /usr/sbin, which stays the default. Run as root on Debian 12, after
# scripts/install-deps.sh. Idempotent: what is built already (stamp file) is skipped.
#
#   /opt/migrate/runtimes/runc-<v>/runc   runc 1.1.15 1.2.9 1.3.6 1.4.3 1.5.1, from the source
#                                         tarballs in $MIGRATE_RUNTIMES_SRC (default
#                                         <repo>/../shared/runtimes), each checked against
#                                         its SHA256SUMS there
#   /opt/migrate/runtimes/crun-1.21/crun  crun 1.21 (trixie's source package) with CRIU
#                                         support; libcriu (built from the project's CRIU 4.1.1
#                                         tree) in .../crun-1.21/lib, found through an rpath
#   /opt/migrate/criu-4.2.1/sbin/criu     CRIU 4.2.1 (sid's source package), its own prefix
#   /opt/migrate/go-1.26                  the Go toolchain the runc builds use: trixie-backports'
#                                         golang-1.26-go/-src, fetched with `apt-get download`
#                                         and unpacked with `dpkg-deb -x` (the toolchain is
#                                         static: nothing of trixie's libc comes in)
#
# The source tarballs exist in CI (a clean clone beside ../shared); on a user's machine they do
# not, and then this script says what it would have installed and installs nothing.
#
# Changes to apt (all binary candidates stay bookworm's; checked at the end with apt-cache):
#   /etc/apt/sources.list.d/migrate-trixie-backports.sources  deb, trixie-backports, pinned to
#       -1 by /etc/apt/preferences.d/migrate-trixie-backports (only `apt-get download` uses it)
#   /etc/apt/sources.list.d/migrate-trixie-src.sources        deb-src trixie (as install-deps.sh)
#   /etc/apt/sources.list.d/migrate-sid-src.sources           deb-src sid
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/apt-lib.sh"  # missing_pkgs, bookworm_uri

REPO=$(cd "$(dirname "$0")/.." && pwd)
SRC_DIR=${MIGRATE_RUNTIMES_SRC:-$REPO/../shared/runtimes}
PREFIX=/opt/migrate
RUNTIMES_DIR=$PREFIX/runtimes
BUILD_ROOT=${MIGRATE_DEPS_BUILD_DIR:-/var/cache/migrate-deps}
CACHE=$BUILD_ROOT/runtimes
STAMP_NAME=.migrate-build  # in each install dir: what was built, compared on the next run

RUNC_VERSIONS=(1.1.15 1.2.9 1.3.6 1.4.3 1.5.1)
# Upstream tag commits, for `runc --version` (the tarballs are `git archive`s: no .git).
declare -A RUNC_COMMIT=(
  [1.1.15]=bc20cb44 [1.2.9]=6524246c [1.3.6]=491b69ba [1.4.3]=bb14dabe [1.5.1]=8f2685a4
)
# runc 1.5 links libpathrs (Rust) by default; we build without it.
declare -A RUNC_BUILDTAGS=([1.5.1]=-libpathrs)

# runc 1.1 needs go >= 1.18, 1.2 >= 1.22, 1.3 >= 1.23, 1.4 >= 1.24, 1.5 >= 1.25: one Go for all.
GO_MINOR=1.26
GO_SUITE=trixie-backports
GO_PREFIX=$PREFIX/go-$GO_MINOR
GOROOT_DIR=$GO_PREFIX/usr/lib/go-$GO_MINOR

CRUN_VERSION=1.21
CRUN_TARBALL=crun_${CRUN_VERSION}.orig.tar.gz
CRUN_SHA256=4bfb700e764a4804a4de3ecf07753f4c391005356d60356df65d80ae0914c486
CRUN_DIR=$RUNTIMES_DIR/crun-$CRUN_VERSION

# libcriu for crun: the project's CRIU 4.1.1 (as scripts/install-deps.sh builds it).
LIBCRIU_VERSION=4.1.1
LIBCRIU_TARBALL=criu_${LIBCRIU_VERSION}.orig.tar.xz
LIBCRIU_SHA256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
LIBCRIU_PATCH=$REPO/scripts/criu-4.1.1-sockopt-eopnotsupp.patch

# CRIU 4.2.1 has the SO_PASSCRED/SO_PASSSEC fix of our 4.1.1 patch upstream: no patch.
CRIU_NEW_VERSION=4.2.1
CRIU_NEW_TARBALL=criu_${CRIU_NEW_VERSION}.orig.tar.xz
CRIU_NEW_SHA256=29ec0ee09e296479fe7048c80980e8ef1d0684d0b0204c2b101dfea19f6725b9
CRIU_NEW_PREFIX=$PREFIX/criu-$CRIU_NEW_VERSION

TRIXIE_SRC_LIST=/etc/apt/sources.list.d/migrate-trixie-src.sources  # same file as install-deps.sh
SID_SRC_LIST=/etc/apt/sources.list.d/migrate-sid-src.sources
BACKPORTS_LIST=/etc/apt/sources.list.d/migrate-trixie-backports.sources
BACKPORTS_PIN=/etc/apt/preferences.d/migrate-trixie-backports

BUILD_PKGS=(
  build-essential pkg-config make xz-utils libseccomp-dev
  # crun
  libyajl-dev libsystemd-dev libcap-dev gperf
  # CRIU (as install-deps.sh)
  libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler libnl-3-dev libnet1-dev uuid-dev
  python3 libbsd-dev libgnutls28-dev libnftables-dev
)

log() { printf 'install-runtimes: %s\n' "$*" >&2; }
die() { printf 'install-runtimes: error: %s\n' "$*" >&2; exit 1; }

started=$SECONDS
elapsed() { echo "$((SECONDS - ${1:-$started})) s"; }

# --- what to install ------------------------------------------------------------------------

if [ ! -d "$SRC_DIR" ]; then
  log "runtime sources not found: $SRC_DIR is missing (set MIGRATE_RUNTIMES_SRC to a folder with"
  log "  runc-<version>.tar.xz and SHA256SUMS). Nothing installed. Would have installed:"
  for v in "${RUNC_VERSIONS[@]}"; do log "  $RUNTIMES_DIR/runc-$v/runc (runc $v from runc-$v.tar.xz)"; done
  log "  $CRUN_DIR/crun (crun $CRUN_VERSION with CRIU support, trixie's source package)"
  log "  $CRIU_NEW_PREFIX/sbin/criu (CRIU $CRIU_NEW_VERSION, sid's source package)"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (installs into $PREFIX and packages with apt)"
grep -q 'VERSION_CODENAME=bookworm' /etc/os-release || die "supported on Debian 12 (bookworm) only"
[ -f "$SRC_DIR/SHA256SUMS" ] || die "$SRC_DIR/SHA256SUMS is missing"

# One run at a time: CI and a user (or two worktrees) share /opt/migrate and the cache.
mkdir -p "$BUILD_ROOT"
exec 9>"$BUILD_ROOT/install-runtimes.lock"
flock 9

# Checks a tarball against SHA256SUMS; prints its sha256.
checked_sha256() {
  local name=$1 file="$SRC_DIR/$1" want got
  [ -f "$file" ] || die "$file is missing (listed runtimes: ${RUNC_VERSIONS[*]})"
  want=$(awk -v n="$name" '$2 == n || $2 == "*" n {print $1}' "$SRC_DIR/SHA256SUMS")
  [ -n "$want" ] || die "$name has no entry in $SRC_DIR/SHA256SUMS"
  got=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$got" = "$want" ] || die "checksum mismatch for $file: SHA256SUMS says $want, the file is $got"
  echo "$got"
}

# The build id a stamp must hold for an install to count as done.
declare -A RUNC_ID
for v in "${RUNC_VERSIONS[@]}"; do
  RUNC_ID[$v]="runc $v sha256=$(checked_sha256 "runc-$v.tar.xz") buildtags=${RUNC_BUILDTAGS[$v]:-default}"
done
CRUN_ID="crun $CRUN_VERSION sha256=$CRUN_SHA256 libcriu $LIBCRIU_VERSION sha256=$LIBCRIU_SHA256 + $(basename "$LIBCRIU_PATCH" .patch)"
CRIU_NEW_ID="criu $CRIU_NEW_VERSION sha256=$CRIU_NEW_SHA256"

stamp_matches() { [ "$(cat "$1/$STAMP_NAME" 2>/dev/null)" = "$2" ]; }

need_runc=()
for v in "${RUNC_VERSIONS[@]}"; do
  if stamp_matches "$RUNTIMES_DIR/runc-$v" "${RUNC_ID[$v]}" && "$RUNTIMES_DIR/runc-$v/runc" --version >/dev/null 2>&1; then
    log "runc $v: already built ($RUNTIMES_DIR/runc-$v/runc)"
  else
    need_runc+=("$v")
  fi
done
need_crun=1
if stamp_matches "$CRUN_DIR" "$CRUN_ID" && "$CRUN_DIR/crun" --version 2>/dev/null | grep -q '+CRIU'; then
  log "crun $CRUN_VERSION: already built ($CRUN_DIR/crun)"
  need_crun=0
fi
need_criu_new=1
if stamp_matches "$CRIU_NEW_PREFIX" "$CRIU_NEW_ID" && [ -x "$CRIU_NEW_PREFIX/sbin/criu" ]; then
  log "CRIU $CRIU_NEW_VERSION: already built ($CRIU_NEW_PREFIX/sbin/criu)"
  need_criu_new=0
fi
if [ ${#need_runc[@]} -eq 0 ] && [ "$need_crun" -eq 0 ] && [ "$need_criu_new" -eq 0 ]; then
  log "all runtimes present"
  exit 0
fi

# --- apt: bookworm build dependencies, source entries -------------------------------------

export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600)
apt_updated=0
entries_added=0
apt_update() {
  log "apt-get update"
  "${APT[@]}" update -qq || die "apt-get update failed (check the entries in /etc/apt/sources.list.d/)"
  apt_updated=1
}

bookworm_keyring() {
  local f key
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    key=$(awk 'BEGIN{RS="";FS="\n"} /Suites:[^\n]*bookworm([ \n]|$)/ && !/bookworm-security/ {
             for (i=1;i<=NF;i++) if ($i ~ /^Signed-By:/) { sub(/^Signed-By:[ \t]*/, "", $i); print $i; exit } }' "$f")
    [ -n "$key" ] && { echo "$key"; return 0; }
  done
  echo /usr/share/keyrings/debian-archive-keyring.gpg
}

# add_entry FILE TYPE SUITE WHY: a deb822 entry with the bookworm entry's URI and keyring.
add_entry() {
  local file=$1 type=$2 suite=$3 why=$4
  [ -f "$file" ] && return 0
  log "adding apt entry $file ($type $suite: $why)"
  cat >"$file" <<SRC
# Added by migrate's scripts/install-runtimes.sh: $why.
Types: $type
URIs: $(bookworm_uri)
Suites: $suite
Components: main
Signed-By: $(bookworm_keyring)
SRC
  entries_added=1
}

has_deb_src() {  # has_deb_src SUITE: does any deb822 entry give deb-src for SUITE?
  grep -lqsE "^Types:.*deb-src" /etc/apt/sources.list.d/*.sources &&
    awk -v s="$1" 'BEGIN{RS="";FS="\n"} /Types:[^\n]*deb-src/ { for (i=1;i<=NF;i++) if ($i ~ /^Suites:/) { n=split($i,a,/[ \t]+/); for (j=2;j<=n;j++) if (a[j]==s) found=1 } } END{exit !found}' \
      /etc/apt/sources.list.d/*.sources
}

# Binary candidates must stay bookworm's: nothing may come from trixie, sid or their backports.
check_candidates_bookworm() {
  local foreign
  foreign=$(apt-cache policy | grep -E "^ *-?[0-9]+ .* $GO_SUITE/" | grep -vE '^ *-1 ' || true)
  [ -z "$foreign" ] || die "apt gives $GO_SUITE a priority other than -1 (see $BACKPORTS_PIN): $foreign"
  # Archive names ("stable", "oldstable") move with each release: look for the version markers
  # of trixie's packages and of backports instead. Our trixie and sid entries are deb-src only.
  foreign=$(LC_ALL=C apt-get -s -o Debug::NoLocking=1 dist-upgrade 2>/dev/null |
    grep -E '^Inst ' | grep -E 'bpo1[3-9]|[+~]deb1[3-9]|Backports' || true)
  [ -z "$foreign" ] || die "apt would now install non-bookworm packages: $foreign"
  log "apt: binary candidates are still bookworm's (checked with apt-get -s dist-upgrade, apt-cache policy)"
}

# fetch_source SPEC TARBALL SHA256: `apt-get source --tar-only` into the cache, checked.
fetch_source() {
  local spec=$1 tarball=$2 sha=$3 dest="$CACHE/$2" dl
  if echo "$sha  $dest" | sha256sum -c --status 2>/dev/null; then return 0; fi
  # install-deps.sh keeps CRIU 4.1.1's tarball one level up.
  if echo "$sha  $BUILD_ROOT/$tarball" | sha256sum -c --status 2>/dev/null; then
    cp "$BUILD_ROOT/$tarball" "$dest"
    return 0
  fi
  [ "$apt_updated" -eq 1 ] || apt_update
  dl=$(mktemp -d)
  chown _apt "$dl" 2>/dev/null || chmod 777 "$dl"  # apt downloads as _apt
  log "downloading $tarball (apt-get source --download-only --tar-only $spec)"
  (cd "$dl" && apt-get source -qq --download-only --tar-only "$spec") >/dev/null 2>"$dl/err" || true
  if [ ! -f "$dl/$tarball" ]; then
    local err
    err=$(tr '\n' ' ' <"$dl/err")
    rm -rf "$dl"
    die "apt-get source $spec did not produce $tarball (has the suite moved to another version? apt said: $err)"
  fi
  mv "$dl/$tarball" "$dest"
  rm -rf "$dl"
  echo "$sha  $dest" | sha256sum -c --status ||
    die "checksum mismatch for $tarball: expected $sha, got $(sha256sum "$dest" | cut -d' ' -f1)"
}

mkdir -p "$CACHE" "$RUNTIMES_DIR"

go_needed=0
[ ${#need_runc[@]} -gt 0 ] && ! [ -x "$GOROOT_DIR/bin/go" ] && go_needed=1
if [ "$go_needed" -eq 1 ]; then
  if [ ! -f "$BACKPORTS_PIN" ]; then
    log "pinning $GO_SUITE to -1 ($BACKPORTS_PIN): never a candidate for install or upgrade"
    cat >"$BACKPORTS_PIN" <<PIN
# Added by migrate's scripts/install-runtimes.sh: $GO_SUITE is only for \`apt-get download\`
# of a Go toolchain (unpacked into $GO_PREFIX); never install or upgrade anything from it.
Package: *
Pin: release n=$GO_SUITE
Pin-Priority: -1
PIN
  fi
  add_entry "$BACKPORTS_LIST" deb "$GO_SUITE" \
    "only to \`apt-get download\` golang-$GO_MINOR-go/-src, pinned to -1 in $BACKPORTS_PIN"
fi
if [ "$need_crun" -eq 1 ] && ! has_deb_src trixie; then
  add_entry "$TRIXIE_SRC_LIST" deb-src trixie "source packages only, used to build CRIU and crun"
fi
if [ "$need_criu_new" -eq 1 ] && ! has_deb_src sid; then
  add_entry "$SID_SRC_LIST" deb-src sid "source packages only, used to build CRIU $CRIU_NEW_VERSION"
fi
missing=$(missing_pkgs "${BUILD_PKGS[@]}")
if [ -n "$missing" ] || [ "$go_needed" -eq 1 ] || [ "$entries_added" -eq 1 ]; then
  apt_update
fi
check_candidates_bookworm
if [ -n "$missing" ]; then
  log "installing (bookworm): ${missing//$'\n'/ }"
  # shellcheck disable=SC2086
  "${APT[@]}" install -y -qq --no-install-recommends $missing >/dev/null
fi

# --- Go ------------------------------------------------------------------------------------

install_go() {
  local version dl deb
  version=$(apt-cache madison "golang-$GO_MINOR-go" | awk -F' *[|] *' -v s="$GO_SUITE/" 'index($3, s) {print $2}' |
    sort -V | tail -n1)
  [ -n "$version" ] || die "$GO_SUITE has no golang-$GO_MINOR-go (apt-cache madison golang-$GO_MINOR-go)"
  dl=$(mktemp -d)
  chown _apt "$dl" 2>/dev/null || chmod 777 "$dl"
  log "downloading golang-$GO_MINOR-go and golang-$GO_MINOR-src $version ($GO_SUITE; apt-get download, not installed)"
  (cd "$dl" && "${APT[@]}" download -qq "golang-$GO_MINOR-go=$version" "golang-$GO_MINOR-src=$version") >/dev/null ||
    die "apt-get download of golang-$GO_MINOR-go/-src $version failed"
  # The toolchain is static; its only dependency is its own -src package. Anything else (a libc)
  # would mean trixie's libraries, which must never come in.
  local deps
  deps=$(dpkg-deb -f "$dl"/golang-"$GO_MINOR"-go_*.deb Depends)
  case "$deps" in
    "golang-$GO_MINOR-src "*) ;;
    *) die "golang-$GO_MINOR-go $version depends on more than golang-$GO_MINOR-src ($deps): not unpacking it" ;;
  esac
  rm -rf "$GO_PREFIX.tmp"
  mkdir -p "$GO_PREFIX.tmp"
  for deb in "$dl"/*.deb; do dpkg-deb -x "$deb" "$GO_PREFIX.tmp"; done
  rm -rf "$dl" "$GO_PREFIX"
  mv "$GO_PREFIX.tmp" "$GO_PREFIX"
  echo "golang-$GO_MINOR-go $version ($GO_SUITE)" >"$GO_PREFIX/$STAMP_NAME"
  "$GOROOT_DIR/bin/go" version >/dev/null || die "unpacked Go does not run ($GOROOT_DIR/bin/go)"
}

# --- runc ----------------------------------------------------------------------------------

build_runc() {
  local v=$1 t0=$SECONDS src="$CACHE/src/runc-$1" dest="$RUNTIMES_DIR/runc-$1" tags=${RUNC_BUILDTAGS[$1]:-}
  log "building runc $v (go $(GOROOT="$GOROOT_DIR" "$GOROOT_DIR/bin/go" env GOVERSION)${tags:+, RUNC_BUILDTAGS=$tags})"
  rm -rf "$src"
  mkdir -p "$CACHE/src"
  tar -C "$CACHE/src" -xJf "$SRC_DIR/runc-$v.tar.xz"
  [ -f "$src/Makefile" ] || die "runc-$v.tar.xz does not unpack to runc-$v/"
  local args=(runc "COMMIT=${RUNC_COMMIT[$v]}")
  [ -n "$tags" ] && args+=("RUNC_BUILDTAGS=$tags")
  # Offline and reproducible: vendored modules only, this toolchain only, caches in $CACHE.
  if ! env PATH="$GOROOT_DIR/bin:$PATH" GOROOT="$GOROOT_DIR" GOTOOLCHAIN=local GOFLAGS=-mod=vendor \
      GOPROXY=off GOCACHE="$CACHE/go-build" GOPATH="$CACHE/gopath" XDG_CONFIG_HOME="$CACHE/go-config" \
      nice -n 10 make -C "$src" "${args[@]}" >"$CACHE/runc-$v-build.log" 2>&1; then
    tail -n 30 "$CACHE/runc-$v-build.log" >&2
    die "runc $v build failed (log: $CACHE/runc-$v-build.log)"
  fi
  "$src/runc" --version >/dev/null || die "runc $v was built but does not run"
  rm -rf "$dest"
  install -D -m 0755 "$src/runc" "$dest/runc"
  echo "${RUNC_ID[$v]}" >"$dest/$STAMP_NAME"
  rm -rf "$src"
  log "runc $v: $dest/runc ($(elapsed "$t0"))"
}

if [ ${#need_runc[@]} -gt 0 ]; then
  if [ -x "$GOROOT_DIR/bin/go" ]; then
    log "Go: $GOROOT_DIR ($(cat "$GO_PREFIX/$STAMP_NAME" 2>/dev/null || echo 'no stamp'))"
  else
    install_go
  fi
  for v in "${need_runc[@]}"; do build_runc "$v"; done
fi

# --- crun with libcriu ---------------------------------------------------------------------

build_crun() {
  local t0=$SECONDS lc="$CACHE/src/libcriu-$LIBCRIU_VERSION" src="$CACHE/src/crun-$CRUN_VERSION"
  local tmp="$CRUN_DIR.tmp"
  fetch_source crun/trixie "$CRUN_TARBALL" "$CRUN_SHA256"
  mkdir -p "$CACHE/src"
  rm -rf "$lc" "$src" "$tmp"
  # libcriu from the project's CRIU tree. CRIU's `lib` target builds all of criu first: a copy
  # of the tree install-deps.sh built (mtimes kept) saves that minute.
  if [ -x "$BUILD_ROOT/criu-$LIBCRIU_VERSION/criu/criu" ] &&
     "$BUILD_ROOT/criu-$LIBCRIU_VERSION/criu/criu" --version 2>/dev/null | grep -qx "Version: $LIBCRIU_VERSION"; then
    log "libcriu $LIBCRIU_VERSION: from a copy of install-deps.sh's built tree ($BUILD_ROOT/criu-$LIBCRIU_VERSION)"
    cp -a "$BUILD_ROOT/criu-$LIBCRIU_VERSION" "$lc"
  else
    log "libcriu $LIBCRIU_VERSION: from $LIBCRIU_TARBALL + $(basename "$LIBCRIU_PATCH") (about a minute)"
    fetch_source criu/trixie "$LIBCRIU_TARBALL" "$LIBCRIU_SHA256"
    tar -C "$CACHE/src" -xJf "$CACHE/$LIBCRIU_TARBALL"
    mv "$CACHE/src/criu-$LIBCRIU_VERSION" "$lc"
    patch -d "$lc" -p1 --quiet <"$LIBCRIU_PATCH" || die "applying $LIBCRIU_PATCH failed"
  fi
  # SKIP_PIP_INSTALL: not the Python bindings. LIBDIR: plain lib/, where the rpath points.
  nice -n 10 make -C "$lc" -j"$(nproc)" install-lib PREFIX="$tmp" LIBDIR="$tmp/lib" SKIP_PIP_INSTALL=1 \
    >"$CACHE/libcriu-build.log" 2>&1 ||
    { tail -n 30 "$CACHE/libcriu-build.log" >&2; die "libcriu build failed (log: $CACHE/libcriu-build.log)"; }
  [ -f "$tmp/lib/libcriu.so.2" ] || die "libcriu install did not produce $tmp/lib/libcriu.so.2"

  log "building crun $CRUN_VERSION against it"
  tar -C "$CACHE/src" -xzf "$CACHE/$CRUN_TARBALL"
  # crun dlopen()s libcriu.so.2 at checkpoint/restore: the rpath (to the final place) finds it.
  # criu.pc's Cflags point into include/criu/, while crun includes <criu/criu.h>: -I include.
  (cd "$src" && PKG_CONFIG_PATH="$tmp/lib/pkgconfig" nice -n 10 ./configure --prefix="$CRUN_DIR" \
      CPPFLAGS="-I$tmp/include" LDFLAGS="-Wl,-rpath,$CRUN_DIR/lib") >"$CACHE/crun-build.log" 2>&1 ||
    { tail -n 30 "$CACHE/crun-build.log" >&2; die "crun configure failed (log: $CACHE/crun-build.log)"; }
  grep -q '^#define HAVE_CRIU 1' "$src/config.h" || die "crun configure did not find libcriu (log: $CACHE/crun-build.log)"
  nice -n 10 make -C "$src" -j"$(nproc)" >>"$CACHE/crun-build.log" 2>&1 ||
    { tail -n 30 "$CACHE/crun-build.log" >&2; die "crun build failed (log: $CACHE/crun-build.log)"; }
  install -m 0755 "$src/crun" "$tmp/crun"
  # The pkg-config file and headers were only for the build.
  rm -rf "$tmp/include" "$tmp/lib/pkgconfig" "$tmp/lib/libcriu.a"
  rm -rf "$CRUN_DIR"
  mv "$tmp" "$CRUN_DIR"
  "$CRUN_DIR/crun" --version | grep -q '+CRIU' || die "crun $CRUN_VERSION was built without CRIU support"
  echo "$CRUN_ID" >"$CRUN_DIR/$STAMP_NAME"
  rm -rf "$lc" "$src"
  log "crun $CRUN_VERSION: $CRUN_DIR/crun, libcriu in $CRUN_DIR/lib ($(elapsed "$t0"))"
}

if [ "$need_crun" -eq 1 ]; then build_crun; fi

# --- CRIU 4.2.1 ----------------------------------------------------------------------------

build_criu_new() {
  local t0=$SECONDS src="$CACHE/src/criu-$CRIU_NEW_VERSION" tmp="$CRIU_NEW_PREFIX.tmp"
  fetch_source criu/sid "$CRIU_NEW_TARBALL" "$CRIU_NEW_SHA256"
  log "building CRIU $CRIU_NEW_VERSION (about a minute)"
  mkdir -p "$CACHE/src"
  rm -rf "$src" "$tmp"
  tar -C "$CACHE/src" -xJf "$CACHE/$CRIU_NEW_TARBALL"
  nice -n 10 make -C "$src" -j"$(nproc)" criu >"$CACHE/criu-$CRIU_NEW_VERSION-build.log" 2>&1 ||
    { tail -n 30 "$CACHE/criu-$CRIU_NEW_VERSION-build.log" >&2; die "CRIU $CRIU_NEW_VERSION build failed (log: $CACHE/criu-$CRIU_NEW_VERSION-build.log)"; }
  # Installed where it will live (PREFIX is compiled into nothing we use, but keep it honest).
  rm -rf "$CRIU_NEW_PREFIX"
  make -C "$src" install-criu PREFIX="$CRIU_NEW_PREFIX" >>"$CACHE/criu-$CRIU_NEW_VERSION-build.log" 2>&1 ||
    die "CRIU $CRIU_NEW_VERSION install failed (log: $CACHE/criu-$CRIU_NEW_VERSION-build.log)"
  "$CRIU_NEW_PREFIX/sbin/criu" check >/dev/null 2>&1 ||
    { "$CRIU_NEW_PREFIX/sbin/criu" check >&2 || true; die "CRIU $CRIU_NEW_VERSION built but 'criu check' fails on kernel $(uname -r)"; }
  echo "$CRIU_NEW_ID" >"$CRIU_NEW_PREFIX/$STAMP_NAME"
  rm -rf "$src"
  log "CRIU $CRIU_NEW_VERSION: $CRIU_NEW_PREFIX/sbin/criu ($(elapsed "$t0")); runc >= 1.2 uses the criu on PATH: put $CRIU_NEW_PREFIX/sbin first"
}

if [ "$need_criu_new" -eq 1 ]; then build_criu_new; fi

log "done in $(elapsed): runc ${RUNC_VERSIONS[*]} and crun $CRUN_VERSION in $RUNTIMES_DIR, CRIU $CRIU_NEW_VERSION in $CRIU_NEW_PREFIX; /usr/sbin/runc ($(/usr/sbin/runc --version 2>/dev/null | head -n1 || echo absent)) stays the default"
