#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the npa selftests inside the lab's test host (tools/lab/run-host.sh).
# Arguments go to npa_test (e.g. -f noiommu); TAP goes to stdout and to
# $NPA_OUT/npa_test.tap.
set -uo pipefail
cd "$(dirname "$0")/.."
tools/npactl load || exit 1
./selftests/npa_test "$@" 2>&1 | tee "${NPA_OUT:-/tmp}/npa_test.tap"
