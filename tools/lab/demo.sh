#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The lab demo: install, build, boot the test host and, inside it, hand a VF
# to npa and create its mdev with mdevctl (tools/lab/demo-host.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
echo "== setup"
tools/lab/setup.sh
echo "== build"
make -s modules selftests tools
echo "== the test host"
exec tools/lab/run-host.sh -o "build/lab/demo-$(date +%Y%m%d-%H%M%S)" tools/lab/demo-host.sh
