// SPDX-License-Identifier: GPL-2.0
/*
 * npa-fuzz: random sequences of every request an npa mdev serves, from
 * several threads at once, to shake out kernel bugs (docs/lab.md).
 *
 *   npa-fuzz -u UUID [-s SEED] [-t SECONDS] [-n OPS] [-j THREADS]
 *            [-i VF] [-m KB] [-x KIND]... [-v]
 *
 * The mdev is opened as libnpa opens it.  Each thread runs operations drawn
 * from its own PRNG, seeded from SEED and the thread's number: vhost
 * requests, VFIO device requests, region reads, writes and mmaps, changes
 * to the memory the requests name, fork() (the child runs a few operations,
 * then exits or is killed) and close and reopen of the device fd, with
 * random and boundary sizes, indexes, addresses, flags and file
 * descriptors.  With -i, a traffic thread also moves frames through the
 * mdev with libnpa, to the lab peer of VF I, as long as the fuzzing lets it.
 * -m drops CAP_IPC_LOCK and limits RLIMIT_MEMLOCK to KB, so that pinning
 * meets the limit (ENOMEM) as an unprivileged VMM's does.
 * -x leaves out an operation kind (or "huge-mem", memory table regions of
 * 64 GiB and more); -t and -n bound the run (-n: operations in all, split
 * between the threads).  The seed is printed first.  Operation N of thread
 * T draws its numbers from a PRNG seeded from SEED, T and N alone, so the
 * same seed and -j give each thread the same operations with the same
 * arguments, whatever the others did (the interleaving, and the state an
 * operation finds, are the scheduler's); -v prints each as "T.N KIND:
 * RESULT" on stderr.  The summary counts operations per kind and the
 * errors they returned.  Exit status: 0 unless the mdev could not be
 * opened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/vfio.h>
#include <linux/vhost.h>
#include <linux/vhost_npa.h>
#include <linux/virtio_config.h>

#include "libnpa.h"

#define PAGE		4096UL
#define MAX_THREADS	16
#define MAX_MAPS	8
#define MAX_REGIONS	66	/* the limit, 64, and past it */
#define MAX_IRQ_DATA	16	/* SET_IRQS entries: every queue, and past */
#define THREAD_EFDS	4
#define CHILD_OPS	8
#define POOL_PAGES	1024	/* the memory table's usual memory: 4 MiB */
#define SMALL_PAGES	16
#define GPA_BASE	0x40000000ULL
/* -x huge-mem: no region this large (its page array alone: 128 MiB). */
#define HUGE_MEM	0x1000000000ULL		/* 64 GiB */
/* VFIO region offsets, as vfio-pci and npa lay them out. */
#define REGION_SHIFT	40
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

enum op {
	OP_GET_FEATURES,
	OP_SET_FEATURES,
	OP_SET_OWNER,
	OP_RESET_OWNER,
	OP_SET_MEM_TABLE,
	OP_SET_LOG_BASE,
	OP_SET_LOG_FD,
	OP_SET_VRING_NUM,
	OP_SET_VRING_ADDR,
	OP_SET_VRING_BASE,
	OP_GET_VRING_BASE,
	OP_SET_VRING_KICK,
	OP_SET_VRING_CALL,
	OP_SET_VRING_ERR,
	OP_GET_DEVICE_ID,
	OP_GET_STATUS,
	OP_SET_STATUS,
	OP_GET_CONFIG,
	OP_SET_CONFIG,
	OP_SET_VRING_ENABLE,
	OP_GET_VRING_NUM,
	OP_GET_VQS_COUNT,
	OP_GET_CONFIG_SIZE,
	OP_GET_IOVA_RANGE,
	OP_VHOST_OTHER,
	OP_DEVICE_GET_INFO,
	OP_GET_REGION_INFO,
	OP_GET_IRQ_INFO,
	OP_SET_IRQS,
	OP_DEVICE_RESET,
	OP_VFIO_OTHER,
	OP_PREAD,
	OP_PWRITE,
	OP_MMAP,
	OP_MUNMAP,
	OP_TOUCH,
	OP_SIGNAL,
	OP_MEM_CHURN,
	OP_FORK,
	OP_REOPEN,
	OP_COUNT
};

struct op_kind {
	const char *name;
	int weight;
	bool changes;	/* changes the device: the owner's alone */
};

static const struct op_kind kinds[OP_COUNT] = {
	[OP_GET_FEATURES]	= { "get-features", 2 },
	[OP_SET_FEATURES]	= { "set-features", 4, true },
	[OP_SET_OWNER]		= { "set-owner", 2 },
	[OP_RESET_OWNER]	= { "reset-owner", 1 },
	[OP_SET_MEM_TABLE]	= { "set-mem-table", 8, true },
	[OP_SET_LOG_BASE]	= { "set-log-base", 1, true },
	[OP_SET_LOG_FD]		= { "set-log-fd", 1 },
	[OP_SET_VRING_NUM]	= { "set-vring-num", 4, true },
	[OP_SET_VRING_ADDR]	= { "set-vring-addr", 4, true },
	[OP_SET_VRING_BASE]	= { "set-vring-base", 2, true },
	[OP_GET_VRING_BASE]	= { "get-vring-base", 2 },
	[OP_SET_VRING_KICK]	= { "set-vring-kick", 4, true },
	[OP_SET_VRING_CALL]	= { "set-vring-call", 1 },
	[OP_SET_VRING_ERR]	= { "set-vring-err", 1 },
	[OP_GET_DEVICE_ID]	= { "get-device-id", 1 },
	[OP_GET_STATUS]		= { "get-status", 2 },
	[OP_SET_STATUS]		= { "set-status", 8, true },
	[OP_GET_CONFIG]		= { "get-config", 3 },
	[OP_SET_CONFIG]		= { "set-config", 1 },
	[OP_SET_VRING_ENABLE]	= { "set-vring-enable", 4, true },
	[OP_GET_VRING_NUM]	= { "get-vring-num", 1 },
	[OP_GET_VQS_COUNT]	= { "get-vqs-count", 1 },
	[OP_GET_CONFIG_SIZE]	= { "get-config-size", 1 },
	[OP_GET_IOVA_RANGE]	= { "get-iova-range", 1 },
	[OP_VHOST_OTHER]	= { "vhost-other", 2 },
	[OP_DEVICE_GET_INFO]	= { "device-get-info", 1 },
	[OP_GET_REGION_INFO]	= { "get-region-info", 2 },
	[OP_GET_IRQ_INFO]	= { "get-irq-info", 2 },
	[OP_SET_IRQS]		= { "set-irqs", 8, true },
	[OP_DEVICE_RESET]	= { "device-reset", 2, true },
	[OP_VFIO_OTHER]		= { "vfio-other", 2 },
	[OP_PREAD]		= { "pread", 2 },
	[OP_PWRITE]		= { "pwrite", 4 },
	[OP_MMAP]		= { "mmap", 3 },
	[OP_MUNMAP]		= { "munmap", 2 },
	[OP_TOUCH]		= { "touch", 4 },
	[OP_SIGNAL]		= { "signal", 3 },
	[OP_MEM_CHURN]		= { "mem-churn", 2 },
	[OP_FORK]		= { "fork", 1 },
	[OP_REOPEN]		= { "reopen", 1 },
};

/* Requests npa serves: vhost-other and vfio-other draw other numbers. */
static const unsigned long served[] = {
	VHOST_GET_FEATURES, VHOST_SET_FEATURES, VHOST_SET_OWNER,
	VHOST_SET_MEM_TABLE, VHOST_SET_LOG_BASE, VHOST_SET_VRING_NUM,
	VHOST_SET_VRING_ADDR, VHOST_SET_VRING_BASE, VHOST_GET_VRING_BASE,
	VHOST_SET_VRING_KICK, VHOST_VDPA_GET_DEVICE_ID,
	VHOST_VDPA_GET_STATUS, VHOST_VDPA_SET_STATUS, VHOST_VDPA_GET_CONFIG,
	VHOST_VDPA_SET_CONFIG, VHOST_VDPA_SET_VRING_ENABLE,
	VHOST_VDPA_GET_VRING_NUM, VHOST_VDPA_GET_CONFIG_SIZE,
	VHOST_VDPA_GET_VQS_COUNT, VFIO_DEVICE_GET_INFO,
	VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GET_IRQ_INFO,
	VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET,
};

/* Results as the summary counts them: 0, errno values, then these. */
#define ERR_MAX		255		/* any errno from here up */
#define ERR_SEGV	(ERR_MAX + 1)	/* SIGSEGV on a touch */
#define ERR_BUS		(ERR_MAX + 2)	/* SIGBUS on a touch */
#define ERR_SLOTS	(ERR_MAX + 3)

/* The mdev: fds replaced by reopen, under the lock. */
static struct {
	pthread_rwlock_t lock;
	const char *uuid;
	int container, group, device;
	__u64 features;
	__u32 nvqs;
	__u32 config_size;
	__u64 region_offset;
} dev = { .lock = PTHREAD_RWLOCK_INITIALIZER, .container = -1,
	  .group = -1, .device = -1 };

/* Memory the memory table names: usual, read-only, absent, shared. */
static struct {
	__u8 *pool;
	__u8 *ro;
	__u8 *hole;
	__u8 *edge;	/* a page, then an inaccessible one */
	__u8 *shared;
	int null_fd;
} mem;

struct map {
	void *addr;
	size_t len;
	int prot;
};

struct fuzz_thread {
	int id;
	__u64 seed;
	__u64 rng;		/* this operation's: from seed and its number */
	long ops;		/* its share of -n */
	pthread_t tid;
	struct map maps[MAX_MAPS];
	int nmaps;
	int efd[THREAD_EFDS];
};

static struct fuzz_thread threads[MAX_THREADS];
static bool skipped[OP_COUNT];
static bool skip_huge_mem;
static bool in_child;
static bool verbose;
static bool stop;
static double deadline;
/* Counts, in memory shared with the forked children, which count theirs. */
static struct {
	unsigned long ops[OP_COUNT], ok[OP_COUNT], results[ERR_SLOTS];
	unsigned long child_ops, nonowner_ops[OP_COUNT], nonowner_ok[OP_COUNT];
} *stats;
static bool child_owner;	/* a child that became the owner itself */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64: each thread's stream, and seeds derived from a seed. */
static __u64 mix(__u64 *state)
{
	__u64 z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Every thread done, or the time is up. */
static bool stopped(void)
{
	return __atomic_load_n(&stop, __ATOMIC_RELAXED) || now() >= deadline;
}

static __u64 rnd(struct fuzz_thread *t)
{
	return mix(&t->rng);
}

static __u64 below(struct fuzz_thread *t, __u64 n)
{
	return n ? rnd(t) % n : 0;
}

static bool one_in(struct fuzz_thread *t, __u64 n)
{
	return below(t, n) == 0;
}

/* A value near a boundary, or any value. */
static __u64 any_u64(struct fuzz_thread *t)
{
	static const __u64 edges[] = {
		0, 1, 2, 3, 4, 0x7f, 0x80, 0xff, 0x100, 0xfff, 0x1000, 0x1001,
		0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000ULL,
		0xffffffffULL, 0x100000000ULL, 0x7fffffffffffffffULL,
		0x8000000000000000ULL, ~0ULL - 0xfff, ~0ULL - 1, ~0ULL,
	};
	int bit = below(t, 64);

	switch (below(t, 4)) {
	case 0:
		return edges[below(t, ARRAY_SIZE(edges))];
	case 1:
		return (1ULL << bit) + below(t, 3) - 1;
	case 2:
		return rnd(t) & ((1ULL << bit) - 1);
	}
	return rnd(t);
}

/* A queue index: the valid ones, the first past them, or anything. */
static __u32 any_index(struct fuzz_thread *t)
{
	switch (below(t, 8)) {
	case 0:
		return dev.nvqs;
	case 1:
		return dev.nvqs + 1;
	case 2:
		return any_u64(t);
	}
	return below(t, dev.nvqs ? dev.nvqs : 1);
}

/* Usually @good; sometimes a pointer the kernel must refuse. */
static void *arg_ptr(struct fuzz_thread *t, void *good, size_t size)
{
	if (!one_in(t, 24))
		return good;
	switch (below(t, 6)) {
	case 0:
		return NULL;
	case 1:
		return (void *)1;
	case 2:
		return mem.hole;
	case 3:
		return mem.ro;	/* readable, not writable */
	case 4:
		return mem.edge + PAGE - (size > 1 ? size / 2 : 1);
	}
	return (void *)0xffffffff81000000UL;
}

static int new_efd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/*
 * An fd for an eventfd argument: one of the thread's eventfds, a fresh one
 * (closed once the request returns: the kernel keeps its own reference),
 * -1, a bad number, a closed fd, or an fd that is not an eventfd.
 */
static int any_fd(struct fuzz_thread *t, int *fresh)
{
	int fd;

	*fresh = -1;
	switch (below(t, 10)) {
	case 0:
		return -1;
	case 1:
		return one_in(t, 2) ? -2 : (int)rnd(t) | (1 << 31);
	case 2:
		fd = new_efd();
		close(fd);
		return fd;
	case 3:
		return mem.null_fd;
	case 4:
		return one_in(t, 2) ? dev.device : 100000 + (int)below(t, 1000);
	case 5:
		*fresh = new_efd();
		return *fresh;
	}
	return t->efd[below(t, THREAD_EFDS)];
}

static void close_fresh(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ---- vhost requests ---- */

static long do_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static __u64 any_features(struct fuzz_thread *t)
{
	switch (below(t, 5)) {
	case 0:
		return dev.features;
	case 3:
		/* Dirty logging on or off, before or while the device runs. */
		return dev.features ^ (1ULL << VHOST_F_LOG_ALL);
	case 1:
		return dev.features & rnd(t);
	case 2:
		return dev.features ^ (1ULL << below(t, 64));
	}
	return any_u64(t);
}

static long op_set_features(struct fuzz_thread *t, int fd)
{
	__u64 f = any_features(t);

	return do_ioctl(fd, VHOST_SET_FEATURES, arg_ptr(t, &f, sizeof(f)));
}

/* A region size: pages of the pool, odd sizes, or (unless skipped) huge. */
static __u64 any_size(struct fuzz_thread *t)
{
	__u64 size;

	switch (below(t, 8)) {
	case 0:
		size = any_u64(t);
		break;
	case 1:
		size = (1 + below(t, 1 << 20)) * PAGE;	/* up to 4 GiB */
		break;
	case 2:
		size = (1 + below(t, POOL_PAGES)) * PAGE + below(t, PAGE);
		break;
	default:
		size = (1 + below(t, SMALL_PAGES)) * PAGE;
	}
	if (skip_huge_mem && size >= HUGE_MEM)
		size &= HUGE_MEM - 1;
	return size;
}

/* A user address: in the pool (usually), or memory pinning must refuse. */
static __u64 any_uaddr(struct fuzz_thread *t)
{
	switch (below(t, 12)) {
	case 0:
		return (uintptr_t)mem.ro + below(t, SMALL_PAGES) * PAGE;
	case 1:
		return (uintptr_t)mem.hole + below(t, SMALL_PAGES) * PAGE;
	case 2:
		return (uintptr_t)mem.shared + below(t, SMALL_PAGES) * PAGE;
	case 3:
		return (uintptr_t)mem.edge;
	case 4:
		if (t->nmaps)
			return (uintptr_t)t->maps[below(t, t->nmaps)].addr;
		return 0;
	case 5:
		return any_u64(t);
	case 6:
		return (uintptr_t)mem.pool + below(t, POOL_PAGES * PAGE);
	}
	return (uintptr_t)mem.pool + below(t, POOL_PAGES) * PAGE;
}

static __u64 any_gpa(struct fuzz_thread *t)
{
	switch (below(t, 6)) {
	case 0:
		return any_u64(t);
	case 1:
		return below(t, 1ULL << 32) & ~(PAGE - 1);
	}
	return GPA_BASE + below(t, 2 * POOL_PAGES) * PAGE;
}

static void any_region(struct fuzz_thread *t, struct vhost_memory_region *r,
		       const struct vhost_memory_region *prev)
{
	if (prev && one_in(t, 4)) {
		/* Overlapping the previous one, or the same memory again. */
		*r = *prev;
		if (one_in(t, 2))
			r->guest_phys_addr += below(t, 4) * PAGE;
		else
			r->userspace_addr += below(t, 4) * PAGE;
		r->memory_size = any_size(t);
	} else {
		r->guest_phys_addr = any_gpa(t);
		r->memory_size = any_size(t);
		r->userspace_addr = any_uaddr(t);
	}
	r->flags_padding = one_in(t, 32) ? rnd(t) : 0;
}

static long op_set_mem_table(struct fuzz_thread *t, int fd)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[MAX_REGIONS];
	} table;
	__u32 i, n;

	switch (below(t, 16)) {
	case 0:
		n = 64 + below(t, 2);
		break;
	case 1:
		n = one_in(t, 2) ? 0 : below(t, MAX_REGIONS);
		break;
	case 2:
		n = any_u64(t);
		break;
	default:
		n = 1 + below(t, 4);
	}
	memset(&table, 0, sizeof(table));
	table.hdr.nregions = n;
	table.hdr.padding = one_in(t, 32) ? rnd(t) : 0;
	for (i = 0; i < n && i < MAX_REGIONS; i++)
		any_region(t, &table.r[i], i ? &table.r[i - 1] : NULL);
	return do_ioctl(fd, VHOST_SET_MEM_TABLE,
			arg_ptr(t, &table, sizeof(table)));
}

static long op_vring_state(struct fuzz_thread *t, int fd, unsigned long cmd)
{
	struct vhost_vring_state s = { .index = any_index(t) };

	switch (below(t, 4)) {
	case 0:
		s.num = any_u64(t);
		break;
	case 1:
		s.num = 0;
		break;
	default:
		s.num = cmd == VHOST_SET_VRING_NUM ? 1U << below(t, 17) :
		       below(t, 3);
		/* A ring resumed anywhere (relay mode on a virtio VF). */
		if (cmd == VHOST_SET_VRING_BASE && one_in(t, 2))
			s.num = one_in(t, 4) ? 0xffff : below(t, 0x10000);
	}
	return do_ioctl(fd, cmd, arg_ptr(t, &s, sizeof(s)));
}

/* A ring address: in the memory table's usual range, or not. */
static __u64 any_ring(struct fuzz_thread *t)
{
	__u64 a = GPA_BASE + below(t, POOL_PAGES) * PAGE;

	switch (below(t, 6)) {
	case 0:
		return any_u64(t);
	case 1:
		return a + below(t, PAGE);
	}
	return a;
}

static long op_set_vring_addr(struct fuzz_thread *t, int fd)
{
	struct vhost_vring_addr a = {
		.index = any_index(t),
		.desc_user_addr = any_ring(t),
		.avail_user_addr = any_ring(t),
		.used_user_addr = any_ring(t),
		.log_guest_addr = any_u64(t),
	};

	if (one_in(t, 4))
		a.flags = one_in(t, 2) ? 1 << VHOST_VRING_F_LOG : any_u64(t);
	return do_ioctl(fd, VHOST_SET_VRING_ADDR, arg_ptr(t, &a, sizeof(a)));
}

static long op_vring_file(struct fuzz_thread *t, int fd, unsigned long cmd)
{
	struct vhost_vring_file f = { .index = any_index(t) };
	int fresh;
	long ret;

	f.fd = any_fd(t, &fresh);
	ret = do_ioctl(fd, cmd, arg_ptr(t, &f, sizeof(f)));
	close_fresh(fresh);
	return ret;
}

static long op_set_status(struct fuzz_thread *t, int fd)
{
	static const __u8 steps[] = {
		0,
		VIRTIO_CONFIG_S_ACKNOWLEDGE,
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER,
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		VIRTIO_CONFIG_S_FEATURES_OK,
		VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK,
	};
	__u8 status, now_status = 0;

	switch (below(t, 4)) {
	case 0:
		status = rnd(t);
		break;
	case 1:
		ioctl(fd, VHOST_VDPA_GET_STATUS, &now_status);
		status = now_status | 1 << below(t, 8);
		break;
	default:
		status = steps[below(t, ARRAY_SIZE(steps))];
	}
	return do_ioctl(fd, VHOST_VDPA_SET_STATUS,
			arg_ptr(t, &status, sizeof(status)));
}

static long op_config(struct fuzz_thread *t, int fd, unsigned long cmd)
{
	struct {
		struct vhost_vdpa_config hdr;
		__u8 buf[PAGE];
	} cfg;

	switch (below(t, 4)) {
	case 0:
		cfg.hdr.off = any_u64(t);
		cfg.hdr.len = any_u64(t);
		break;
	case 1:
		cfg.hdr.off = dev.config_size - below(t, 3) + 1;
		cfg.hdr.len = below(t, 4);
		break;
	default:
		cfg.hdr.off = below(t, dev.config_size + 2);
		cfg.hdr.len = below(t, dev.config_size + 2);
	}
	/* The kernel may copy up to len bytes: keep within cfg. */
	if (cfg.hdr.len > sizeof(cfg.buf) && !one_in(t, 8))
		cfg.hdr.len = sizeof(cfg.buf);
	memset(cfg.buf, rnd(t), sizeof(cfg.buf));
	return do_ioctl(fd, cmd, arg_ptr(t, &cfg, sizeof(cfg)));
}

/*
 * A dirty log: in the pool (the bitmap of the usual memory table fits), at
 * a user address pinning may refuse, misaligned, anything, or none.
 */
static long op_set_log_base(struct fuzz_thread *t, int fd)
{
	__u64 base;

	switch (below(t, 6)) {
	case 0:
		base = 0;
		break;
	case 1:
		base = any_uaddr(t) + below(t, 16);
		break;
	case 2:
		base = any_u64(t);
		break;
	default:
		base = (uintptr_t)mem.pool + 8 * below(t, 64);
	}
	return do_ioctl(fd, VHOST_SET_LOG_BASE, arg_ptr(t, &base, sizeof(base)));
}

static long op_get(struct fuzz_thread *t, int fd, unsigned long cmd)
{
	__u64 buf[8];

	return do_ioctl(fd, cmd, arg_ptr(t, buf, _IOC_SIZE(cmd)));
}

static bool is_served(unsigned long cmd)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(served); i++)
		if (served[i] == cmd)
			return true;
	return false;
}

/* Any other request of @type: its number, direction and size at random. */
static long op_other(struct fuzz_thread *t, int fd, unsigned int type)
{
	__u64 buf[PAGE / 8];
	unsigned long cmd;
	size_t i;

	do {
		cmd = _IOC(below(t, 4), type, below(t, 256),
			   one_in(t, 2) ? below(t, 64) : any_u64(t) & 0x3fff);
	} while (is_served(cmd));
	for (i = 0; i < PAGE / 8; i++)
		buf[i] = any_u64(t);
	return do_ioctl(fd, cmd, arg_ptr(t, buf, sizeof(buf)));
}

/* ---- VFIO device requests ---- */

static __u32 any_argsz(struct fuzz_thread *t, __u32 minsz, __u32 size)
{
	switch (below(t, 8)) {
	case 0:
		return below(t, minsz);
	case 1:
		return any_u64(t) & 0xfff;
	case 2:
		return minsz;
	}
	return size;
}

static long op_device_get_info(struct fuzz_thread *t, int fd)
{
	struct vfio_device_info info = {
		.argsz = any_argsz(t, offsetof(struct vfio_device_info,
					       num_irqs) + sizeof(__u32),
				   sizeof(info)),
	};

	return do_ioctl(fd, VFIO_DEVICE_GET_INFO,
			arg_ptr(t, &info, sizeof(info)));
}

static long op_get_region_info(struct fuzz_thread *t, int fd)
{
	__u8 buf[PAGE];
	struct vfio_region_info *info = (void *)buf;

	memset(buf, 0, sizeof(buf));
	info->argsz = any_argsz(t, offsetof(struct vfio_region_info, offset) +
				sizeof(__u64), sizeof(buf));
	info->index = one_in(t, 2) ? 0 : any_u64(t);
	return do_ioctl(fd, VFIO_DEVICE_GET_REGION_INFO,
			arg_ptr(t, info, sizeof(*info)));
}

static long op_get_irq_info(struct fuzz_thread *t, int fd)
{
	struct vfio_irq_info info = {
		.argsz = any_argsz(t, offsetof(struct vfio_irq_info, count) +
				   sizeof(__u32), sizeof(info)),
		.index = one_in(t, 3) ? any_u64(t) : below(t, 4),
	};

	return do_ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO,
			arg_ptr(t, &info, sizeof(info)));
}

static long op_set_irqs(struct fuzz_thread *t, int fd)
{
	static const __u32 data[] = {
		VFIO_IRQ_SET_DATA_NONE, VFIO_IRQ_SET_DATA_BOOL,
		VFIO_IRQ_SET_DATA_EVENTFD,
	};
	static const __u32 action[] = {
		VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_ACTION_MASK,
		VFIO_IRQ_SET_ACTION_UNMASK,
	};
	struct {
		struct vfio_irq_set hdr;
		__s32 fds[MAX_IRQ_DATA];
	} set;
	int fresh[MAX_IRQ_DATA];
	size_t data_size;
	__u32 i, n;
	long ret;

	memset(&set, 0, sizeof(set));
	for (i = 0; i < MAX_IRQ_DATA; i++)
		fresh[i] = -1;
	set.hdr.index = one_in(t, 6) ? any_u64(t) : below(t, 3);
	set.hdr.flags = data[below(t, 3)];
	if (!one_in(t, 6))
		set.hdr.flags |= VFIO_IRQ_SET_ACTION_TRIGGER;
	else if (one_in(t, 2))
		set.hdr.flags |= action[below(t, 3)];
	else
		set.hdr.flags = any_u64(t);
	n = set.hdr.index == VHOST_NPA_VQ_IRQ_INDEX ? dev.nvqs : 1;
	set.hdr.start = one_in(t, 6) ? any_u64(t) : below(t, n + 1);
	set.hdr.count = one_in(t, 6) ? any_u64(t) : below(t, n + 2);
	data_size = set.hdr.flags & VFIO_IRQ_SET_DATA_EVENTFD ? sizeof(__s32) :
		    set.hdr.flags & VFIO_IRQ_SET_DATA_BOOL ? 1 : 0;
	data_size *= set.hdr.count < MAX_IRQ_DATA ? set.hdr.count : 0;
	set.hdr.argsz = one_in(t, 8) ? any_argsz(t, sizeof(set.hdr),
						 sizeof(set)) :
			sizeof(set.hdr) + data_size;
	for (i = 0; i < MAX_IRQ_DATA; i++) {
		if (set.hdr.flags & VFIO_IRQ_SET_DATA_EVENTFD)
			set.fds[i] = any_fd(t, &fresh[i]);
		else
			((__u8 *)set.fds)[i] = below(t, 2);
		if (i >= set.hdr.count)
			break;
	}
	ret = do_ioctl(fd, VFIO_DEVICE_SET_IRQS, arg_ptr(t, &set, sizeof(set)));
	for (i = 0; i < MAX_IRQ_DATA; i++)
		close_fresh(fresh[i]);
	return ret;
}

static long op_vfio_feature(struct fuzz_thread *t, int fd)
{
	struct {
		struct vfio_device_feature hdr;
		__u64 data[8];
	} f;
	__u32 flags = one_in(t, 4) ? any_u64(t) :
		      below(t, 8) << 16;	/* PROBE, GET, SET */

	memset(&f, 0, sizeof(f));
	f.hdr.argsz = any_argsz(t, sizeof(f.hdr), sizeof(f));
	f.hdr.flags = (flags & ~VFIO_DEVICE_FEATURE_MASK) | below(t, 16);
	return do_ioctl(fd, VFIO_DEVICE_FEATURE, arg_ptr(t, &f, sizeof(f)));
}

/* ---- the doorbell region: read, write, mmap ---- */

static __u64 any_offset(struct fuzz_thread *t)
{
	__u64 off = dev.region_offset + below(t, dev.nvqs + 2) * PAGE;

	switch (below(t, 8)) {
	case 0:
		return any_u64(t) & ~(1ULL << 63);	/* pread refuses < 0 */
	case 1:
		return off + below(t, PAGE);
	case 2:
		return (below(t, 10) << REGION_SHIFT) + off;
	}
	return off;
}

static size_t any_len(struct fuzz_thread *t)
{
	static const size_t lens[] = { 0, 1, 2, 3, 4, 8, 16, PAGE, 2 * PAGE };

	return one_in(t, 2) ? 2 : lens[below(t, ARRAY_SIZE(lens))];
}

static long op_pread(struct fuzz_thread *t, int fd)
{
	__u8 buf[2 * PAGE];
	size_t len = any_len(t);

	return pread(fd, arg_ptr(t, buf, len), len, any_offset(t)) < 0 ?
	       -errno : 0;
}

static long op_pwrite(struct fuzz_thread *t, int fd)
{
	__u8 buf[2 * PAGE];
	size_t len = any_len(t);
	__u64 off = any_offset(t);
	__u16 qid = (off - dev.region_offset) / PAGE;

	memset(buf, rnd(t), sizeof(buf));
	if (!one_in(t, 4))
		memcpy(buf, &qid, sizeof(qid));
	return pwrite(fd, arg_ptr(t, buf, len), len, off) < 0 ? -errno : 0;
}

static void drop_map(struct fuzz_thread *t, int i)
{
	munmap(t->maps[i].addr, t->maps[i].len);
	t->maps[i] = t->maps[--t->nmaps];
}

static long op_mmap(struct fuzz_thread *t, int fd)
{
	static const int prots[] = {
		PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ, PROT_NONE,
	};
	size_t len = (1 + below(t, dev.nvqs + 1)) * PAGE;
	int prot = prots[below(t, 4)];
	__u64 off = any_offset(t);
	void *p;

	if (one_in(t, 8))
		len = any_u64(t);
	if (!one_in(t, 4))
		off &= ~(PAGE - 1);
	p = mmap(NULL, len, prot, one_in(t, 8) ? MAP_PRIVATE : MAP_SHARED,
		 fd, off);
	if (p == MAP_FAILED)
		return -errno;
	if (t->nmaps == MAX_MAPS)
		drop_map(t, below(t, MAX_MAPS));
	t->maps[t->nmaps++] = (struct map){ p, len, prot };
	return 0;
}

static long op_munmap(struct fuzz_thread *t)
{
	struct map *m;

	if (!t->nmaps)
		return -ENOENT;
	m = &t->maps[below(t, t->nmaps)];
	if (m->len > PAGE && one_in(t, 2)) {
		/* The first page only: the rest stays mapped. */
		if (munmap(m->addr, PAGE))
			return -errno;
		m->addr = (__u8 *)m->addr + PAGE;
		m->len -= PAGE;
		return 0;
	}
	drop_map(t, m - t->maps);
	return 0;
}

/* What op_touch() does, where a fault leaves it (thread-local: no clobbers). */
static __thread struct {
	__u16 *p;
	__u16 v;
	bool store;
	bool armed;
	int sig;
	sigjmp_buf env;
} touching;

/* The operation a thread runs, for a fault the fuzzer did not expect. */
static __thread int running = OP_COUNT;

/*
 * The traffic thread's way out when npa takes a doorbell page it kicks
 * through back (another thread put the rings in relay mode): SIGBUS.
 */
static __thread sigjmp_buf *revoked;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	char msg[128];
	int n;

	(void)uc;
	if (touching.armed) {
		touching.sig = sig;
		siglongjmp(touching.env, 1);
	}
	if (sig == SIGBUS && revoked)
		siglongjmp(*revoked, 1);
	n = snprintf(msg, sizeof(msg), "npa-fuzz: %s at %p in %s\n",
		     strsignal(sig), si->si_addr,
		     running < OP_COUNT ? kinds[running].name : "traffic or setup");
	if (write(STDERR_FILENO, msg, n) < 0)
		n = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A store to (a kick) or a load from a mapped doorbell page. */
static long op_touch(struct fuzz_thread *t)
{
	struct map *m;

	if (!t->nmaps)
		return -ENOENT;
	m = &t->maps[below(t, t->nmaps)];
	touching.p = (__u16 *)((__u8 *)m->addr +
			       below(t, m->len / PAGE) * PAGE);
	touching.v = one_in(t, 4) ? rnd(t) : below(t, dev.nvqs);
	touching.store = m->prot & PROT_WRITE && !one_in(t, 4);
	if (sigsetjmp(touching.env, 1)) {
		touching.armed = false;
		return touching.sig == SIGBUS ? -ERR_BUS : -ERR_SEGV;
	}
	touching.armed = true;
	if (touching.store)
		__atomic_store_n(touching.p, touching.v, __ATOMIC_RELAXED);
	else
		(void)__atomic_load_n(touching.p, __ATOMIC_RELAXED);
	touching.armed = false;
	return 0;
}

static long op_signal(struct fuzz_thread *t)
{
	__u64 one = 1;

	return write(t->efd[below(t, THREAD_EFDS)], &one, sizeof(one)) < 0 ?
	       -errno : 0;
}

/*
 * Change memory a memory table may name: new pages in its place, its pages
 * dropped, or read-only for a while.
 */
static long op_mem_churn(struct fuzz_thread *t)
{
	size_t pages = 1 + below(t, 64);
	__u8 *p = mem.pool + below(t, POOL_PAGES - pages) * PAGE;
	int ret;

	switch (below(t, 4)) {
	case 0:
		ret = mmap(p, pages * PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		      MAP_FAILED;
		break;
	case 1:
		ret = madvise(p, pages * PAGE, MADV_DONTNEED);
		break;
	case 2:
		ret = mprotect(p, pages * PAGE, PROT_READ);
		break;
	default:
		ret = mprotect(p, pages * PAGE, PROT_READ | PROT_WRITE);
	}
	return ret ? -errno : 0;
}

/* ---- the device fd: shared, replaced by reopen ---- */

/* A reopen could not open the group again: no device fd for now. */
static bool dev_lost(void)
{
	return __atomic_load_n(&dev.device, __ATOMIC_RELAXED) < 0;
}

static int dev_hold(void)
{
	if (!in_child)
		pthread_rwlock_rdlock(&dev.lock);
	return dev.device;
}

static void dev_release(void)
{
	if (!in_child)
		pthread_rwlock_unlock(&dev.lock);
}

/*
 * Another fd of the device, or (one in eight) of group and container too.
 * The group opens again only once every fd and mapping of the device is
 * gone (EBUSY before): until then the device is lost (fd -1).
 */
static long op_reopen(struct fuzz_thread *t)
{
	long ret = 0;

	pthread_rwlock_wrlock(&dev.lock);
	if (dev.device >= 0)
		close(dev.device);
	if (one_in(t, 8) || dev.group < 0) {
		if (dev.group >= 0)
			close(dev.group);
		if (dev.container >= 0)
			close(dev.container);
		dev.device = npa_vfio_open(dev.uuid, &dev.container,
					   &dev.group);
	} else {
		dev.device = npa_vfio_device(dev.group, dev.uuid);
	}
	if (dev.device < 0)
		ret = dev.device;
	else if (!one_in(t, 8))
		ret = do_ioctl(dev.device, VHOST_SET_OWNER, NULL);
	pthread_rwlock_unlock(&dev.lock);
	return ret;
}

static long run_op(struct fuzz_thread *t, enum op op);

/* An operation's result as the summary names it: 0, errno or signal. */
static const char *result_name(long slot)
{
	const char *name;

	if (!slot)
		return "ok";
	if (slot == ERR_SEGV)
		return "SIGSEGV";
	if (slot == ERR_BUS)
		return "SIGBUS";
	if (slot < 0 || slot >= ERR_MAX)
		return "other";
	name = strerrorname_np(slot);
	return name ? name : "other";
}

static void count(enum op op, long ret)
{
	long slot = -ret;

	if (slot < 0 || slot >= ERR_SLOTS)
		slot = ERR_MAX;
	__atomic_fetch_add(&stats->ops[op], 1, __ATOMIC_RELAXED);
	if (!ret)
		__atomic_fetch_add(&stats->ok[op], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&stats->results[slot], 1, __ATOMIC_RELAXED);
	if (!in_child)
		return;
	__atomic_fetch_add(&stats->child_ops, 1, __ATOMIC_RELAXED);
	if (op == OP_SET_OWNER && !ret)
		child_owner = true;
	if (child_owner || !kinds[op].changes)
		return;
	__atomic_fetch_add(&stats->nonowner_ops[op], 1, __ATOMIC_RELAXED);
	if (!ret)
		__atomic_fetch_add(&stats->nonowner_ok[op], 1, __ATOMIC_RELAXED);
}

static enum op pick_op(struct fuzz_thread *t, bool child)
{
	int total = 0, i, r;

	for (i = 0; i < OP_COUNT; i++)
		if (!skipped[i] && !(child && (i == OP_FORK || i == OP_REOPEN)))
			total += kinds[i].weight;
	r = below(t, total);
	for (i = 0; i < OP_COUNT; i++) {
		if (skipped[i] || (child && (i == OP_FORK || i == OP_REOPEN)))
			continue;
		r -= kinds[i].weight;
		if (r < 0)
			break;
	}
	return i;
}

/*
 * A child with copies of every fd and mapping runs a few operations (not
 * the owner: its requests that change the device must be refused), then
 * exits, or is killed wherever it is.
 */
static long op_fork(struct fuzz_thread *t)
{
	__u64 child_seed = rnd(t);
	int i, n = 1 + below(t, CHILD_OPS), st;
	enum op op;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		in_child = true;
		t->rng = child_seed;
		for (i = 0; i < n; i++) {
			op = pick_op(t, true);
			count(op, run_op(t, op));
		}
		_exit(0);
	}
	if (one_in(t, 2)) {
		usleep(below(t, 3000));
		kill(pid, SIGKILL);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -errno;
	return 0;
}

static long run_op(struct fuzz_thread *t, enum op op)
{
	long ret;
	int fd;

	running = op;
	switch (op) {
	case OP_MUNMAP:
		return op_munmap(t);
	case OP_TOUCH:
		return op_touch(t);
	case OP_SIGNAL:
		return op_signal(t);
	case OP_MEM_CHURN:
		return op_mem_churn(t);
	case OP_FORK:
		return op_fork(t);
	case OP_REOPEN:
		return op_reopen(t);
	default:
		break;
	}

	fd = dev_hold();
	switch (op) {
	case OP_GET_FEATURES:
		ret = op_get(t, fd, VHOST_GET_FEATURES);
		break;
	case OP_SET_FEATURES:
		ret = op_set_features(t, fd);
		break;
	case OP_SET_OWNER:
		ret = do_ioctl(fd, VHOST_SET_OWNER, NULL);
		break;
	case OP_RESET_OWNER:
		ret = do_ioctl(fd, VHOST_RESET_OWNER, NULL);
		break;
	case OP_SET_MEM_TABLE:
		ret = op_set_mem_table(t, fd);
		break;
	case OP_SET_LOG_BASE:
		ret = op_set_log_base(t, fd);
		break;
	case OP_SET_LOG_FD:
		ret = op_get(t, fd, VHOST_SET_LOG_FD);
		break;
	case OP_SET_VRING_NUM:
	case OP_SET_VRING_BASE:
	case OP_GET_VRING_BASE:
	case OP_SET_VRING_ENABLE:
		ret = op_vring_state(t, fd,
				     op == OP_SET_VRING_NUM ? VHOST_SET_VRING_NUM :
				     op == OP_SET_VRING_BASE ? VHOST_SET_VRING_BASE :
				     op == OP_GET_VRING_BASE ? VHOST_GET_VRING_BASE :
				     VHOST_VDPA_SET_VRING_ENABLE);
		break;
	case OP_SET_VRING_ADDR:
		ret = op_set_vring_addr(t, fd);
		break;
	case OP_SET_VRING_KICK:
		ret = op_vring_file(t, fd, VHOST_SET_VRING_KICK);
		break;
	case OP_SET_VRING_CALL:
		ret = op_vring_file(t, fd, VHOST_SET_VRING_CALL);
		break;
	case OP_SET_VRING_ERR:
		ret = op_vring_file(t, fd, VHOST_SET_VRING_ERR);
		break;
	case OP_GET_DEVICE_ID:
		ret = op_get(t, fd, VHOST_VDPA_GET_DEVICE_ID);
		break;
	case OP_GET_STATUS:
		ret = op_get(t, fd, VHOST_VDPA_GET_STATUS);
		break;
	case OP_SET_STATUS:
		ret = op_set_status(t, fd);
		break;
	case OP_GET_CONFIG:
		ret = op_config(t, fd, VHOST_VDPA_GET_CONFIG);
		break;
	case OP_SET_CONFIG:
		ret = op_config(t, fd, VHOST_VDPA_SET_CONFIG);
		break;
	case OP_GET_VRING_NUM:
		ret = op_get(t, fd, VHOST_VDPA_GET_VRING_NUM);
		break;
	case OP_GET_VQS_COUNT:
		ret = op_get(t, fd, VHOST_VDPA_GET_VQS_COUNT);
		break;
	case OP_GET_CONFIG_SIZE:
		ret = op_get(t, fd, VHOST_VDPA_GET_CONFIG_SIZE);
		break;
	case OP_GET_IOVA_RANGE:
		ret = op_get(t, fd, VHOST_VDPA_GET_IOVA_RANGE);
		break;
	case OP_VHOST_OTHER:
		ret = op_other(t, fd, VHOST_VIRTIO);
		break;
	case OP_DEVICE_GET_INFO:
		ret = op_device_get_info(t, fd);
		break;
	case OP_GET_REGION_INFO:
		ret = op_get_region_info(t, fd);
		break;
	case OP_GET_IRQ_INFO:
		ret = op_get_irq_info(t, fd);
		break;
	case OP_SET_IRQS:
		ret = op_set_irqs(t, fd);
		break;
	case OP_DEVICE_RESET:
		ret = do_ioctl(fd, VFIO_DEVICE_RESET, NULL);
		break;
	case OP_VFIO_OTHER:
		ret = one_in(t, 2) ? op_vfio_feature(t, fd) :
		      op_other(t, fd, VFIO_TYPE);
		break;
	case OP_PREAD:
		ret = op_pread(t, fd);
		break;
	case OP_PWRITE:
		ret = op_pwrite(t, fd);
		break;
	default:
		ret = op_mmap(t, fd);
		break;
	}
	dev_release();
	return ret;
}

static void *fuzz_thread(void *arg)
{
	struct fuzz_thread *t = arg;
	enum op op;
	long i, ret;
	__u64 s;

	for (i = 0; i < t->ops && !stopped(); i++) {
		/* Operation i draws the same numbers, whatever came before. */
		s = t->seed + i;
		t->rng = mix(&s);
		op = pick_op(t, false);
		if (dev_lost()) {
			/* Let go of its mappings, try to reopen. */
			while (t->nmaps)
				drop_map(t, 0);
			usleep(10000 + below(t, 40000));
			op = OP_REOPEN;
		}
		ret = run_op(t, op);
		count(op, ret);
		if (verbose)
			fprintf(stderr, "npa-fuzz: %d.%ld %s: %s\n", t->id, i,
				kinds[op].name, result_name(-ret));
	}
	return NULL;
}

/* ---- traffic: a userspace driver moving frames meanwhile ---- */

static struct {
	int vf;
	unsigned long rounds, started, sent, received, replies, revoked;
} traffic = { .vf = -1 };

/* An ARP request for the lab peer of VF @vf (10.0.vf.1) from 10.0.vf.2. */
static size_t arp_request(__u8 *f, const __u8 *mac, int vf)
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	memcpy(f + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, (__u8[]){ 10, 0, vf, 2 }, 4);
	memcpy(f + 38, (__u8[]){ 10, 0, vf, 1 }, 4);
	return 60;
}

/* One attempt: set the device up on a dup of the fd, move frames a while. */
static void traffic_round(__u64 *rng)
{
	__u8 f[60], r[NPA_BUFSZ];
	const __u8 *frames[16];
	size_t lens[16];
	struct npa_dev d;
	double end = now() + 2;
	sigjmp_buf env;
	int i, n;

	memset(&d, 0, sizeof(d));
	d.container = -1;
	d.group = -1;
	d.config_fd = -1;
	d.device = dup(dev_hold());
	dev_release();
	if (d.device < 0)
		return;
	ioctl(d.device, VHOST_SET_OWNER);	/* EBUSY: it is ours already */
	/* Starting kicks too (the receive buffers it posts). */
	if (sigsetjmp(env, 1)) {
		traffic.revoked++;
		goto out;
	}
	revoked = &env;
	if (npa_identify(&d) || npa_start(&d, mix(rng) % 3))
		goto out;
	traffic.started++;
	for (i = 0; i < 16; i++) {
		frames[i] = f;
		lens[i] = arp_request(f, d.mac, traffic.vf);
	}
	while (!stopped() && now() < end && !dev_lost()) {
		if (npa_tx_burst(&d, frames, lens, 16))
			break;
		traffic.sent += 16;
		npa_tx_reclaim(&d);
		while ((n = npa_rx(&d, r, sizeof(r), 20)) > 0) {
			traffic.received++;
			if (n >= 42 && r[12] == 0x08 && r[13] == 0x06 &&
			    r[21] == 2)
				traffic.replies++;
		}
		if (n != -ETIMEDOUT)
			break;
	}
out:
	revoked = NULL;
	npa_close(&d);
}

static void *traffic_thread(void *arg)
{
	__u64 rng = *(__u64 *)arg;

	while (!stopped()) {
		traffic.rounds++;
		traffic_round(&rng);
		usleep(50000);
	}
	return NULL;
}

/* ---- setup and summary ---- */

static int probe_device(void)
{
	struct vfio_region_info info = { .argsz = sizeof(info) };
	int fd = dev.device;

	if (ioctl(fd, VHOST_SET_OWNER) ||
	    ioctl(fd, VHOST_GET_FEATURES, &dev.features) ||
	    ioctl(fd, VHOST_VDPA_GET_VQS_COUNT, &dev.nvqs) ||
	    ioctl(fd, VHOST_VDPA_GET_CONFIG_SIZE, &dev.config_size) ||
	    ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &info)) {
		perror("npa-fuzz: probing the device");
		return -1;
	}
	dev.region_offset = info.offset;
	printf("npa-fuzz: %u queues, config space %u bytes, features 0x%llx\n",
	       dev.nvqs, dev.config_size, (unsigned long long)dev.features);
	printf("npa-fuzz: doorbells: 0x%llx bytes at 0x%llx\n",
	       (unsigned long long)info.size, (unsigned long long)info.offset);
	return 0;
}

static void *map_anon(size_t pages, int prot)
{
	void *p = mmap(NULL, pages * PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int setup_memory(void)
{
	int fd = memfd_create("npa-fuzz", MFD_CLOEXEC);

	mem.pool = map_anon(POOL_PAGES, PROT_READ | PROT_WRITE);
	mem.ro = map_anon(SMALL_PAGES, PROT_READ);
	mem.hole = map_anon(SMALL_PAGES, PROT_NONE);
	mem.edge = map_anon(2, PROT_READ | PROT_WRITE);
	mem.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, SMALL_PAGES * PAGE) || !mem.pool ||
	    !mem.ro || !mem.hole || !mem.edge || mem.null_fd < 0)
		return -1;
	mem.shared = mmap(NULL, SMALL_PAGES * PAGE, PROT_READ | PROT_WRITE,
			  MAP_SHARED, fd, 0);
	close(fd);
	if (mem.shared == MAP_FAILED)
		return -1;
	munmap(mem.hole, SMALL_PAGES * PAGE);
	return mprotect(mem.edge + PAGE, PAGE, PROT_NONE);
}

static void summary(double secs, int nthreads)
{
	unsigned long total = 0;
	int i;

	for (i = 0; i < OP_COUNT; i++)
		total += stats->ops[i];
	printf("npa-fuzz: %lu operations in %.1f s, %d threads\n", total, secs,
	       nthreads);
	for (i = 0; i < OP_COUNT; i++)
		if (!skipped[i])
			printf("npa-fuzz: op %-17s %8lu, %8lu ok\n",
			       kinds[i].name, stats->ops[i], stats->ok[i]);
	printf("npa-fuzz: %lu of them in forked children\n", stats->child_ops);
	for (i = 0; i < OP_COUNT; i++)
		if (stats->nonowner_ok[i])
			printf("npa-fuzz: non-owner child changed the device: %s %lu of %lu\n",
			       kinds[i].name, stats->nonowner_ok[i],
			       stats->nonowner_ops[i]);
	for (i = 0; i < ERR_SLOTS; i++) {
		if (!stats->results[i])
			continue;
		printf("npa-fuzz: result %-15s %8lu\n", result_name(i),
		       stats->results[i]);
	}
	if (traffic.vf < 0)
		return;
	printf("npa-fuzz: traffic: %lu rounds, %lu started the device\n",
	       traffic.rounds, traffic.started);
	printf("npa-fuzz: traffic: %lu rounds ended by a revoked doorbell (SIGBUS)\n",
	       traffic.revoked);
	printf("npa-fuzz: traffic: %lu frames sent, %lu received, %lu ARP replies\n",
	       traffic.sent, traffic.received, traffic.replies);
}

static int skip_kind(const char *name)
{
	int i;

	if (!strcmp(name, "huge-mem")) {
		skip_huge_mem = true;
		return 0;
	}
	for (i = 0; i < OP_COUNT; i++) {
		if (!strcmp(name, kinds[i].name)) {
			skipped[i] = true;
			return 0;
		}
	}
	fprintf(stderr, "npa-fuzz: no operation kind %s; they are:\n  huge-mem",
		name);
	for (i = 0; i < OP_COUNT; i++)
		fprintf(stderr, " %s", kinds[i].name);
	fputc('\n', stderr);
	return -1;
}

/* Pin as a VMM without CAP_IPC_LOCK does: up to @kb, then ENOMEM. */
static int limit_memlock(long kb)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct caps[2];
	struct rlimit lim = { kb << 10, kb << 10 };

	if (syscall(SYS_capget, &hdr, caps))
		return -1;
	caps[0].effective &= ~(1U << CAP_IPC_LOCK);
	caps[0].permitted &= ~(1U << CAP_IPC_LOCK);
	caps[0].inheritable &= ~(1U << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &hdr, caps))
		return -1;
	return setrlimit(RLIMIT_MEMLOCK, &lim);
}

static void bad_usage(void)
{
	fputs("usage: npa-fuzz -u UUID [-s SEED] [-t SECONDS] [-n OPS] [-j THREADS]\n"
	      "                [-i VF] [-m KB] [-x KIND]... [-v]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {
		.sa_sigaction = on_fault,
		.sa_flags = SA_SIGINFO,
	};
	unsigned long long seed = 0;
	bool seeded = false;
	pthread_t traffic_tid;
	__u64 traffic_seed;
	int opt, i, j, nthreads = 4;
	double secs = 30, t0;
	long ops = 1000000, memlock_kb = -1;

	while ((opt = getopt(argc, argv, "u:s:t:n:j:i:m:x:v")) != -1) {
		switch (opt) {
		case 'u':
			dev.uuid = optarg;
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'n':
			ops = atol(optarg);
			break;
		case 'j':
			nthreads = atoi(optarg);
			break;
		case 'i':
			traffic.vf = atoi(optarg);
			break;
		case 'x':
			if (skip_kind(optarg))
				exit(2);
			break;
		case 'm':
			memlock_kb = atol(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			bad_usage();
		}
	}
	if (!dev.uuid || optind != argc || secs <= 0 || ops < 1 ||
	    memlock_kb < -1 ||
	    nthreads < 1 || nthreads > MAX_THREADS || traffic.vf > 255)
		bad_usage();
	if (!seeded)
		seed = (unsigned long long)time(NULL) << 20 ^ getpid();
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("npa-fuzz: seed %llu\n", seed);

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	stats = mmap(NULL, sizeof(*stats), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* Before any thread: capabilities are per thread. */
	if (memlock_kb >= 0 && limit_memlock(memlock_kb)) {
		perror("npa-fuzz: dropping CAP_IPC_LOCK");
		return 1;
	}
	if (stats == MAP_FAILED || setup_memory()) {
		perror("npa-fuzz: memory");
		return 1;
	}
	dev.device = npa_vfio_open(dev.uuid, &dev.container, &dev.group);
	if (dev.device < 0 || probe_device())
		return 1;

	t0 = now();
	deadline = t0 + secs;
	for (i = 0; i < nthreads; i++) {
		struct fuzz_thread *t = &threads[i];
		__u64 s = seed ^ (0x100000001b3ULL * (i + 1));

		t->id = i;
		t->seed = mix(&s);
		t->ops = ops / nthreads + (i < ops % nthreads);
		for (j = 0; j < THREAD_EFDS; j++)
			t->efd[j] = new_efd();
		pthread_create(&t->tid, NULL, fuzz_thread, t);
	}
	traffic_seed = seed ^ 0x74726166666963ULL;	/* "traffic" */
	if (traffic.vf >= 0)
		pthread_create(&traffic_tid, NULL, traffic_thread,
			       &traffic_seed);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i].tid, NULL);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	if (traffic.vf >= 0)
		pthread_join(traffic_tid, NULL);

	for (i = 0; i < nthreads; i++) {
		while (threads[i].nmaps)
			drop_map(&threads[i], 0);
		for (j = 0; j < THREAD_EFDS; j++)
			close(threads[i].efd[j]);
	}
	if (dev.device >= 0)
		close(dev.device);
	if (dev.group >= 0)
		close(dev.group);
	if (dev.container >= 0)
		close(dev.container);
	summary(now() - t0, nthreads);
	printf("npa-fuzz: after closing: VmLck %ld kB, VmPin %ld kB\n",
	       npa_status_kb("VmLck:"), npa_status_kb("VmPin:"));
	printf("npa-fuzz: done\n");
	return 0;
}
