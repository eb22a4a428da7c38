#!/usr/bin/env bash
# Installs every build and run-time dependency of migrate on Debian 12 (bookworm).
# Idempotent: re-running it changes nothing on a machine that already has everything.
#
# - C++ build dependencies and test tools from bookworm's packages (help2man makes the man
#   pages of the Debian packages, man-db's man checks them; prometheus-cpp-dev brings the
#   agent's metrics library, whose CMake config also wants the civetweb, curl and zlib headers
#   of its pull and push parts, which migrate does not link);
# - runc (without Debian's recommended criu, which fails on recent kernels), iptables
#   (CRIU locks the network with iptables-restore), busybox-static (test root file systems);
# - a CRIU that passes `criu check` on the running kernel and can dump inet sockets there.
#   Otherwise CRIU 4.1.1 is built from Debian trixie's *source* tarball into /usr/local, with
#   one patch of ours (scripts/criu-4.1.1-sockopt-eopnotsupp.patch: Linux >= 6.16 refuses
#   SO_PASSCRED/SO_PASSSEC on inet sockets, which stock 4.1.1 treats as fatal, so it cannot
#   dump any container with a TCP or UDP socket although `criu check` passes). No trixie
#   binary package is ever installed (that would replace libc and break apt).
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/apt-lib.sh"  # missing_pkgs, bookworm_uri

CRIU_VERSION=4.1.1
CRIU_TARBALL=criu_${CRIU_VERSION}.orig.tar.xz
CRIU_SHA256=f80a66cb3726bb2116266d4759ce3bcbfab7abdb6b6d430bf20dd41911717afe
CRIU_PREFIX=/usr/local
CRIU_PATCH=$(cd "$(dirname "$0")" && pwd)/criu-4.1.1-sockopt-eopnotsupp.patch
CRIU_STAMP=$CRIU_PREFIX/share/migrate/criu-build  # names what we built, patch included
CRIU_BUILD_ID="criu $CRIU_VERSION + $(basename "$CRIU_PATCH" .patch)"
TRIXIE_SRC_LIST=/etc/apt/sources.list.d/migrate-trixie-src.sources
BUILD_ROOT=${MIGRATE_DEPS_BUILD_DIR:-/var/cache/migrate-deps}

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages and CRIU into ${CRIU_PREFIX})"
grep -q 'VERSION_CODENAME=bookworm' /etc/os-release || die "supported on Debian 12 (bookworm) only"

export DEBIAN_FRONTEND=noninteractive

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libprotobuf-dev protobuf-compiler libzstd-dev libcli11-dev libssl-dev
  nlohmann-json3-dev prometheus-cpp-dev
  libsystemd-dev help2man
  libgtest-dev libgmock-dev libbenchmark-dev jq man-db
)
RUN_PKGS=(runc iptables busybox-static iproute2 util-linux procps zstd openssl curl)
CRIU_BUILD_PKGS=(
  libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler libnl-3-dev libnet1-dev libcap-dev
  uuid-dev pkg-config python3 libbsd-dev libgnutls28-dev libnftables-dev xz-utils
)

ZDTM_BUILD_PKGS=(build-essential libcap-dev xz-utils)

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
}

install_pkgs() {
  local missing
  missing=$(missing_pkgs "$@")
  [ -z "$missing" ] && return 0
  apt_update_once
  log "installing: $(echo $missing)"
  # --no-install-recommends: Debian's runc recommends Debian's criu 3.17, which fails
  # `criu check` on kernels with the [vvar_vclock] mapping.
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

criu_works() {
  # Works means: `criu check` on this kernel says so (a version comparison is not enough),
  # and it can dump inet sockets: our patched build (stamp), or a CRIU >= 4.2 (fixed upstream).
  command -v criu >/dev/null 2>&1 || return 1
  criu check >/dev/null 2>&1 || return 1
  if [ "$(command -v criu)" = "$CRIU_PREFIX/sbin/criu" ] && [ "$(cat "$CRIU_STAMP" 2>/dev/null)" = "$CRIU_BUILD_ID" ]; then
    return 0
  fi
  local v
  v=$(criu --version | sed -n 's/^Version: *//p')
  [ "$(printf '%s\n4.2\n' "$v" | sort -V | head -n1)" = "4.2" ]
}

# CRIU's source tarball in $BUILD_ROOT (checksum verified): CRIU is built from it, and so are
# its zdtm tests (scripts/build-zdtm.sh, ctest label zdtm), also where CRIU itself is fine.
fetch_criu_tarball() {
  mkdir -p "$BUILD_ROOT"
  local tarball="$BUILD_ROOT/$CRIU_TARBALL"
  if ! echo "$CRIU_SHA256  $tarball" | sha256sum -c --status 2>/dev/null; then
    if [ ! -f "$TRIXIE_SRC_LIST" ]; then
      log "adding a deb-src entry for trixie (source only; binary candidates stay bookworm)"
      cat >"$TRIXIE_SRC_LIST" <<SRC
# Added by migrate's scripts/install-deps.sh: source packages only, used to build CRIU.
Types: deb-src
URIs: $(bookworm_uri)
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
      apt_updated=0
    fi
    apt_update_once
    local dl
    dl=$(mktemp -d)
    chown _apt "$dl" 2>/dev/null || chmod 777 "$dl"
    log "downloading CRIU ${CRIU_VERSION} source tarball"
    (cd "$dl" && apt-get source -qq --download-only --tar-only "criu/trixie") >/dev/null
    [ -f "$dl/$CRIU_TARBALL" ] || die "apt-get source did not produce $CRIU_TARBALL (is trixie's criu still ${CRIU_VERSION}?)"
    mv "$dl/$CRIU_TARBALL" "$tarball"
    rm -rf "$dl"
    echo "$CRIU_SHA256  $tarball" | sha256sum -c --status || die "checksum mismatch for $CRIU_TARBALL"
  fi
}

build_criu() {
  install_pkgs "${CRIU_BUILD_PKGS[@]}"
  fetch_criu_tarball
  local tarball="$BUILD_ROOT/$CRIU_TARBALL"
  local src="$BUILD_ROOT/criu-$CRIU_VERSION"
  rm -rf "$src"
  tar -C "$BUILD_ROOT" -xf "$tarball"
  patch -d "$src" -p1 --quiet <"$CRIU_PATCH" || die "applying $CRIU_PATCH failed"
  log "building CRIU ${CRIU_VERSION} (about a minute)"
  make -C "$src" -j"$(nproc)" criu >"$BUILD_ROOT/criu-build.log" 2>&1 ||
    { tail -n 30 "$BUILD_ROOT/criu-build.log" >&2; die "CRIU build failed (log: $BUILD_ROOT/criu-build.log)"; }
  make -C "$src" install-criu PREFIX="$CRIU_PREFIX" >>"$BUILD_ROOT/criu-build.log" 2>&1 ||
    die "CRIU install failed (log: $BUILD_ROOT/criu-build.log)"
  mkdir -p "$(dirname "$CRIU_STAMP")"
  echo "$CRIU_BUILD_ID" >"$CRIU_STAMP"
  hash -r
}

install_pkgs "${BUILD_PKGS[@]}" "${RUN_PKGS[@]}"

if criu_works; then
  log "CRIU OK: $(command -v criu) ($(criu --version | head -n1))"
else
  if command -v criu >/dev/null 2>&1; then
    log "installed CRIU ($(command -v criu)) fails 'criu check' on kernel $(uname -r), or cannot dump inet sockets there: building ${CRIU_VERSION} (patched)"
  else
    log "no CRIU installed: building ${CRIU_VERSION}"
  fi
  build_criu
  export PATH="$CRIU_PREFIX/sbin:$PATH"
  criu_works || { criu check >&2 || true; die "CRIU ${CRIU_VERSION} built but 'criu check' still fails on this kernel"; }
  log "CRIU OK: $(command -v criu) ($(criu --version | head -n1))"
fi

# The zdtm tests (scripts/build-zdtm.sh): static binaries from CRIU's source tarball; libcap's
# static library for thread_different_uid_gid.
install_pkgs "${ZDTM_BUILD_PKGS[@]}"
fetch_criu_tarball

# runc finds criu through PATH; /usr/local/sbin must come before /usr/sbin.
case ":$PATH:" in
  *":$CRIU_PREFIX/sbin:"*) ;;
  *) log "warning: $CRIU_PREFIX/sbin is not on PATH; runc will not find CRIU" ;;
esac

# CRIU's lazy-pages sender needs 4 MiB pipes; root here lacks CAP_SYS_RESOURCE.
if [ "$(cat /proc/sys/fs/pipe-max-size)" -lt 4194304 ]; then
  echo 4194304 >/proc/sys/fs/pipe-max-size || log "warning: could not raise fs.pipe-max-size"
fi

log "all dependencies present"
