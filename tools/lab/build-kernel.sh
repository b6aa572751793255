#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the debug lab's kernel: Debian's 6.12 source ($KSRCPKG, the version
# in versions.env) with x86_64_defconfig + kvm_guest.config +
# debug-kernel.config (what the lab's test host loads, trimmed, plus KASAN,
# lockdep, kmemleak and fault injection).  Cached under $NPA_CACHE, keyed by
# the source version, the config fragment and this script; a finished build
# is reused at once, an interrupted one goes on where it stopped.
#
# Prints the build's folder; progress goes to stderr.  In it:
#   bzImage              the kernel
#   release              its release (uname -r)
#   build/               the object tree: KDIR for npa's modules
#   mod/lib/modules/REL  its modules (run-host.sh -K debug binds it over the
#                        test host's /lib/modules/REL)
#
#   build-kernel.sh [--prepare]
#
# --prepare: every step up to the compiler (build dependencies, the source,
# the configuration, checked), then stop.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"

say() {
	echo "build-kernel: $*" >&2
}

frag=$here/debug-kernel.config
key=$( {
	echo "$KSRCPKG $KPKGVER"
	cat "$0" "$frag"
} | sha256sum | cut -c1-16)
prepare=0
[ "${1:-}" != --prepare ] || prepare=1
cache=${NPA_CACHE:-/var/cache/npa}
out=$cache/kernel-$key
if [ $prepare = 0 ] && [ -s "$out/bzImage" ]; then
	echo "$out"
	exit 0
fi

# Build dependencies beyond setup.sh's (objtool needs libelf).
need=()
for p in libelf-dev libssl-dev flex bison bc ccache "$KSRCPKG"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi
have=$(dpkg-query -W -f '${Version}' "$KSRCPKG")
[ "$have" = "$KPKGVER" ] ||
	{ say "$KSRCPKG is $have, versions.env wants $KPKGVER (run tools/lab/setup.sh)"; exit 1; }

# The object tree keeps absolute paths to the source, so both are built in
# place; one builder at a time.
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
if [ $prepare = 0 ] && [ -s "$out/bzImage" ]; then
	echo "$out"
	exit 0
fi
if [ ! -e "$out/src/.extracted" ]; then
	say "unpacking $KSRCPKG $KPKGVER"
	rm -rf "$out/src"
	mkdir "$out/src"
	tar -C "$out/src" --strip-components=1 -xJf "/usr/src/$KSRCPKG.tar.xz"
	touch "$out/src/.extracted"
fi

cc=gcc
[ ! -x /usr/bin/ccache ] || cc="ccache gcc"
export CCACHE_DIR=$cache/ccache CCACHE_BASEDIR=$out CCACHE_NOHASHDIR=1
export KBUILD_BUILD_USER=npa KBUILD_BUILD_HOST=lab
kmake() {
	nice -n 10 make -C "$out/src" O="$out/build" CC="$cc" "$@"
}
mkdir -p "$out/build"
if [ ! -e "$out/build/.config.done" ]; then
	say "configuring: x86_64_defconfig + kvm_guest.config + ${frag##*/}"
	kmake -s x86_64_defconfig >&2
	KCONFIG_CONFIG=$out/build/.config "$out/src/scripts/kconfig/merge_config.sh" \
		-m -O "$out/build" "$out/build/.config" \
		"$out/src/kernel/configs/kvm_guest.config" "$frag" >"$out/build/merge.log" 2>&1 ||
		{ cat "$out/build/merge.log" >&2; exit 1; }
	kmake -s olddefconfig >&2
	# Every line of the fragment must have survived (a dependency missing
	# drops an option silently).
	bad=0
	while read -r line; do
		case $line in
		CONFIG_*=*) opt=${line%%=*} ;;
		"# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *} ;;
		*) continue ;;
		esac
		got=$(grep -E "^$opt=|^# $opt is not set" "$out/build/.config" || true)
		if [ -z "$got" ] && [[ $line == "# "* ]]; then
			continue	# not offered at all: off
		fi
		[ "$got" = "$line" ] || { say "config: wanted '$line', got '${got:-nothing}'"; bad=1; }
	done <"$frag"
	[ $bad = 0 ] || exit 1
	touch "$out/build/.config.done"
fi
if [ $prepare = 1 ]; then
	say "prepared $out (--prepare: not compiled)"
	exit 0
fi

say "compiling with $(nproc) jobs (load now: $(cut -d' ' -f1-3 /proc/loadavg));" \
	"about 1 h cold on 2 shared cores, log in $out/build.log"
start=$SECONDS
kmake -j"$(nproc)" bzImage modules >"$out/build.log" 2>&1 ||
	{ tail -30 "$out/build.log" >&2; exit 1; }
rel=$(cat "$out/build/include/config/kernel.release")
rm -rf "$out/mod"
kmake -s INSTALL_MOD_PATH="$out/mod" modules_install >>"$out/build.log" 2>&1 ||
	{ tail -30 "$out/build.log" >&2; exit 1; }
# npa's out-of-tree build looks up the object tree through this link, as
# through Debian's /lib/modules/REL/build.
ln -sfn "$out/build" "$out/mod/lib/modules/$rel/build"
say "compiled in $((SECONDS - start)) s (load now: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "$rel" >"$out/release"
cp "$out/build/arch/x86/boot/bzImage" "$out/bzImage.tmp"
mv "$out/bzImage.tmp" "$out/bzImage"
echo "$out"
