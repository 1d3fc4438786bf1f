#!/usr/bin/env bash
# Build the GamePulse base image offline: a minimal Debian bookworm Python 3 runtime for
# linux/amd64 and linux/arm64, written as one OCI image layout (an image index holding both
# platforms). Needs root, mmdebstrap, dpkg-deb and python3 >= 3.8; nothing else.
#
# How: mmdebstrap --variant=extract downloads the packages (and their dependencies) from the
# Debian mirror and only unpacks them: no maintainer script runs, so the foreign architecture
# needs no qemu/binfmt and both architectures are built the same way. What the maintainer
# scripts would have done that matters here is done below on the host: /etc/passwd and
# /etc/group (root, nobody and the app user, uid/gid 10001), a dpkg status database (so image
# scanners see the packages), and clean-up. On the build host's own architecture the result is
# checked by running python3 in it with chroot. oci_from_rootfs.py then writes the layout.
#
# Usage: build-base-image.sh [options] [OUTPUT_DIR]
#   OUTPUT_DIR            OCI layout to write (default: GamePulse/.build/base-oci); replaced
#   --arch LIST           comma-separated Debian architectures (default: amd64,arm64)
#   --tag TAG             ref name inside the layout (default: latest) -> oci:OUTPUT_DIR:TAG
#   --load HOST/REPO:TAG  then copy the image index to that registry (load-base-image.sh;
#                         credentials from REGISTRY_CREDS=user:password if set)
#   --keep-rootfs DIR     also keep the unpacked root filesystems in DIR/<arch>
#   -h, --help
# Environment: SOURCE_DATE_EPOCH (default: a fixed date, so rebuilds from the same mirror
# content give the same digests), DEBIAN_MIRROR (http://deb.debian.org/debian),
# DEBIAN_SECURITY_MIRROR (http://deb.debian.org/debian-security), PYTHON (the host
# interpreter that runs oci_from_rootfs.py; default python3).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GAMEPULSE_DIR=$(dirname "$SCRIPT_DIR")

SUITE=bookworm  # the package list below names Python 3.11, bookworm's
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PYTHON=${PYTHON:-python3}
# 2024-01-01T00:00:00Z. Fixed rather than "now", so the digest changes only with the packages.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1704067200}

# python3-minimal gives /usr/bin/python3; libpython3.11-stdlib the rest of the standard
# library (email, http, json's C accelerator, ssl, ...); base-files /etc/os-release (image
# scanners need it); dash a /bin/sh (for CMD-SHELL health checks and debugging, 120 KB).
PACKAGES=base-files,dash,python3-minimal,libpython3.11-stdlib
APP_USER=app
APP_UID=10001

out="$GAMEPULSE_DIR/.build/base-oci"
arches=amd64,arm64
tag=latest
load_ref=""
keep_rootfs=""

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "build-base-image: $*" >&2; exit 1; }
log() { printf '[%3ss] %s\n' "$SECONDS" "$*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --arch) arches=${2:?--arch needs a value}; shift 2 ;;
        --arch=*) arches=${1#*=}; shift ;;
        --tag) tag=${2:?--tag needs a value}; shift 2 ;;
        --tag=*) tag=${1#*=}; shift ;;
        --load) load_ref=${2:?--load needs HOST/REPO:TAG}; shift 2 ;;
        --load=*) load_ref=${1#*=}; shift ;;
        --keep-rootfs) keep_rootfs=${2:?--keep-rootfs needs a directory}; shift 2 ;;
        --keep-rootfs=*) keep_rootfs=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) out=$1; shift ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (mmdebstrap unpacks files owned by root; try sudo)"
for tool in mmdebstrap dpkg-deb chroot "$PYTHON"; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install mmdebstrap dpkg python3)"
done
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

host_arch=$(dpkg --print-architecture 2>/dev/null || echo unknown)
work=$(mktemp -d "${TMPDIR:-/tmp}/gamepulse-base.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# OCI platform for a Debian architecture.
oci_platform() {
    case "$1" in
        amd64) echo linux/amd64 ;;
        arm64) echo linux/arm64/v8 ;;
        armhf) echo linux/arm/v7 ;;
        i386) echo linux/386 ;;
        ppc64el) echo linux/ppc64le ;;
        s390x) echo linux/s390x ;;
        *) die "unsupported architecture $1" ;;
    esac
}

# Write /var/lib/dpkg/status and info/*.list from the downloaded .debs, as dpkg would have.
write_dpkg_db() {
    local root=$1 deb pkg name multiarch arch
    local status="$root/var/lib/dpkg/status"
    : >"$status.new"
    for deb in "$root"/var/cache/apt/archives/*.deb; do
        pkg=$(dpkg-deb --field "$deb" Package)
        arch=$(dpkg-deb --field "$deb" Architecture)
        multiarch=$(dpkg-deb --field "$deb" Multi-Arch)
        name=$pkg
        [ "$multiarch" = same ] && name="$pkg:$arch"
        printf '%s\n' "$pkg" >>"$work/packages.$(basename "$root")"
        # dpkg-deb lists the control fields in their file order, Package first.
        dpkg-deb --field "$deb" | sed '1a Status: install ok installed' >>"$status.new"
        echo >>"$status.new"
        dpkg-deb --fsys-tarfile "$deb" | tar -t \
            | sed -e 's|^\./|/|' -e 's|/$||' -e 's|^$|/.|' >"$root/var/lib/dpkg/info/$name.list"
    done
    mv "$status.new" "$status"
}

# Everything the maintainer scripts or an image build would normally do, plus slimming.
finish_rootfs() {
    local root=$1
    write_dpkg_db "$root"
    # Users and groups (base-passwd's job): root, nobody, and the unprivileged app user.
    cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
$APP_USER:x:$APP_UID:$APP_UID:GamePulse:/home/$APP_USER:/usr/sbin/nologin
EOF
    cat >"$root/etc/group" <<EOF
root:x:0:
nogroup:x:65534:
$APP_USER:x:$APP_UID:
EOF
    printf 'root:*:19723:0:99999:7:::\nnobody:*:19723:0:99999:7:::\n%s:*:19723:0:99999:7:::\n' \
        "$APP_USER" >"$root/etc/shadow"
    chmod 0644 "$root/etc/passwd" "$root/etc/group"
    chmod 0640 "$root/etc/shadow"
    install -d -m 0700 "$root/root"
    install -d -m 0755 -o "$APP_UID" -g "$APP_UID" "$root/home/$APP_USER"
    install -d -m 1777 "$root/tmp" "$root/var/tmp"
    # The container runtime provides these; the host's copies must not leak into the image.
    rm -rf "${root:?}/etc/hostname" "${root:?}/etc/resolv.conf" "${root:?}/etc/apt" "${root:?}/dev"
    install -d -m 0755 "${root:?}/dev" "${root:?}/proc" "${root:?}/sys" "${root:?}/run"
    # No apt in the image: drop its cache and lists; docs except copyright; man pages,
    # translations, iconv modules (Python's codecs do not use them), cron/logrotate snippets.
    rm -rf "${root:?}"/var/cache/apt "${root:?}"/var/lib/apt "${root:?}"/var/log/* \
        "${root:?}"/var/cache/ldconfig "${root:?}"/usr/share/man "${root:?}"/usr/share/info \
        "${root:?}"/usr/share/locale "${root:?}"/usr/share/lintian "${root:?}"/usr/share/linda \
        "${root:?}"/usr/lib/*-linux-gnu*/gconv "${root:?}"/etc/cron.daily "${root:?}"/etc/logrotate.d
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
}

check_python() {
    local root=$1 arch=$2
    [ -e "$root/usr/bin/python3" ] || [ -L "$root/usr/bin/python3" ] \
        || die "$arch: no usr/bin/python3 in the root filesystem"
    [ -f "$root/usr/lib/python3.11/http/server.py" ] \
        || die "$arch: no usr/lib/python3.11/http/server.py in the root filesystem"
    if [ "$arch" = "$host_arch" ]; then
        chroot --userspec="$APP_UID:$APP_UID" "$root" /usr/bin/python3 -B -c \
            'import email, http.server, json, signal, socketserver, ssl, threading, urllib.request
import os, pwd; assert pwd.getpwuid(os.getuid()).pw_name == "app"' \
            || die "$arch: python3 in the root filesystem cannot import what GamePulse needs"
        log "$arch: python3 runs in the rootfs as uid $APP_UID and imports http.server, json, email, urllib.request, ssl"
    else
        log "$arch: foreign architecture, python3 tree present (not executed: no emulation here)"
    fi
}

build_arch() {
    local arch=$1 root="$work/rootfs/$1"
    mmdebstrap --mode=root --variant=extract --architectures="$arch" --include="$PACKAGES" \
        --format=directory --skip=cleanup/apt/cache \
        --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Languages "none"' \
        --aptopt='Acquire::Retries "3"' \
        "$SUITE" "$root" \
        "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" \
        "deb $SECURITY_MIRROR $SUITE-security main" >"$work/mmdebstrap.$arch.log" 2>&1 \
        || { cat "$work/mmdebstrap.$arch.log" >&2; die "$arch: mmdebstrap failed"; }
    finish_rootfs "$root"
    check_python "$root" "$arch"
}

IFS=, read -r -a arch_list <<<"$arches"
[ ${#arch_list[@]} -gt 0 ] || die "--arch is empty"
platform_args=()
for arch in "${arch_list[@]}"; do
    platform_args+=(--platform "$(oci_platform "$arch")=$work/rootfs/$arch")
done
mkdir -p "$work/rootfs"

log "mmdebstrap $SUITE ($PACKAGES) for ${arch_list[*]} from $MIRROR, SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
pids=()
for arch in "${arch_list[@]}"; do
    build_arch "$arch" &
    pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ "$failed" -eq 0 ] || die "building a root filesystem failed (see above)"
for arch in "${arch_list[@]}"; do
    log "$arch: rootfs $(du -sh "$work/rootfs/$arch" | cut -f1), $(sort -u "$work/packages.$arch" | wc -l) packages"
done

log "writing OCI layout $out"
pkgs=$(sort -u "$work"/packages.* | paste -sd, -)
"$PYTHON" "$SCRIPT_DIR/oci_from_rootfs.py" --out "$out" --tag "$tag" --epoch "$SOURCE_DATE_EPOCH" \
    "${platform_args[@]}" \
    --env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --cmd '["/usr/bin/python3"]' \
    --label "org.opencontainers.image.title=gamepulse-base" \
    --label "org.opencontainers.image.description=Debian $SUITE minimal Python 3 runtime (user $APP_USER, uid $APP_UID)" \
    --history "mmdebstrap --variant=extract $SUITE: $pkgs (GamePulse/scripts/build-base-image.sh)" \
    >"$work/layout.json"
cat "$work/layout.json"

if [ -n "$keep_rootfs" ]; then
    mkdir -p "$keep_rootfs"
    for arch in "${arch_list[@]}"; do
        rm -rf "${keep_rootfs:?}/$arch"
        mv "$work/rootfs/$arch" "$keep_rootfs/$arch"
    done
    log "root filesystems kept in $keep_rootfs"
fi

log "done: oci:$out:$tag ($(du -sh "$out" | cut -f1))"
case "$out" in
    *[A-Z]*) log "note: buildah 1.28 rejects oci: paths with upper-case letters in FROM; use a" \
        "lower-case symlink to $out, or --load into a registry" ;;
esac

if [ -n "$load_ref" ]; then
    "$SCRIPT_DIR/load-base-image.sh" "$out:$tag" "$load_ref"
    log "loaded into $load_ref"
fi
