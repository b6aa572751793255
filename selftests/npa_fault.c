// SPDX-License-Identifier: GPL-2.0
/*
 * npa under fault injection: the debug lab's test (tools/lab/debug-lab.sh,
 * docs/lab.md), on a kernel with FAILSLAB, FAIL_PAGE_ALLOC and
 * FAULT_INJECTION_STACKTRACE_FILTER (tools/lab/build-kernel.sh); each test
 * skips elsewhere.  Run as root inside the lab's test host, from the top of
 * the npa tree, with npa built and loaded (npactl load).
 *
 * Each test repeats one step of bringing an mdev up (bind, mdev create,
 * open, SET_MEM_TABLE, SET_IRQS) with the nth allocation made with one of
 * npa's modules (for open, the VFIO core's) on the stack failing, n = 1, 2, ... until the step runs
 * through without reaching n.  The failures come from
 * /proc/thread-self/fail-nth: only this thread's allocations count, and
 * failslab's and fail_page_alloc's stack filter (require-start/end) keeps
 * those whose stack does not go through the module out of the count.
 * Every failure must be a clean error (ENOMEM) that leaves nothing behind:
 * no device half made, no page still pinned, no taint; debug-lab.sh scans
 * kmemleak and the kernel log afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/vdpa.h>
#include <linux/vfio.h>
#include <linux/vhost.h>
#include <linux/vhost_npa.h>

#include "kselftest_harness.h"
#include "libnpa.h"
#include "npa_util.h"

#define FAULT_DIR "/sys/kernel/debug/"
#define FAIL_NTH "/proc/thread-self/fail-nth"
/* More allocations than any one step makes: a step that never ends fails. */
#define FAULT_MAX 1000
#define GPA 0x40000000ULL
#define MEMSZ 0x100000UL
/*
 * How deep under the aimed module an allocation may be and still fail.
 * Nearer for the steps that go through kernel code that does not survive
 * a failed allocation of its own far below npa (docs/debug-findings.md):
 * the PCI probe (request_irq() ignores a failed proc file, and the IRQ
 * core warns when it frees the IRQ, finding 5: 11 frames below npa_vf)
 * and mdev create (VFIO's group creation warns on its own error path,
 * finding 6: 10 frames below npa_mdev).  npa's own allocations and its
 * helpers' (vdpa_alloc_device(), devm_kzalloc(), vfio_alloc_device())
 * are 3 to 5 frames below it.
 */
#define FAULT_DEPTH		32
#define FAULT_NEAR		8
static int write_fmt(const char *val, const char *fmt, ...)
{
	char path[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return write_attr(path, val);
}

static int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ACPICA's functions (drivers/acpi/acpica), by their name. */
static bool acpica_sym(const char *name)
{
	static const char *const pfx[] = {
		"acpi_ds_", "acpi_ev_", "acpi_ex_", "acpi_hw_", "acpi_ns_",
		"acpi_ps_", "acpi_rs_", "acpi_tb_", "acpi_ut_",
	};
	unsigned int i;

	if (strstr(name, ".cold"))
		return false;
	for (i = 0; i < ARRAY_SIZE(pfx); i++)
		if (!strncmp(name, pfx[i], strlen(pfx[i])))
			return true;
	return false;
}

/*
 * Where /proc/kallsyms puts the text of module @mod (up to a page past its
 * last function: the module's own data comes next), and ACPICA's: the
 * linker keeps its objects together between _stext and _etext (its
 * __init and .cold parts lie elsewhere and are left out).
 */
static int text_spans(const char *mod, unsigned long *mlo, unsigned long *mhi,
		      unsigned long *alo, unsigned long *ahi)
{
	unsigned long stext = 0, etext = ~0UL, a;
	char line[256], tag[80], name[128], type;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return -1;
	*mlo = *alo = ~0UL;
	*mhi = *ahi = 0;
	snprintf(tag, sizeof(tag), "[%s]", mod);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx %c %127s", &a, &type, name) != 3 ||
		    (type != 't' && type != 'T'))
			continue;
		if (strstr(line, tag)) {
			*mlo = a < *mlo ? a : *mlo;
			*mhi = a > *mhi ? a : *mhi;
		} else if (!strcmp(name, "_stext")) {
			stext = a;
		} else if (!strcmp(name, "_etext")) {
			etext = a;
		} else if (!strchr(line, '[') && a >= stext && a < etext &&
			   acpica_sym(name)) {
			*alo = a < *alo ? a : *alo;
			*ahi = a > *ahi ? a : *ahi;
		}
	}
	fclose(f);
	if (!*mhi)
		return -1;
	*mhi += 4096;
	if (!*ahi)
		*alo = 0;
	return 0;
}

/*
 * Aim failslab and fail_page_alloc at module @mod: only allocations whose
 * stack goes through its text within @depth frames count, whatever their
 * GFP flags and order, and only through fail-nth (probability 0: nothing
 * fails at random).  Allocations with ACPICA on the stack never count: npa
 * reaches it only through the PCI core (pcim_enable_device() evaluates
 * _PRT), and ACPICA does not survive a failed allocation of its own
 * (docs/debug-findings.md, finding 3).
 */
static int fault_aim(const char *mod, unsigned int depth)
{
	static const char *const attrs[] = { "failslab", "fail_page_alloc" };
	unsigned long lo, hi, alo, ahi;
	char buf[32], deep[16];
	unsigned int i;

	if (text_spans(mod, &lo, &hi, &alo, &ahi))
		return -1;
	ksft_print_msg("faults aimed at %s %#lx-%#lx within %u frames, not ACPICA %#lx-%#lx\n",
		       mod, lo, hi, depth, alo, ahi);
	snprintf(deep, sizeof(deep), "%u", depth);
	for (i = 0; i < 2; i++) {
		snprintf(buf, sizeof(buf), "%lu", lo);
		if (write_fmt(buf, FAULT_DIR "%s/require-start", attrs[i]))
			return -1;
		snprintf(buf, sizeof(buf), "%lu", hi);
		if (write_fmt(buf, FAULT_DIR "%s/require-end", attrs[i]))
			return -1;
		snprintf(buf, sizeof(buf), "%lu", alo);
		if (write_fmt(buf, FAULT_DIR "%s/reject-start", attrs[i]))
			return -1;
		snprintf(buf, sizeof(buf), "%lu", ahi);
		if (write_fmt(buf, FAULT_DIR "%s/reject-end", attrs[i]) ||
		    write_fmt(deep, FAULT_DIR "%s/stacktrace-depth", attrs[i]) ||
		    write_fmt("0", FAULT_DIR "%s/probability", attrs[i]) ||
		    write_fmt("-1", FAULT_DIR "%s/times", attrs[i]) ||
		    write_fmt("1", FAULT_DIR "%s/verbose", attrs[i]) ||
		    write_fmt("N", FAULT_DIR "%s/ignore-gfp-wait", attrs[i]))
			return -1;
	}
	if (write_attr(FAULT_DIR "fail_page_alloc/min-order", "0") ||
	    write_attr(FAULT_DIR "fail_page_alloc/ignore-gfp-highmem", "N"))
		return -1;
	return 0;
}

/* Fail this thread's @n-th allocation under the aimed module. */
static void fault_arm(unsigned int n)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", n);
	write_attr(FAIL_NTH, buf);
}

/* Disarm; true when the failure was injected (the count reached 0). */
static bool fault_fired(void)
{
	char buf[16] = "";

	read_attr(FAIL_NTH, buf, sizeof(buf));
	write_attr(FAIL_NTH, "0");
	return strtoul(buf, NULL, 10) == 0;
}

static bool fault_supported(void)
{
	return access(FAIL_NTH, W_OK) == 0 &&
	       access(FAULT_DIR "fail_page_alloc/require-start", W_OK) == 0;
}

struct nlreq {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char attrs[256];
};

static void nl_put_str(struct nlreq *r, __u16 type, const char *str)
{
	struct nlattr *a = (void *)((char *)r + NLMSG_ALIGN(r->n.nlmsg_len));
	size_t len = strlen(str) + 1;

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, str, len);
	r->n.nlmsg_len = NLMSG_ALIGN(r->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static void nl_init(struct nlreq *r, __u16 type, __u8 cmd, __u16 flags)
{
	memset(r, 0, sizeof(*r));
	r->n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->n.nlmsg_type = type;
	r->n.nlmsg_flags = NLM_F_REQUEST | flags;
	r->g.cmd = cmd;
	r->g.version = 1;
}

/*
 * Send @r and read the answer: the error of an acknowledgment, or with
 * @family the CTRL_ATTR_FAMILY_ID of a CTRL_CMD_NEWFAMILY.
 */
static int nl_talk(int s, struct nlreq *r, int *family)
{
	char ans[8192];
	struct nlmsghdr *h = (void *)ans;
	struct nlattr *a;
	ssize_t n;
	int left;

	if (send(s, r, r->n.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(s, ans, sizeof(ans), 0);
	if (n < 0)
		return -errno;
	for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR)
			return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		if (!family)
			continue;
		a = (void *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
		left = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
		while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
		       a->nla_len <= left) {
			if (a->nla_type == CTRL_ATTR_FAMILY_ID) {
				*family = *(__u16 *)((char *)a + NLA_HDRLEN);
				return 0;
			}
			left -= NLA_ALIGN(a->nla_len);
			a = (void *)((char *)a + NLA_ALIGN(a->nla_len));
		}
	}
	return -ENOENT;
}

/* The genetlink family id of @name, or -errno. */
static int genl_family(int s, const char *name)
{
	struct nlreq r;
	int family, ret;

	nl_init(&r, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
	nl_put_str(&r, CTRL_ATTR_FAMILY_NAME, name);
	ret = nl_talk(s, &r, &family);
	return ret ? ret : family;
}

/*
 * "vdpa dev add name @name mgmtdev pci/@bdf", from this thread (the vdpa
 * tool would be another task, out of fail-nth's reach).  0 or -errno.
 */
static int vdpa_dev_add(const char *name, const char *bdf)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	struct nlreq r;
	int family, ret;

	if (s < 0)
		return -errno;
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		goto out;
	}
	family = genl_family(s, VDPA_GENL_NAME);
	if (family < 0) {
		ret = family;
		goto out;
	}
	nl_init(&r, family, VDPA_CMD_DEV_NEW, NLM_F_ACK);
	nl_put_str(&r, VDPA_ATTR_DEV_NAME, name);
	nl_put_str(&r, VDPA_ATTR_MGMTDEV_BUS_NAME, "pci");
	nl_put_str(&r, VDPA_ATTR_MGMTDEV_DEV_NAME, bdf);
	ret = nl_talk(s, &r, NULL);
out:
	close(s);
	return ret;
}

/*
 * One sweep: arm fail-nth at n = 1, 2, ... and run @step, until a run of
 * it no longer reaches n; that last run, with nothing injected, stands.
 * @step returns 0 or -errno; a failure injected must give -ENOMEM or be
 * absorbed (0), and @undo (after a success) or @check (after an error)
 * puts things back and says whether nothing was left behind.  Returns the
 * number of failures injected, or -1.
 */
struct sweep {
	const char *what;
	int (*step)(void *ctx);
	bool (*check)(void *ctx);	/* after an error: all as before */
	void (*undo)(void *ctx);	/* after a success: back to before */
	void *ctx;
};

static int sweep(struct __test_metadata *_metadata, const struct sweep *s)
{
	unsigned int n;
	int ret;

	for (n = 1; n <= FAULT_MAX; n++) {
		fault_arm(n);
		ret = s->step(s->ctx);
		if (!fault_fired()) {
			EXPECT_EQ(0, ret) TH_LOG("%s failed with nothing injected",
						 s->what);
			TH_LOG("%s: %u allocations failed in turn", s->what,
			       n - 1);
			return ret ? -1 : (int)n - 1;
		}
		EXPECT_TRUE(ret == 0 || ret == -ENOMEM)
			TH_LOG("%s, allocation %u failing: %s", s->what, n,
			       strerror(-ret));
		if (ret) {
			EXPECT_TRUE(s->check(s->ctx))
				TH_LOG("%s, allocation %u failing: left something behind",
				       s->what, n);
		} else if (s->undo) {
			s->undo(s->ctx);
		}
		EXPECT_TRUE(host_healthy())
			TH_LOG("%s, allocation %u failing: the kernel was tainted",
			       s->what, n);
		if (!__test_passed(_metadata))
			return -1;
	}
	TH_LOG("%s still reached allocation %u", s->what, n);
	return -1;
}

/* --- bind: PCI probe (npa_vf), vdpa dev add (npa_vf), vdpa probe (npa_mdev) */

struct bind_ctx {
	char bdf[16];
	char name[32];
};

static bool pci_is_npa(const char *bdf)
{
	char path[256], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return !strcmp(strrchr(link, '/') + 1, "npa");
}

/*
 * Are the function's interrupts named as npa names them ("npa[BDF]-N",
 * "npa[BDF]-config"), none nameless?  A probe that went on without a
 * name it failed to allocate leaves "(null)" in /proc/interrupts.
 */
static bool irqs_named(const char *bdf)
{
	char line[512], tag[64];
	bool config = false, nameless = false;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return false;
	snprintf(tag, sizeof(tag), "npa[%s]-config", bdf);
	while (fgets(line, sizeof(line), f)) {
		config |= !!strstr(line, tag);
		nameless |= !!strstr(line, "(null)");
	}
	fclose(f);
	return config && !nameless;
}

static int pci_probe(void *ctx)
{
	struct bind_ctx *b = ctx;
	int ret = write_attr("/sys/bus/pci/drivers_probe", b->bdf);

	/* A probe's error stays in the driver core: its result shows. */
	if (ret)
		return ret;
	if (!pci_is_npa(b->bdf))
		return -ENOMEM;
	return irqs_named(b->bdf) ? 0 : -EIO;
}

static bool pci_left_alone(void *ctx)
{
	struct bind_ctx *b = ctx;

	return !exists("/sys/bus/pci/devices/%s/driver", b->bdf);
}

static void pci_unprobe(void *ctx)
{
	struct bind_ctx *b = ctx;

	write_attr("/sys/bus/pci/drivers/npa/unbind", b->bdf);
}

static int vdpa_add(void *ctx)
{
	struct bind_ctx *b = ctx;

	return vdpa_dev_add(b->name, b->bdf);
}

static bool vdpa_absent(void *ctx)
{
	struct bind_ctx *b = ctx;

	return !exists("/sys/bus/vdpa/devices/%s", b->name);
}

static void vdpa_del(void *ctx)
{
	struct bind_ctx *b = ctx;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "vdpa dev del %s", b->name);
	sh(cmd);
}

static int vdpa_probe(void *ctx)
{
	struct bind_ctx *b = ctx;
	int ret = write_attr("/sys/bus/vdpa/drivers_probe", b->name);

	if (ret)
		return ret;
	/* Bound is a success, the mdev core's class link or not (absorbed). */
	return exists("/sys/bus/vdpa/devices/%s/driver", b->name) ? 0 : -ENOMEM;
}

static bool vdpa_unprobed(void *ctx)
{
	struct bind_ctx *b = ctx;

	return !exists("/sys/bus/vdpa/devices/%s/driver", b->name) &&
	       !exists("/sys/class/mdev_bus/%s", b->name);
}

static void vdpa_unprobe(void *ctx)
{
	struct bind_ctx *b = ctx;

	write_attr("/sys/bus/vdpa/drivers/npa/unbind", b->name);
}

FIXTURE(bind) {
	struct bind_ctx b;
};

FIXTURE_SETUP(bind)
{
	char path[256];

	if (!fault_supported())
		SKIP(return, "no fault injection in this kernel (debug lab only)");
	ASSERT_EQ(0, sh(NPACTL " load >/dev/null"));
	/* VF 2: the one npa_test's vf tests bind with options, then free. */
	ASSERT_EQ(0, vf_bdf(2, self->b.bdf));
	snprintf(self->b.name, sizeof(self->b.name), "npa-fault");
	snprintf(path, sizeof(path), NPACTL " unbind %s >/dev/null 2>&1",
		 self->b.bdf);
	sh(path);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind",
		 self->b.bdf);
	if (access(path, F_OK) == 0)
		ASSERT_EQ(0, write_attr(path, self->b.bdf));
	ASSERT_EQ(0, write_fmt("npa", "/sys/bus/pci/devices/%s/driver_override",
			       self->b.bdf));
}

FIXTURE_TEARDOWN(bind)
{
	char cmd[128];

	if (!fault_supported())
		return;
	write_attr(FAIL_NTH, "0");
	snprintf(cmd, sizeof(cmd), NPACTL " unbind %s >/dev/null 2>&1",
		 self->b.bdf);
	sh(cmd);
	EXPECT_TRUE(host_healthy());
}

TEST_F_TIMEOUT(bind, under_faults, 1800)
{
	const struct sweep pci = {
		"PCI probe", pci_probe, pci_left_alone, pci_unprobe, &self->b,
	};
	const struct sweep add = {
		"vdpa dev add", vdpa_add, vdpa_absent, vdpa_del, &self->b,
	};
	const struct sweep probe = {
		"vdpa probe", vdpa_probe, vdpa_unprobed, vdpa_unprobe, &self->b,
	};

	ASSERT_EQ(0, fault_aim("npa_vf", FAULT_NEAR));
	EXPECT_LT(0, sweep(_metadata, &pci));
	ASSERT_TRUE(pci_is_npa(self->b.bdf));
	ASSERT_EQ(0, fault_aim("npa_vf", FAULT_DEPTH));
	EXPECT_LT(0, sweep(_metadata, &add));
	ASSERT_FALSE(vdpa_absent(&self->b));
	ASSERT_EQ(0, write_fmt("npa", "/sys/bus/vdpa/devices/%s/driver_override",
			       self->b.name));
	/* Whatever vdpa driver took it first lets go. */
	vdpa_unprobe(&self->b);
	write_fmt(self->b.name, "/sys/bus/vdpa/devices/%s/driver/unbind",
		  self->b.name);
	ASSERT_EQ(0, fault_aim("npa_mdev", FAULT_DEPTH));
	EXPECT_LT(0, sweep(_metadata, &probe));
}

/* --- an mdev of VF 0: create, open, SET_MEM_TABLE, SET_IRQS (npa_mdev) */

FIXTURE(mdev) {
	char bdf[16];
	char parent[64];
	char uuid[40];
	int container, group, device;
	void *mem;
	long pins;
};

/* The step helpers below get the fixture's data: FIXTURE_DATA(mdev). */
static int parent_of(const char *bdf, char *parent, size_t len)
{
	char cmd[128];
	FILE *p;
	int ok;

	snprintf(cmd, sizeof(cmd), NPACTL " parent %s", bdf);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	ok = !!fgets(parent, len, p);
	pclose(p);
	if (!ok)
		return -1;
	parent[strcspn(parent, "\n")] = 0;
	return 0;
}

FIXTURE_SETUP(mdev)
{
	char cmd[128];

	self->device = -1;
	self->mem = MAP_FAILED;
	if (!fault_supported())
		SKIP(return, "no fault injection in this kernel (debug lab only)");
	ASSERT_EQ(0, sh(NPACTL " load >/dev/null"));
	ASSERT_EQ(0, vf_bdf(0, self->bdf));
	snprintf(cmd, sizeof(cmd), NPACTL " bind %s >/dev/null", self->bdf);
	ASSERT_EQ(0, sh(cmd));
	ASSERT_EQ(0, parent_of(self->bdf, self->parent, sizeof(self->parent)));
	read_attr("/proc/sys/kernel/random/uuid", self->uuid,
		  sizeof(self->uuid));
	self->pins = pinned_pages();
}

static void mdev_close(struct _test_data_mdev *self)
{
	if (self->device >= 0) {
		close(self->device);
		close(self->group);
		close(self->container);
	}
	self->device = -1;
}

FIXTURE_TEARDOWN(mdev)
{
	if (!fault_supported())
		return;
	write_attr(FAIL_NTH, "0");
	mdev_close(self);
	if (self->mem != MAP_FAILED)
		munmap(self->mem, MEMSZ);
	if (exists(MDEV_DEVICES "/%s", self->uuid))
		write_fmt("1", MDEV_DEVICES "/%s/remove", self->uuid);
	/* Nothing of the mdev's stays pinned. */
	EXPECT_GE(self->pins, pinned_pages());
	EXPECT_TRUE(host_healthy());
}

static int mdev_create(void *ctx)
{
	struct _test_data_mdev *self = ctx;

	return write_fmt(self->uuid, "/sys/class/mdev_bus/%s/mdev_supported_types/"
			 NPA_TYPE "/create", self->parent);
}

static bool mdev_absent(void *ctx)
{
	struct _test_data_mdev *self = ctx;

	return !exists(MDEV_DEVICES "/%s", self->uuid);
}

static void mdev_remove(void *ctx)
{
	struct _test_data_mdev *self = ctx;

	write_fmt("1", MDEV_DEVICES "/%s/remove", self->uuid);
}

TEST_F_TIMEOUT(mdev, create_under_faults, 1800)
{
	const struct sweep s = {
		"mdev create", mdev_create, mdev_absent, mdev_remove, self,
	};

	ASSERT_EQ(0, fault_aim("npa_mdev", FAULT_NEAR));
	EXPECT_LT(0, sweep(_metadata, &s));
}

static int mdev_open(void *ctx)
{
	struct _test_data_mdev *self = ctx;

	self->device = npa_vfio_open(self->uuid, &self->container,
				     &self->group);
	return self->device < 0 ? self->device : 0;
}

static bool mdev_closed_reopens(void *ctx)
{
	struct _test_data_mdev *self = ctx;

	/*
	 * npa_vfio_open closed what it had opened; the next open would see
	 * the group still held (EBUSY).
	 */
	return self->device < 0;
}

static void mdev_reclose(void *ctx)
{
	mdev_close(ctx);
}

TEST_F_TIMEOUT(mdev, open_under_faults, 1800)
{
	const struct sweep s = {
		"open", mdev_open, mdev_closed_reopens, mdev_reclose, self,
	};

	ASSERT_EQ(0, mdev_create(self));
	/*
	 * npa's open_device allocates nothing: aim at the VFIO core's open
	 * (container, group, device fd), which calls it and, when a later
	 * step fails, npa's close_device.
	 */
	ASSERT_EQ(0, fault_aim("vfio", FAULT_DEPTH));
	EXPECT_LT(0, sweep(_metadata, &s));
	/* After all that, it closes, and opens and closes again as new. */
	mdev_close(self);
	ASSERT_EQ(0, mdev_open(self));
	mdev_close(self);
}

static int set_table(int fd, int n, const struct vhost_memory_region *r)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r[1];
	} t = { .hdr.nregions = n };

	memcpy(t.r, r, n * sizeof(*r));
	return ioctl(fd, VHOST_SET_MEM_TABLE, &t) ? -errno : 0;
}

/* A table of one region of fresh memory, to be faulted in as it is pinned. */
static int mem_table(void *ctx)
{
	struct _test_data_mdev *self = ctx;
	struct vhost_memory_region r = {
		.guest_phys_addr = GPA, .memory_size = MEMSZ,
	};

	if (self->mem != MAP_FAILED)
		munmap(self->mem, MEMSZ);
	self->mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (self->mem == MAP_FAILED)
		return -errno;
	r.userspace_addr = (unsigned long)self->mem;
	return set_table(self->device, 1, &r);
}

static bool nothing_pinned(void *ctx)
{
	struct _test_data_mdev *self = ctx;

	return npa_status_kb("VmPin:") == 0 && pinned_pages() <= self->pins;
}

static void empty_table(void *ctx)
{
	struct _test_data_mdev *self = ctx;

	set_table(self->device, 0, NULL);
}

TEST_F_TIMEOUT(mdev, mem_table_under_faults, 1800)
{
	const struct sweep s = {
		"SET_MEM_TABLE", mem_table, nothing_pinned, empty_table, self,
	};

	ASSERT_EQ(0, mdev_create(self));
	ASSERT_EQ(0, mdev_open(self));
	ASSERT_EQ(0, ioctl(self->device, VHOST_SET_OWNER));
	ASSERT_EQ(0, fault_aim("npa_mdev", FAULT_DEPTH));
	EXPECT_LT(0, sweep(_metadata, &s));
	/* After all that, the table takes and lets go of its pages. */
	ASSERT_EQ(0, mem_table(self));
	EXPECT_EQ((long)(MEMSZ >> 10), npa_status_kb("VmPin:"));
	empty_table(self);
	EXPECT_TRUE(nothing_pinned(self));
}

struct irq_ctx {
	int device;
	__s32 fds[2];
};

static int set_irqs(int device, __u32 count, const __s32 *fds)
{
	struct {
		struct vfio_irq_set set;
		__s32 fd[2];
	} irq = {
		.set = {
			.argsz = sizeof(irq),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = VHOST_NPA_VQ_IRQ_INDEX, .count = count,
		},
	};

	memcpy(irq.fd, fds, count * sizeof(*fds));
	return ioctl(device, VFIO_DEVICE_SET_IRQS, &irq) ? -errno : 0;
}

static int irqs_on(void *ctx)
{
	struct irq_ctx *c = ctx;

	return set_irqs(c->device, 2, c->fds);
}

/* All or nothing: after an error no call reaches an eventfd. */
static bool irqs_off(void *ctx)
{
	struct irq_ctx *c = ctx;
	struct {
		struct vfio_irq_set set;
	} sig = {
		.set = {
			.argsz = sizeof(sig),
			.flags = VFIO_IRQ_SET_DATA_NONE |
				 VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = VHOST_NPA_VQ_IRQ_INDEX, .count = 2,
		},
	};
	__u64 v;

	ioctl(c->device, VFIO_DEVICE_SET_IRQS, &sig);
	return read(c->fds[0], &v, sizeof(v)) < 0 && errno == EAGAIN &&
	       read(c->fds[1], &v, sizeof(v)) < 0 && errno == EAGAIN;
}

static void irqs_clear(void *ctx)
{
	struct irq_ctx *c = ctx;
	const __s32 none[2] = { -1, -1 };

	set_irqs(c->device, 2, none);
}

TEST_F_TIMEOUT(mdev, irqs_under_faults, 1800)
{
	struct irq_ctx c;
	const struct sweep s = {
		"SET_IRQS", irqs_on, irqs_off, irqs_clear, &c,
	};

	ASSERT_EQ(0, mdev_create(self));
	ASSERT_EQ(0, mdev_open(self));
	ASSERT_EQ(0, ioctl(self->device, VHOST_SET_OWNER));
	c.device = self->device;
	c.fds[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c.fds[1] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, c.fds[0]);
	ASSERT_LE(0, c.fds[1]);
	ASSERT_EQ(0, fault_aim("npa_mdev", FAULT_DEPTH));
	/* It may allocate nothing at all: then there is nothing to fail. */
	EXPECT_LE(0, sweep(_metadata, &s));
	close(c.fds[0]);
	close(c.fds[1]);
}

TEST_HARNESS_MAIN
