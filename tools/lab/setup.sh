#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install everything npa's build and lab need, from Debian packages only.
# Idempotent: a second run only checks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.env"

pkgs=(
	"linux-image-$KVER" "linux-headers-$KVER" "$KSRCPKG=$KPKGVER"
	gcc-12 make sparse xz-utils kmod cpio
	qemu-system-x86 busybox-static mdevctl pciutils iproute2 tcpdump
	python3 ethtool
)

missing=()
for p in "${pkgs[@]}"; do
	name=${p%%=*}
	want=${p#*=}
	have=$(dpkg-query -W -f '${Status} ${Version}' "$name" 2>/dev/null || true)
	case "$have" in
	"install ok installed"*)
		[ "$name" = "$p" ] || [ "${have##* }" = "$want" ] || missing+=("$p")
		;;
	*) missing+=("$p") ;;
	esac
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "setup: all packages present"
else
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# checkpatch.pl and the kselftest harness come from the kernel source tarball.
src=/usr/src/$KSRCPKG
if [ ! -x "$src/scripts/checkpatch.pl" ]; then
	echo "setup: unpacking scripts and selftest headers from $KSRCPKG"
	tar -C /usr/src -xJf "/usr/src/$KSRCPKG.tar.xz" \
		"$KSRCPKG/scripts" "$KSRCPKG/tools/testing/selftests/kselftest.h" \
		"$KSRCPKG/tools/testing/selftests/kselftest_harness.h" \
		"$KSRCPKG/include/uapi" "$KSRCPKG/arch/x86/include/uapi"
fi
echo "setup: ok (kernel $KVER)"
