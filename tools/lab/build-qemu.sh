#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build QEMU (x86_64-softmmu) from Debian's source package with the npa
# series (qemu-patches/series) applied, for the lab.  The binary is cached
# under $NPA_CACHE, keyed by the source version, the patches, the build
# options and this script; a cached build is reused at once.
#
# Prints the path of qemu-system-x86_64; progress goes to stderr.
#
#   build-qemu.sh [--prepare]
#
# --prepare: every step up to the compiler (the cache folder, build
# dependencies, the source, the patches), then stop; a quick check that a
# machine without the cache can build it (check.sh runs it against a new
# cache path).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$here/versions.env"

say() {
	echo "build-qemu: $*" >&2
}

patches=$repo/qemu-patches
cfg=(--python=/usr/bin/python3 --target-list=x86_64-softmmu
	--disable-docs --disable-werror --disable-download
	--disable-install-blobs --enable-kvm --enable-vhost-kernel
	--enable-vhost-net --enable-vhost-vdpa --enable-slirp --enable-virtfs
	--firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu)
key=$( {
	echo "$QEMU_SRCVER ${cfg[*]}"
	cat "$0" "$patches/series"
	sed 's/^/qemu-patches\//' "$patches/series" | (cd "$repo" && xargs cat)
} | sha256sum | cut -c1-16)
prepare=0
[ "${1:-}" != --prepare ] || prepare=1
cache=${NPA_CACHE:-/var/cache/npa}
out=$cache/qemu-$key
if [ $prepare = 0 ] && [ -x "$out/qemu-system-x86_64" ]; then
	echo "$out/qemu-system-x86_64"
	exit 0
fi

# Build dependencies: meson >= 1.5 from bookworm-backports (pinned low so
# nothing else moves), the source from trixie's deb-src.
export DEBIAN_FRONTEND=noninteractive
if [ ! -e /etc/apt/sources.list.d/npa-backports.sources ]; then
	say "adding bookworm-backports and trixie's deb-src"
	cat >/etc/apt/sources.list.d/npa-backports.sources <<SRC
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	cat >/etc/apt/preferences.d/npa-backports <<PIN
Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100
PIN
	cat >/etc/apt/sources.list.d/npa-trixie-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -q >&2
fi
if ! dpkg-query -W -f '${Version}' meson 2>/dev/null | grep -q bpo; then
	say "installing build dependencies"
	apt-get install -y -q -t bookworm-backports meson >&2
	apt-get install -y -q --no-install-recommends ninja-build flex bison \
		python3-venv pkg-config libglib2.0-dev libpixman-1-dev \
		libslirp-dev libfdt-dev zlib1g-dev libcap-ng-dev libattr1-dev \
		dpkg-dev ccache seabios qemu-system-data ipxe-qemu >&2
fi

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/qemu-build.XXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
say "fetching the source of qemu $QEMU_SRCVER"
apt-get source -q --download-only "qemu=$QEMU_SRCVER" >source.log 2>&1 ||
	{ cat source.log >&2; exit 1; }
dpkg-source -x ./*.dsc src >>source.log 2>&1 || { cat source.log >&2; exit 1; }
cd src
while read -r p; do
	[ -n "$p" ] || continue
	say "applying $p"
	patch -p1 --forward --quiet <"$patches/$p"
done <"$patches/series"
if [ $prepare = 1 ]; then
	say "prepared in $cache (--prepare: not compiled)"
	exit 0
fi

mkdir build
cd build
say "configuring"
../configure "${cfg[@]}" --cc=/usr/lib/ccache/cc >configure.log 2>&1 ||
	{ tail -20 configure.log >&2; exit 1; }
say "compiling (8 to 20 minutes on 2 cores; ccache makes a rebuild ~1 min)"
start=$SECONDS
CCACHE_DIR=$cache/ccache CCACHE_BASEDIR=$tmp CCACHE_NOHASHDIR=1 \
	nice -n 5 ninja -j"$(nproc)" qemu-system-x86_64 >build.log 2>&1 ||
	{ tail -30 build.log >&2; exit 1; }
say "compiled in $((SECONDS - start)) s"
mkdir -p "$out.tmp"
cp qemu-system-x86_64 "$out.tmp/"
mv "$out.tmp" "$out"
echo "$out/qemu-system-x86_64"
