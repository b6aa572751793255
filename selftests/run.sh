#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the npa selftests inside the lab's test host (tools/lab/run-host.sh).
# Arguments go to npa_test (e.g. -f noiommu); TAP goes to stdout and to
# $NPA_OUT/npa_test.tap.  The tests run npa on upstream vdpa parents too,
# whose modules family.sh loads from build/upstream (build-upstream.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
tools/npactl load || exit 1
if [ ! -e build/upstream/stamp ]; then
	echo "run: no upstream vdpa parents in build/upstream (tools/lab/build-upstream.sh)"
	exit 1
fi
./selftests/npa_test "$@" 2>&1 | tee "${NPA_OUT:-/tmp}/npa_test.tap"
