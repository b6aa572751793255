# SPDX-License-Identifier: GPL-2.0
# Helpers for the benchmarks (bench.sh, bench-migrate.sh), run from the
# repository's top.

# bench_prepare [--no-plots]: what a benchmark needs: the lab's packages,
# matplotlib for the plots (unless --no-plots), npa, the patched QEMU
# (NPA_QEMU, exported) and the upstream vdpa parents Debian does not build
# (their folder in upstream).
bench_prepare() {
	echo "== setup"
	tools/lab/setup.sh
	[ "${1:-}" = --no-plots ] || dpkg -s python3-matplotlib >/dev/null 2>&1 ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends python3-matplotlib
	echo "== build"
	make -s modules tools
	NPA_QEMU=$(tools/lab/build-qemu.sh)
	export NPA_QEMU
	upstream=$(tools/lab/build-upstream.sh)
}
