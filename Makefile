# SPDX-License-Identifier: GPL-2.0
# npa: out-of-tree build against Debian's headers for the lab kernel.
include tools/lab/versions.env

KDIR ?= /lib/modules/$(KVER)/build
KSRC ?= /usr/src/$(KSRCPKG)
CHECKPATCH = $(KSRC)/scripts/checkpatch.pl --no-tree --strict --quiet
C_SOURCES = $(shell git ls-files -co --exclude-standard '*.c' '*.h' 2>/dev/null | grep -v '\.mod\.c$$')

.PHONY: all modules clean checkpatch sparse selftests tools check bench demo setup fuzz \
	teardown debug-lab upstream bench-migrate

all: modules selftests tools

setup:
	tools/lab/setup.sh

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

# The upstream vdpa parents the lab also runs npa on (build-upstream.sh).
upstream:
	tools/lab/build-upstream.sh

sparse:
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 C=2 modules

selftests:
	$(MAKE) -C selftests KSRC=$(KSRC)

tools:
	$(MAKE) -C tools

checkpatch:
	$(CHECKPATCH) -f $(C_SOURCES)

# The README's two commands.
check:
	tools/lab/check.sh

bench:
	tools/lab/bench.sh

# Live migration, npa vs vhost-vdpa x-svq=on, and relay-mode throughput
# (docs/performance.md).
bench-migrate:
	tools/lab/bench-migrate.sh

demo:
	tools/lab/demo.sh

# The UAPI fuzzer, longer than the test command's run (docs/lab.md), on a
# two-vCPU test host: an ioctl on one CPU races an interrupt or a teardown
# on the other.
# make fuzz [FUZZ_SECONDS=N] [FUZZ_ARGS="-s SEED -x KIND ..."]
FUZZ_SECONDS ?= 600
fuzz: modules tools
	tools/lab/run-host.sh -c 2 -m 4G -t $$(($(FUZZ_SECONDS) + 300)) \
		-o build/lab/fuzz-$$(date +%Y%m%d-%H%M%S) \
		selftests/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_ARGS)

# Every teardown under traffic, TEARDOWN_CYCLES times each (docs/lab.md;
# about an hour for 50), on a two-vCPU test host:
# make teardown [TEARDOWN_CYCLES=N] [TEARDOWN_KINDS="kill stop unbind unload unplug"]
TEARDOWN_CYCLES ?= 50
teardown: modules tools
	tools/lab/run-host.sh -m 3G -c 2 -t $$(($(TEARDOWN_CYCLES) * 120 + 300)) \
		-o build/lab/teardown-$$(date +%Y%m%d-%H%M%S) \
		selftests/teardown.sh $(TEARDOWN_CYCLES) $(TEARDOWN_KINDS)

# The debug lab (docs/lab.md): the tests on a KASAN/lockdep/kmemleak kernel
# with fault injection; before every change to drivers/.
# make debug-lab [DEBUG_FUZZ_SECONDS=N]
DEBUG_FUZZ_SECONDS ?= 60
debug-lab:
	tools/lab/debug-lab.sh -s $(DEBUG_FUZZ_SECONDS)

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C selftests clean
	$(MAKE) -C tools clean
