#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build an initramfs of static busybox and a few of the lab kernel's modules.
#
#   mkinitramfs.sh host        the test host's: mounts this machine's root
#                              over 9p with a tmpfs overlay; cached under
#                              $NPA_CACHE, keyed by the kernel and this script.
#                              It boots the debug lab's kernel too
#                              (build-kernel.sh), which has 9p and overlay
#                              built in: npa.modules=DIR on its command line
#                              is bound over /lib/modules/$(uname -r)
#   mkinitramfs.sh guest OUT [MODULE.ko...]
#                              the lab guest's: virtio_net, npa-udp and
#                              guest-init.sh as /init, written to OUT; the
#                              MODULEs go to /lib/modules, not loaded
#
# Prints the initramfs's path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"
flavour=${1:-}
case $flavour in
host)
	cache=${NPA_CACHE:-/var/cache/npa}
	key=$(cat "$0" "$here/versions.env" | sha256sum | cut -c1-16)
	out=$cache/l1-initramfs-$key.gz
	if [ -s "$out" ]; then
		echo "$out"
		exit 0
	fi
	mkdir -p "$cache"
	wanted="net/9p/9pnet_virtio fs/9p/9p fs/overlayfs/overlay"
	;;
guest)
	out=${2:?usage: mkinitramfs.sh guest OUT [MODULE.ko...]}
	shift 2
	extra=("$@")
	wanted="drivers/net/virtio_net"
	;;
*)
	echo "usage: mkinitramfs.sh host | guest OUT [MODULE.ko...]" >&2
	exit 2
	;;
esac

mods=/lib/modules/$KVER
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys,lower,rw,newroot,lib/modules}
cp /bin/busybox "$tmp/bin/busybox"

# netfs, 9pnet, 9pnet_virtio, 9p, overlay: each module after its deps.
order=()
add_mod() {
	local path=$1 dep
	for dep in $(grep "^$path:" "$mods/modules.dep" | cut -d: -f2); do
		add_mod "$dep"
	done
	[[ " ${order[*]} " == *" $path "* ]] || order+=("$path")
}
for m in $wanted; do
	add_mod "kernel/$m.ko.xz"
done
for p in "${order[@]}"; do
	n=$(basename "$p" .xz)
	xz -dc "$mods/$p" >"$tmp/lib/modules/$n"
	echo "insmod /lib/modules/$n" >>"$tmp/modules"
done

if [ "$flavour" = guest ]; then
	cp "$here/guest-init.sh" "$tmp/init"
	cp "$here/../npa/npa-udp" "$tmp/bin/npa-udp"
	for m in "${extra[@]}"; do
		cp "$m" "$tmp/lib/modules/"
	done
else
	cat >"$tmp/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Debian's kernel needs its modules; the debug lab's has them built in.
grep -qw 9p /proc/filesystems || . /modules
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot /lower || exec sh
mount -t tmpfs -o size=2g tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || exec sh
mods=
for a in $(cat /proc/cmdline); do
	case $a in
	npa.init=*) init=${a#npa.init=} ;;
	npa.modules=*) mods=${a#npa.modules=} ;;
	esac
done
if [ -n "$mods" ]; then
	rel=$(uname -r)
	mkdir -p "/newroot/lib/modules/$rel"
	mount -o bind "/newroot$mods" "/newroot/lib/modules/$rel" || exec sh
fi
umount /proc /sys /dev
exec switch_root /newroot /bin/bash "$init"
INIT
fi
chmod +x "$tmp/init"
(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
