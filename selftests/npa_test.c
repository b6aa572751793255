// SPDX-License-Identifier: GPL-2.0
/*
 * npa selftests: run as root inside the lab's test host (tools/lab), from
 * the top of the npa tree, with npa built.  NPA_VF_PORTS names the root
 * ports the VFs sit behind; NPA_BAD_* name functions npa must refuse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <endian.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/vfio.h>
#include <linux/vhost.h>
#include <linux/vhost_npa.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "kselftest_harness.h"

/*
 * A busy machine slows the TCG test host many times over: a test without a
 * timeout of its own gets 120 s, not the harness's 30 (a test that ran past
 * it was killed before its teardown, leaving its mdev to fail the next).
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120
#include "libnpa.h"
#include "npa_util.h"
#include "wire.h"

#define PARENT_LEN 64

static char out[16384];

/* Run a shell command; its output (both streams) lands in out[]. */
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strcat(cmd, " 2>&1");
	p = popen(cmd, "r");
	if (!p)
		return -1;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void new_uuid(char *uuid)
{
	read_attr("/proc/sys/kernel/random/uuid", uuid, 40);
}

static int type_attr(const char *parent, const char *attr, char *buf,
		     size_t len)
{
	char path[256];

	snprintf(path, sizeof(path),
		 "/sys/class/mdev_bus/%s/mdev_supported_types/" NPA_TYPE "/%s",
		 parent, attr);
	return read_attr(path, buf, len);
}

/*
 * Hand the PCI function @bdf to npa (npactl bind, with @opts) and learn its
 * mdev parent, the vdpa device npactl put on it (npactl parent); nonzero
 * on failure, with the failing command's output in out.  For a function
 * outside the families' slots (below).
 */
static int bind_vf(const char *bdf, const char *opts, char *parent)
{
	size_t len;
	char *nl;

	if (sh(NPACTL " bind %s %s", bdf, opts) ||
	    sh(NPACTL " parent %s", bdf))
		return -1;
	nl = strchr(out, '\n');
	if (nl)
		*nl = 0;
	len = strlen(out);
	if (len >= PARENT_LEN)
		return -1;
	memcpy(parent, out, len + 1);
	return 0;
}

/*
 * The vdpa parent families npa runs on, each in four lab slots
 * (selftests/family.sh): npa's own parent on the lab's VFs, upstream
 * vp_vdpa on the same VFs, and upstream vdpa_sim_net, which has its own
 * address translation (dma_map, or set_map alone as mlx5_vdpa) and loops
 * TX frames back to RX instead of reaching a wire.  What differs between
 * them is what npa does with the optional ops a parent lacks
 * (docs/parents.md).
 */
struct family {
	const char *name;
	/* Frames reach the lab's wire, else the device loops them back. */
	bool wire;
	/* DMA through npa's IOMMU domain, else the parent's own translation. */
	bool iommu;
	/* get_vq_notification gives each doorbell a page: mmappable. */
	bool doorbell_mmap;
	/* get_vq_irq names each queue's IRQ: KVM may post it. */
	bool irqs;
	/* The device raises config interrupts (link changes). */
	bool config_irq;
	/* vdpa dev add takes a MAC and an MTU. */
	bool mac_mtu;
	/* The parent suspends and loads ring state (get/set_vq_state). */
	bool ring_state;
};

static const struct family fam_npa_vf = {
	.name = "npa_vf", .wire = true, .iommu = true, .doorbell_mmap = true,
	.irqs = true, .config_irq = true, .mac_mtu = true,
};

static const struct family fam_vp_vdpa = {
	.name = "vp_vdpa", .wire = true, .iommu = true, .doorbell_mmap = true,
	.irqs = true, .config_irq = true,
};

static const struct family fam_vdpa_sim = {
	.name = "vdpa_sim", .mac_mtu = true, .ring_state = true,
};

static const struct family fam_vdpa_sim_map = {
	.name = "vdpa_sim_map", .mac_mtu = true, .ring_state = true,
};

/*
 * Hand slot @slot of family @fam to npa (family.sh up, with @opts) and
 * learn its mdev parent, the vdpa device's name; nonzero on failure, with
 * the command's output in out.
 */
static int fam_up(const struct family *fam, int slot, const char *opts,
		  char *parent)
{
	char *last;
	size_t len;

	if (sh("selftests/family.sh up %s %d %s", fam->name, slot, opts))
		return -1;
	/* The name is the last line; npactl's words come before it. */
	len = strlen(out);
	while (len && out[len - 1] == '\n')
		out[--len] = 0;
	last = strrchr(out, '\n');
	last = last ? last + 1 : out;
	if (!*last || strlen(last) >= PARENT_LEN)
		return -1;
	memcpy(parent, last, strlen(last) + 1);
	return 0;
}

/*
 * Check the mdev @uuid moves @n frames: through the wire of VF @slot, both
 * ways, or looped back by the device; npa-pkt's exit status.
 */
static int move_frames(const struct family *fam, const char *uuid, int slot,
		       int n)
{
	return sh("tools/npa/npa-pkt -u %s -i %d -n %d %s", uuid, slot, n,
		  fam->wire ? "both" : "loop");
}

/*
 * npa loaded, slot @idx of family @fam handed to it (VF @bdf, mdev parent
 * @parent) and a new mdev on it started with mdevctl (@uuid); nonzero on
 * the first step that fails, with the output of the last command run in
 * out.
 */
static int mdevctl_on(const struct family *fam, int idx, char *bdf,
		      char *parent, char *uuid)
{
	if (sh(NPACTL " load") || vf_bdf(idx, bdf) ||
	    fam_up(fam, idx, "", parent))
		return -1;
	new_uuid(uuid);
	return sh("mdevctl start -u %s -p %s -t " NPA_TYPE, uuid, parent);
}

/* A counter of the mdev's in sysfs, -1 if it cannot be read. */
static long long mdev_counter(const char *uuid, const char *name)
{
	char path[256], buf[32];

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/%s", uuid, name);
	return read_attr(path, buf, sizeof(buf)) ? -1 : strtoll(buf, NULL, 10);
}

static int create_mdev(const char *parent, const char *uuid)
{
	char path[256];

	snprintf(path, sizeof(path),
		 "/sys/class/mdev_bus/%s/mdev_supported_types/" NPA_TYPE "/create",
		 parent);
	return write_attr(path, uuid);
}

static int remove_mdev(const char *uuid)
{
	char path[256];

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/remove", uuid);
	return write_attr(path, "1");
}

struct vfio {
	int container;
	int group;
	int device;
};

/* Open an mdev the way a VMM does: container, group, device.  0 or -errno. */
static int vfio_open(const char *uuid, struct vfio *v)
{
	v->device = npa_vfio_open(uuid, &v->container, &v->group);
	return v->device < 0 ? v->device : 0;
}

static void vfio_close(struct vfio *v)
{
	close(v->device);
	close(v->group);
	close(v->container);
}

static int set_req_eventfd(struct vfio *v, int efd)
{
	return npa_set_irq(v->device, VHOST_NPA_REQ_IRQ_INDEX, 0, efd);
}

/* Run @cmd in a child shell, which may block in the kernel. */
static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();

	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, NULL);
		_exit(127);
	}
	return pid;
}

/* Wait up to @secs for @pid; its exit status, or -1 while it still runs. */
static int reap(pid_t pid, int secs)
{
	int st, i;

	for (i = 0; i < secs * 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		usleep(100000);
	}
	return -1;
}

static bool readable(int fd, int secs)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, secs * 1000) == 1;
}

/*
 * The transfer checks' own accounting (tools/npa/wire.h): every kind of
 * fault is counted apart, and any of them fails the stream.
 */
TEST(wire_stream_tells_faults_apart)
{
	static const int order[] = { 0, 1, 3, 2, 3, -4, 5, 6, 8, 9 };
	struct wire_stream *st = wire_stream_new(10, 100);
	__u8 p[100];
	size_t i;

	ASSERT_NE(NULL, st);
	for (i = 0; i < ARRAY_SIZE(order); i++) {
		pattern(p, sizeof(p), 7, abs(order[i]));
		if (order[i] < 0)
			p[50] ^= 1;
		wire_rx_one(st, p, sizeof(p));
	}
	wire_rx_one(st, p, sizeof(p) - 1);
	EXPECT_EQ(11U, st->arrived);
	EXPECT_EQ(8U, st->good);
	EXPECT_EQ(1U, st->dup);
	EXPECT_EQ(1U, st->reordered);
	EXPECT_EQ(2U, st->corrupt);
	EXPECT_FALSE(wire_stream_report(st, "lossy"));
	free(st);

	st = wire_stream_new(100, 100);
	ASSERT_NE(NULL, st);
	for (i = 0; i < 100; i++) {
		pattern(p, sizeof(p), 7, i);
		EXPECT_EQ(i % ACK_EVERY == ACK_EVERY - 1,
			  wire_rx_one(st, p, sizeof(p)));
	}
	EXPECT_EQ(100U, st->next);
	EXPECT_TRUE(wire_stream_report(st, "clean"));
	free(st);
}

/*
 * The mdev's life on its parent, slot 0 of a family.  vdpa_sim_map
 * differs from vdpa_sim in its DMA alone, which these tests do not reach.
 */
FIXTURE(vf) {
	char bdf[16];
	char parent[PARENT_LEN];
	char uuid[40];
};

FIXTURE_VARIANT(vf) {
	const struct family *fam;
};

FIXTURE_VARIANT_ADD(vf, npa_vf) {
	.fam = &fam_npa_vf,
};

FIXTURE_VARIANT_ADD(vf, vp_vdpa) {
	.fam = &fam_vp_vdpa,
};

FIXTURE_VARIANT_ADD(vf, vdpa_sim) {
	.fam = &fam_vdpa_sim,
};

FIXTURE_SETUP(vf)
{
	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	ASSERT_EQ(0, vf_bdf(0, self->bdf)) TH_LOG("no VF: is NPA_VF_PORTS set?");
	ASSERT_EQ(0, fam_up(variant->fam, 0, "", self->parent))
		TH_LOG("%s", out);
	new_uuid(self->uuid);
}

FIXTURE_TEARDOWN(vf)
{
	if (exists(MDEV_DEVICES "/%s", self->uuid))
		remove_mdev(self->uuid);
	sh("mdevctl undefine -u %s", self->uuid);
	EXPECT_TRUE(host_healthy()) TH_LOG("the kernel was tainted: see dmesg");
}

TEST_F(vf, type_attributes)
{
	char buf[256];

	ASSERT_EQ(0, type_attr(self->parent, "name", buf, sizeof(buf)));
	EXPECT_STREQ("npa virtio-net", buf);
	ASSERT_EQ(0, type_attr(self->parent, "device_api", buf, sizeof(buf)));
	EXPECT_STREQ(VHOST_NPA_DEVICE_API_STRING, buf);
	ASSERT_EQ(0, type_attr(self->parent, "available_instances", buf,
			       sizeof(buf)));
	EXPECT_STREQ("1", buf);
	ASSERT_EQ(0, type_attr(self->parent, "description", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "virtio-net data path, 2 virtqueues"))
		TH_LOG("description: %s", buf);

	ASSERT_EQ(0, sh("mdevctl types"));
	EXPECT_NE(NULL, strstr(out, self->parent));
	EXPECT_NE(NULL, strstr(out, NPA_TYPE));
	EXPECT_NE(NULL, strstr(out, "Available instances: 1"));
	EXPECT_NE(NULL, strstr(out, "Device API: vhost-npa"));
	EXPECT_NE(NULL, strstr(out, "Name: npa virtio-net"));
	EXPECT_NE(NULL, strstr(out, "Description: virtio-net data path"))
		TH_LOG("mdevctl types:\n%s", out);
}

TEST_F(vf, mdevctl_start_stop)
{
	char buf[64];

	ASSERT_EQ(0, sh("mdevctl start -u %s -p %s -t " NPA_TYPE, self->uuid,
			self->parent)) TH_LOG("%s", out);
	ASSERT_TRUE(exists(MDEV_DEVICES "/%s", self->uuid));
	EXPECT_TRUE(exists("/sys/bus/mdev/drivers/npa/%s",
			   self->uuid));
	EXPECT_TRUE(exists(MDEV_DEVICES "/%s/iommu_group", self->uuid));
	ASSERT_EQ(0, type_attr(self->parent, "available_instances", buf,
			       sizeof(buf)));
	EXPECT_STREQ("0", buf);
	ASSERT_EQ(0, sh("mdevctl list"));
	EXPECT_NE(NULL, strstr(out, self->uuid)) TH_LOG("%s", out);

	ASSERT_EQ(0, sh("mdevctl stop -u %s", self->uuid)) TH_LOG("%s", out);
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", self->uuid));
	ASSERT_EQ(0, type_attr(self->parent, "available_instances", buf,
			       sizeof(buf)));
	EXPECT_STREQ("1", buf);
}

TEST_F(vf, one_instance_per_vf)
{
	char second[40];

	new_uuid(second);
	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	EXPECT_NE(0, sh("mdevctl start -u %s -p %s -t " NPA_TYPE, second,
			self->parent));
	EXPECT_EQ(-EUSERS, create_mdev(self->parent, second));
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", second));
}

TEST_F(vf, bad_create_input)
{
	char other_parent[PARENT_LEN];

	/*
	 * A parent that is not npa's (a function npa refused, or a VF: the
	 * parent is a vdpa device), a type npa does not have.
	 */
	EXPECT_NE(0, sh("mdevctl start -u %s -p %s -t " NPA_TYPE, self->uuid,
			getenv("NPA_BAD_NOIOMMU")));
	EXPECT_NE(0, sh("mdevctl start -u %s -p %s -t " NPA_TYPE, self->uuid,
			self->bdf));
	EXPECT_NE(0, sh("mdevctl start -u %s -p %s -t npa-bogus", self->uuid,
			self->parent));
	EXPECT_NE(0, sh("mdevctl start -u %s -p 0000:7f:1f.7 -t " NPA_TYPE,
			self->uuid));
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", self->uuid));

	EXPECT_EQ(-EINVAL, create_mdev(self->parent, "not-a-uuid"));

	/* A UUID is unique across parents. */
	ASSERT_EQ(0, fam_up(variant->fam, 1, "", other_parent))
		TH_LOG("%s", out);
	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	EXPECT_EQ(-EEXIST, create_mdev(other_parent, self->uuid));
}

TEST_F(vf, open_info_close)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_irq_info irq = { .argsz = sizeof(irq) };
	struct vfio v;
	int round;

	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, vfio_open(self->uuid, &v));

		ASSERT_EQ(0, ioctl(v.device, VFIO_DEVICE_GET_INFO, &info));
		EXPECT_EQ(1U, info.num_regions);
		EXPECT_EQ((__u32)VHOST_NPA_NUM_IRQS, info.num_irqs);
		info.argsz = 4;
		EXPECT_EQ(-1, ioctl(v.device, VFIO_DEVICE_GET_INFO, &info));
		EXPECT_EQ(EINVAL, errno);
		info.argsz = sizeof(info);

		irq.index = VHOST_NPA_REQ_IRQ_INDEX;
		ASSERT_EQ(0, ioctl(v.device, VFIO_DEVICE_GET_IRQ_INFO, &irq));
		EXPECT_EQ((__u32)VFIO_IRQ_INFO_EVENTFD, irq.flags);
		EXPECT_EQ(1U, irq.count);
		irq.index = VHOST_NPA_NUM_IRQS;
		EXPECT_EQ(-1, ioctl(v.device, VFIO_DEVICE_GET_IRQ_INFO, &irq));
		EXPECT_EQ(EINVAL, errno);

		EXPECT_EQ(-1, ioctl(v.device, _IO(';', 200)));
		EXPECT_EQ(ENOTTY, errno);
		EXPECT_EQ(-EBADF, set_req_eventfd(&v, 1000));
		vfio_close(&v);
	}
}

TEST_F(vf, second_user_refused)
{
	struct vfio v;
	char path[256], link[256];
	ssize_t n;

	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	ASSERT_EQ(0, vfio_open(self->uuid, &v));

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/iommu_group",
		 self->uuid);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	EXPECT_EQ(-1, open(path, O_RDWR));
	EXPECT_EQ(EBUSY, errno);
	/* The mdev cannot be opened twice either way while it is owned. */
	EXPECT_EQ(-EBUSY, vfio_open(self->uuid, &(struct vfio){}));

	vfio_close(&v);
	ASSERT_EQ(0, vfio_open(self->uuid, &v));
	vfio_close(&v);
}

/*
 * Take the device away (@how) while a user holds it: the kernel asks the
 * user through the request eventfd and waits; once the user closes, the
 * removal completes and the host is unharmed.
 */
static void take_away_while_open(struct __test_metadata *_metadata,
				 const char *uuid, const char *how)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	struct vfio v;
	pid_t pid;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vfio_open(uuid, &v));
	ASSERT_EQ(0, set_req_eventfd(&v, efd));

	pid = spawn(how);
	ASSERT_TRUE(readable(efd, 30)) TH_LOG("no device request in 30 s");
	EXPECT_EQ(-1, reap(pid, 1)) TH_LOG("'%s' did not wait for the user",
					   how);
	vfio_close(&v);
	EXPECT_EQ(0, reap(pid, 60)) TH_LOG("'%s' failed or hung", how);
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", uuid));
	close(efd);
}

TEST_F_TIMEOUT(vf, remove_mdev_while_open, 120)
{
	char cmd[256];

	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	snprintf(cmd, sizeof(cmd), "echo 1 > " MDEV_DEVICES "/%s/remove",
		 self->uuid);
	take_away_while_open(_metadata, self->uuid, cmd);
}

/* npactl unbind of the VF, npactl detach of another parent's device. */
TEST_F_TIMEOUT(vf, unbind_vf_while_open, 120)
{
	char cmd[256];

	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	snprintf(cmd, sizeof(cmd), "selftests/family.sh take %s 0",
		 variant->fam->name);
	take_away_while_open(_metadata, self->uuid, cmd);
	EXPECT_FALSE(exists("/sys/bus/pci/drivers/npa/%s", self->bdf));
	EXPECT_FALSE(exists("/sys/bus/vdpa/drivers/npa/%s", self->parent));
}

TEST_F_TIMEOUT(vf, unload_while_open, 120)
{
	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	take_away_while_open(_metadata, self->uuid, NPACTL " unload");
	EXPECT_FALSE(exists("/sys/module/%s", "npa_vf"));
	EXPECT_FALSE(exists("/sys/module/%s", "npa_mdev"));
}

/* Without a request channel, removal waits for the user and says why. */
TEST_F_TIMEOUT(vf, remove_without_request_channel, 120)
{
	char cmd[256];
	struct vfio v;
	pid_t pid;

	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	ASSERT_EQ(0, vfio_open(self->uuid, &v));
	sh("dmesg -C");
	snprintf(cmd, sizeof(cmd), "echo 1 > " MDEV_DEVICES "/%s/remove",
		 self->uuid);
	pid = spawn(cmd);
	EXPECT_EQ(-1, reap(pid, 3));
	sh("dmesg");
	EXPECT_NE(NULL, strstr(out, "no device request channel registered"))
		TH_LOG("dmesg:\n%s", out);
	vfio_close(&v);
	EXPECT_EQ(0, reap(pid, 60));
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", self->uuid));
}

TEST_F_TIMEOUT(vf, defined_auto_survives_reload, 120)
{
	ASSERT_EQ(0, sh("mdevctl define -u %s -p %s -t " NPA_TYPE " --auto",
			self->uuid, self->parent)) TH_LOG("%s", out);
	ASSERT_EQ(0, sh("mdevctl start -u %s", self->uuid)) TH_LOG("%s", out);
	ASSERT_TRUE(exists(MDEV_DEVICES "/%s", self->uuid));

	ASSERT_EQ(0, sh(NPACTL " unload")) TH_LOG("%s", out);
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", self->uuid));
	/* Still handed over (driver_override): npa has it back, mdev too. */
	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	EXPECT_TRUE(exists("/sys/bus/vdpa/drivers/npa/%s", self->parent));
	EXPECT_TRUE(exists(MDEV_DEVICES "/%s", self->uuid));
	ASSERT_EQ(0, sh("mdevctl list -d"));
	EXPECT_NE(NULL, strstr(out, "auto")) TH_LOG("%s", out);
}

/*
 * The parent is a vdpa management device; the vdpa device made on it
 * carries the admin's MAC and MTU, which npa_vf serves even when the
 * function has none of its own (the lab's VFs offer no VIRTIO_NET_F_MTU).
 * vp_vdpa takes neither: vdpa dev add refuses them.
 */
TEST_F(vf, vdpa_mac_mtu)
{
	struct {
		struct vhost_vdpa_config hdr;
		struct virtio_net_config c;
	} cfg = { .hdr = { .off = 0, .len = 12 } };
	const char *fam = variant->fam->name;
	char mgmt[64], parent[PARENT_LEN];
	struct vfio v;
	__u64 f;

	ASSERT_EQ(0, sh("selftests/family.sh down %s 2", fam)) TH_LOG("%s", out);
	if (!variant->fam->mac_mtu) {
		EXPECT_NE(0, fam_up(variant->fam, 2,
				    "--mac 02:4e:50:41:00:02 --mtu 1400",
				    parent));
		EXPECT_NE(NULL, strstr(out, "not supported")) TH_LOG("%s", out);
		return;
	}
	ASSERT_EQ(0, fam_up(variant->fam, 2,
			    "--mac 02:4e:50:41:00:02 --mtu 1400", parent))
		TH_LOG("%s", out);
	EXPECT_TRUE(exists("/sys/bus/vdpa/drivers/npa/%s", parent));
	ASSERT_EQ(0, sh("selftests/family.sh mgmtdev %s 2", fam));
	snprintf(mgmt, sizeof(mgmt), "%s", strtok(out, "\n"));
	ASSERT_EQ(0, sh("vdpa mgmtdev show %s", mgmt)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "net")) TH_LOG("%s", out);
	ASSERT_EQ(0, sh("vdpa dev config show %s", parent)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "mac 02:4e:50:41:00:02")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "mtu 1400")) TH_LOG("%s", out);

	ASSERT_EQ(0, create_mdev(parent, self->uuid));
	ASSERT_EQ(0, vfio_open(self->uuid, &v));
	ASSERT_EQ(0, ioctl(v.device, VHOST_GET_FEATURES, &f));
	EXPECT_TRUE(!!(f & (1ULL << VIRTIO_NET_F_MAC)));
	EXPECT_TRUE(!!(f & (1ULL << VIRTIO_NET_F_MTU)));
	ASSERT_EQ(0, ioctl(v.device, VHOST_VDPA_GET_CONFIG, &cfg));
	EXPECT_EQ(0, memcmp(cfg.c.mac, "\x02\x4e\x50\x41\x00\x02", 6));
	EXPECT_EQ(1400, le16toh(cfg.c.mtu));
	vfio_close(&v);
	EXPECT_EQ(0, remove_mdev(self->uuid));
	EXPECT_EQ(0, sh("selftests/family.sh down %s 2", fam)) TH_LOG("%s", out);
}

/*
 * The admin's name, MAC and MTU survive npa's reload: npactl load makes the
 * vdpa device of a function still handed to npa as bind made it.  Unbind
 * forgets them: bound again without them, the function keeps its own MAC
 * across a reload.
 */
TEST_F_TIMEOUT(vf, mac_mtu_survive_reload, 360)
{
	char other[16], parent[PARENT_LEN];

	if (variant->fam != &fam_npa_vf) {
		/* Another parent's device is not npa's to remake: it stays. */
		ASSERT_EQ(0, sh(NPACTL " unload && " NPACTL " load"))
			TH_LOG("%s", out);
		EXPECT_TRUE(exists("/sys/bus/vdpa/drivers/npa/%s",
				   self->parent));
		return;
	}

	ASSERT_EQ(0, vf_bdf(2, other));
	ASSERT_EQ(0, bind_vf(other,
			     "--name npa-admin --mac 02:4e:50:41:00:03 --mtu 1400",
			     parent)) TH_LOG("%s", out);
	EXPECT_STREQ("npa-admin", parent);

	ASSERT_EQ(0, sh(NPACTL " unload && " NPACTL " load")) TH_LOG("%s", out);
	ASSERT_EQ(0, sh(NPACTL " parent %s", other)) TH_LOG("%s", out);
	EXPECT_STREQ("npa-admin\n", out);
	EXPECT_TRUE(exists("/sys/bus/vdpa/drivers/npa/%s", "npa-admin"));
	ASSERT_EQ(0, sh("vdpa dev config show npa-admin")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "mac 02:4e:50:41:00:03")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "mtu 1400")) TH_LOG("%s", out);

	ASSERT_EQ(0, sh(NPACTL " unbind %s", other)) TH_LOG("%s", out);
	ASSERT_EQ(0, bind_vf(other, "", parent)) TH_LOG("%s", out);
	ASSERT_EQ(0, sh(NPACTL " unload && " NPACTL " load")) TH_LOG("%s", out);
	ASSERT_EQ(0, sh(NPACTL " parent %s", other)) TH_LOG("%s", out);
	EXPECT_STREQ(parent, strtok(out, "\n"));
	ASSERT_EQ(0, sh("vdpa dev config show %s", parent)) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "02:4e:50:41:00:03")) TH_LOG("%s", out);
	EXPECT_EQ(0, sh(NPACTL " unbind %s", other)) TH_LOG("%s", out);
}

/*
 * npa_mdev takes only the vdpa devices handed to it (driver_override);
 * npa_vf makes one vdpa device per function.
 */
TEST_F(vf, vdpa_opt_in)
{
	const char *fam = variant->fam->name;
	char mgmt[64], parent[PARENT_LEN];

	ASSERT_EQ(0, fam_up(variant->fam, 2, "", parent)) TH_LOG("%s", out);
	ASSERT_EQ(0, sh("selftests/family.sh mgmtdev %s 2", fam));
	snprintf(mgmt, sizeof(mgmt), "%s", strtok(out, "\n"));
	if (variant->fam == &fam_npa_vf)
		EXPECT_NE(0, sh("vdpa dev add name npa-test mgmtdev %s", mgmt));
	ASSERT_EQ(0, sh("vdpa dev del %s", parent)) TH_LOG("%s", out);
	ASSERT_EQ(0, sh("vdpa dev add name npa-test mgmtdev %s", mgmt))
		TH_LOG("%s", out);
	EXPECT_TRUE(exists("/sys/bus/vdpa/devices/%s", "npa-test"));
	EXPECT_FALSE(exists("/sys/bus/vdpa/drivers/npa/%s", "npa-test"));
	EXPECT_EQ(0, sh("vdpa dev del npa-test")) TH_LOG("%s", out);
	EXPECT_EQ(0, sh("selftests/family.sh down %s 2", fam)) TH_LOG("%s", out);
}

/*
 * npactl attach: a vdpa device npa must refuse (vdpa_sim_blk's: not a
 * NIC) is left as it was, with the kernel's reason; names that are no
 * vdpa device, or not npa's, get a clear error.
 */
static void vdpa_driver(const char *name, char *buf, size_t len)
{
	char path[256], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/vdpa/devices/%s/driver", name);
	n = readlink(path, link, sizeof(link) - 1);
	link[n < 0 ? 0 : n] = 0;
	snprintf(buf, len, "%s", n < 0 ? "" : strrchr(link, '/') + 1);
}

TEST(attach_refused_and_left_as_it_was)
{
	char before[64], after[64], buf[64];

	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	ASSERT_EQ(0, sh("selftests/family.sh load vdpa_sim 0")) TH_LOG("%s", out);
	ASSERT_EQ(0, sh("vdpa dev add name blk-test mgmtdev vdpasim_blk"))
		TH_LOG("%s", out);
	vdpa_driver("blk-test", before, sizeof(before));

	EXPECT_NE(0, sh(NPACTL " attach blk-test"));
	EXPECT_NE(NULL, strstr(out, "virtio device id 2 is not a network device"))
		TH_LOG("%s", out);
	vdpa_driver("blk-test", after, sizeof(after));
	EXPECT_STREQ(before, after);
	ASSERT_EQ(0, read_attr("/sys/bus/vdpa/devices/blk-test/driver_override",
			       buf, sizeof(buf)));
	EXPECT_STREQ("(null)", buf);
	EXPECT_NE(0, sh(NPACTL " detach blk-test"));
	EXPECT_NE(NULL, strstr(out, "blk-test is not npa's")) TH_LOG("%s", out);
	EXPECT_EQ(0, sh("vdpa dev del blk-test")) TH_LOG("%s", out);

	EXPECT_NE(0, sh(NPACTL " attach no-such-dev"));
	EXPECT_NE(NULL, strstr(out, "no-such-dev: no such vdpa device"))
		TH_LOG("%s", out);
	EXPECT_NE(0, sh(NPACTL " detach no-such-dev"));
	EXPECT_NE(NULL, strstr(out, "no-such-dev: no such vdpa device"))
		TH_LOG("%s", out);
	EXPECT_TRUE(host_healthy());
}

/* Functions npa must refuse, each with the reason the admin is given. */
FIXTURE(bad) {
	char driver[64];
};

FIXTURE_VARIANT(bad) {
	const char *env;
	const char *reason;
};

FIXTURE_VARIANT_ADD(bad, legacy_only) {
	.env = "NPA_BAD_LEGACY",
	.reason = "not a virtio 1.x (modern) PCI function",
};

FIXTURE_VARIANT_ADD(bad, bypasses_iommu) {
	.env = "NPA_BAD_NOIOMMU",
	.reason = "device bypasses the IOMMU",
};

FIXTURE_VARIANT_ADD(bad, not_a_nic) {
	.env = "NPA_BAD_NOTNET",
	.reason = "is not a network device",
};

FIXTURE_SETUP(bad)
{
	char path[256], link[256];
	ssize_t n;

	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	ASSERT_NE(NULL, getenv(variant->env));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver",
		 getenv(variant->env));
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = 0;
	snprintf(self->driver, sizeof(self->driver), "%s",
		 strrchr(link, '/') + 1);
}

FIXTURE_TEARDOWN(bad)
{
	EXPECT_TRUE(host_healthy());
}

TEST_F(bad, refused_and_left_as_it_was)
{
	const char *bdf = getenv(variant->env);
	char path[256], link[256], buf[64];
	ssize_t n;

	EXPECT_NE(0, sh(NPACTL " bind %s", bdf));
	EXPECT_NE(NULL, strstr(out, variant->reason)) TH_LOG("%s", out);

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n);
	link[n] = 0;
	EXPECT_STREQ(self->driver, strrchr(link, '/') + 1);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 bdf);
	ASSERT_EQ(0, read_attr(path, buf, sizeof(buf)));
	EXPECT_STREQ("(null)", buf);
}

/* ---- the data path: vhost requests on the device fd ---- */

struct mem_table {
	struct vhost_memory hdr;
	struct vhost_memory_region r[2];
};

static int set_table(int fd, int n, const struct vhost_memory_region *r)
{
	struct mem_table t = { .hdr.nregions = n };

	memcpy(t.r, r, n * sizeof(*r));
	return ioctl(fd, VHOST_SET_MEM_TABLE, &t) ? -errno : 0;
}

static int set_status(int fd, __u8 status)
{
	return ioctl(fd, VHOST_VDPA_SET_STATUS, &status) ? -errno : 0;
}

static int vring(int fd, unsigned long cmd, __u32 idx, __u32 num)
{
	struct vhost_vring_state st = { idx, num };

	return ioctl(fd, cmd, &st) ? -errno : 0;
}

static int vring_addr(int fd, __u32 idx, __u64 desc, __u64 avail,
		      __u64 used)
{
	struct vhost_vring_addr a = {
		.index = idx, .desc_user_addr = desc,
		.avail_user_addr = avail, .used_user_addr = used,
	};

	return ioctl(fd, VHOST_SET_VRING_ADDR, &a) ? -errno : 0;
}

#define GPA	0x40000000ULL
#define MEMSZ	0x100000UL
#define S_FEAT	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | \
		 VIRTIO_CONFIG_S_FEATURES_OK)

FIXTURE(dp) {
	char bdf[16];
	char parent[PARENT_LEN];
	char uuid[40];
	struct vfio v;
	int fd;
	__u8 *mem;
	struct vhost_memory_region r;
};

FIXTURE_VARIANT(dp) {
	const struct family *fam;
};

FIXTURE_VARIANT_ADD(dp, npa_vf) {
	.fam = &fam_npa_vf,
};

FIXTURE_VARIANT_ADD(dp, vp_vdpa) {
	.fam = &fam_vp_vdpa,
};

FIXTURE_VARIANT_ADD(dp, vdpa_sim) {
	.fam = &fam_vdpa_sim,
};

FIXTURE_VARIANT_ADD(dp, vdpa_sim_map) {
	.fam = &fam_vdpa_sim_map,
};

FIXTURE_SETUP(dp)
{
	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	ASSERT_EQ(0, vf_bdf(0, self->bdf));
	ASSERT_EQ(0, fam_up(variant->fam, 0, "", self->parent))
		TH_LOG("%s", out);
	new_uuid(self->uuid);
	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	ASSERT_EQ(0, vfio_open(self->uuid, &self->v));
	self->fd = self->v.device;
	self->mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	self->r.guest_phys_addr = GPA;
	self->r.memory_size = MEMSZ;
	self->r.userspace_addr = (uintptr_t)self->mem;
}

FIXTURE_TEARDOWN(dp)
{
	if (self->v.device > 0)
		vfio_close(&self->v);
	if (exists(MDEV_DEVICES "/%s", self->uuid))
		remove_mdev(self->uuid);
	EXPECT_TRUE(host_healthy()) TH_LOG("the kernel was tainted: see dmesg");
}

TEST_F(dp, features_validated)
{
	__u64 f, bad;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &f));
	EXPECT_TRUE(!!(f & (1ULL << VIRTIO_F_VERSION_1)));
	EXPECT_TRUE(!!(f & (1ULL << VIRTIO_F_ACCESS_PLATFORM)));
	EXPECT_TRUE(!!(f & (1ULL << VIRTIO_NET_F_MAC)));
	/* Every parent offers a control queue; npa does not pass it on. */
	EXPECT_FALSE(!!(f & (1ULL << VIRTIO_NET_F_CTRL_VQ)));

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	bad = f | (1ULL << VIRTIO_NET_F_CTRL_VQ);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, &bad));
	EXPECT_EQ(EINVAL, errno);
	/* A virtio 1.x device: VERSION_1 is not optional. */
	bad = f & ~(1ULL << VIRTIO_F_VERSION_1);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, &bad));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &f));
	EXPECT_EQ(0, set_status(self->fd, S_FEAT));
	/* Negotiated: only npa's own VHOST_F_LOG_ALL may still change. */
	bad = f & ~(1ULL << VIRTIO_NET_F_MAC);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, &bad));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &f));
	bad = f & ~(1ULL << VHOST_F_LOG_ALL);
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &bad));
}

TEST_F(dp, owner_only)
{
	__u64 f = 1ULL << VIRTIO_F_VERSION_1;
	pid_t pid;
	int st;

	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, &f));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-EPERM, set_table(self->fd, 1, &self->r));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(EBUSY, errno);

	/* Another process holding the same fd is not the owner. */
	pid = fork();
	if (!pid)
		_exit(ioctl(self->fd, VHOST_SET_FEATURES, &f) == -1 &&
		      errno == EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* VFIO_DEVICE_SET_IRQS with @count eventfds (or none) from @start. */
static int set_irqs(int fd, __u32 flags, __u32 index, __u32 start,
		    __u32 count, const __s32 *fds)
{
	struct {
		struct vfio_irq_set set;
		__s32 fd[4];
	} irq = {
		.set = {
			.argsz = sizeof(irq), .flags = flags, .index = index,
			.start = start, .count = count,
		},
	};

	if (fds)
		memcpy(irq.fd, fds, count * sizeof(*fds));
	return ioctl(fd, VFIO_DEVICE_SET_IRQS, &irq) ? -errno : 0;
}

#define EVENTFDS	(VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER)
#define SIGNAL		(VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER)

/* Signal queue @q's call eventfd through the device: did @efd get it? */
static bool call_reaches(int fd, __u32 q, int efd)
{
	__u64 n;

	if (set_irqs(fd, SIGNAL, VHOST_NPA_VQ_IRQ_INDEX, q, 1, NULL))
		return false;
	return readable(efd, 1) && read(efd, &n, sizeof(n)) == sizeof(n);
}

/*
 * Interrupts and VFIO_DEVICE_RESET change the device: a process holding the
 * fd but not the owner (here a forked child) gets EPERM, and the owner's
 * eventfds and status stay.  Before VHOST_SET_OWNER, the request eventfd
 * alone can be set, as QEMU does right after opening.
 */
TEST_F(dp, irqs_and_reset_owner_only)
{
	__s32 call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	__s32 req = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	__s32 none[2] = { -1, -1 };
	__u64 f;
	__u8 status;
	pid_t pid;
	int st;

	ASSERT_LE(0, call);
	ASSERT_LE(0, req);
	EXPECT_EQ(-EPERM, set_irqs(self->fd, EVENTFDS,
				   VHOST_NPA_VQ_IRQ_INDEX, 0, 1, &call));
	EXPECT_EQ(-EPERM, set_irqs(self->fd, EVENTFDS,
				   VHOST_NPA_CONFIG_IRQ_INDEX, 0, 1, &call));
	EXPECT_EQ(-1, ioctl(self->fd, VFIO_DEVICE_RESET));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, set_req_eventfd(&self->v, req));

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, set_irqs(self->fd, EVENTFDS, VHOST_NPA_VQ_IRQ_INDEX, 0, 1,
			      &call));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &f));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &f));
	ASSERT_EQ(0, set_status(self->fd, S_FEAT));

	pid = fork();
	if (!pid) {
		int bad = 0;

		bad |= set_irqs(self->fd, EVENTFDS, VHOST_NPA_VQ_IRQ_INDEX,
				0, 2, none) != -EPERM;
		bad |= set_irqs(self->fd, SIGNAL, VHOST_NPA_VQ_IRQ_INDEX,
				0, 0, NULL) != -EPERM;
		bad |= set_irqs(self->fd, EVENTFDS, VHOST_NPA_REQ_IRQ_INDEX,
				0, 1, none) != -EPERM;
		bad |= set_irqs(self->fd, SIGNAL, VHOST_NPA_CONFIG_IRQ_INDEX,
				0, 0, NULL) != -EPERM;
		bad |= !(ioctl(self->fd, VFIO_DEVICE_RESET) == -1 &&
			 errno == EPERM);
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));

	/* The owner's device is as it was. */
	EXPECT_TRUE(call_reaches(self->fd, 0, call));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_STATUS, &status));
	EXPECT_EQ(S_FEAT, status);
	EXPECT_EQ(0, set_irqs(self->fd, SIGNAL, VHOST_NPA_REQ_IRQ_INDEX, 0, 1,
			      NULL));
	EXPECT_TRUE(readable(req, 1));

	EXPECT_EQ(0, ioctl(self->fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_STATUS, &status));
	EXPECT_EQ(0, status);
	close(call);
	close(req);
}

/* One action at a time, and a bad eventfd changes none of them. */
TEST_F(dp, set_irqs_all_or_nothing)
{
	__s32 a = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	__s32 b = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	__s32 fds[2];

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	fds[0] = a;
	fds[1] = a;
	EXPECT_EQ(-EINVAL, set_irqs(self->fd, EVENTFDS |
				    VFIO_IRQ_SET_ACTION_MASK |
				    VFIO_IRQ_SET_ACTION_UNMASK,
				    VHOST_NPA_VQ_IRQ_INDEX, 0, 1, fds));
	EXPECT_EQ(-EINVAL, set_irqs(self->fd, VFIO_IRQ_SET_DATA_EVENTFD |
				    VFIO_IRQ_SET_ACTION_UNMASK,
				    VHOST_NPA_VQ_IRQ_INDEX, 0, 1, fds));
	EXPECT_FALSE(call_reaches(self->fd, 0, a));

	ASSERT_EQ(0, set_irqs(self->fd, EVENTFDS, VHOST_NPA_VQ_IRQ_INDEX, 0, 2,
			      fds));
	fds[0] = b;
	fds[1] = 1000;
	EXPECT_EQ(-EBADF, set_irqs(self->fd, EVENTFDS, VHOST_NPA_VQ_IRQ_INDEX,
				   0, 2, fds));
	fds[1] = -2;
	EXPECT_EQ(-EINVAL, set_irqs(self->fd, EVENTFDS, VHOST_NPA_VQ_IRQ_INDEX,
				    0, 2, fds));
	EXPECT_TRUE(call_reaches(self->fd, 0, a));
	EXPECT_TRUE(call_reaches(self->fd, 1, a));
	EXPECT_FALSE(readable(b, 0));

	fds[1] = -1;
	EXPECT_EQ(0, set_irqs(self->fd, EVENTFDS, VHOST_NPA_VQ_IRQ_INDEX, 0, 2,
			      fds));
	EXPECT_TRUE(call_reaches(self->fd, 0, b));
	EXPECT_FALSE(call_reaches(self->fd, 1, a));
	close(a);
	close(b);
}

/*
 * The device has a control queue (queue 2), but the user gets the data
 * queues alone: a control queue would let it set the MAC that is the
 * admin's.
 */
TEST_F(dp, control_queue_hidden)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	struct vfio_irq_info irq = {
		.argsz = sizeof(irq), .index = VHOST_NPA_VQ_IRQ_INDEX,
	};
	struct vhost_vring_state st = { .index = 2 };
	__s32 none = -1;
	__u32 nvqs;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_VQS_COUNT, &nvqs));
	EXPECT_EQ(2U, nvqs);
	ASSERT_EQ(0, ioctl(self->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq));
	EXPECT_EQ(2U, irq.count);
	ASSERT_EQ(0, ioctl(self->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));
	EXPECT_EQ(2UL * getpagesize(), ri.size);
	/*
	 * The lab's VFs have a page per doorbell: the guest may map them.
	 * Without get_vq_notification (vdpa_sim) the doorbells are written
	 * through the region alone, and mmap is refused.
	 */
	EXPECT_EQ(variant->fam->doorbell_mmap,
		  !!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP));
	if (!variant->fam->doorbell_mmap) {
		EXPECT_EQ(MAP_FAILED, mmap(NULL, getpagesize(), PROT_WRITE,
					   MAP_SHARED, self->fd, ri.offset));
		EXPECT_EQ(EINVAL, errno);
	}

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-ENOBUFS, vring(self->fd, VHOST_SET_VRING_NUM, 2, 64));
	EXPECT_EQ(-ENOBUFS, vring(self->fd, VHOST_VDPA_SET_VRING_ENABLE, 2,
				  1));
	EXPECT_EQ(-ENOBUFS, vring(self->fd, VHOST_SET_VRING_BASE, 2, 0));
	EXPECT_EQ(-ENOBUFS, vring_addr(self->fd, 2, GPA, GPA + 0x1000,
				       GPA + 0x2000));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_GET_VRING_BASE, &st));
	EXPECT_EQ(ENOBUFS, errno);
	EXPECT_EQ(-EINVAL, set_irqs(self->fd, EVENTFDS, VHOST_NPA_VQ_IRQ_INDEX,
				    2, 1, &none));
	EXPECT_EQ(-1, pwrite(self->fd, "\0\0", 2,
			     ri.offset + 2 * getpagesize()));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(dp, bad_requests)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	struct {
		struct vhost_vdpa_config hdr;
		__u8 buf[64];
	} cfg = {};
	struct {
		struct vfio_irq_set set;
		__s32 fd[4];
	} irq = {
		.set = {
			.argsz = sizeof(irq),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = VHOST_NPA_VQ_IRQ_INDEX,
		},
	};
	__u32 size;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-1, ioctl(self->fd, _IO(VHOST_VIRTIO, 0x6f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_VRING_CALL, &cfg));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_GET_FEATURES, (void *)8));
	EXPECT_EQ(EFAULT, errno);

	ri.index = 1;
	EXPECT_EQ(-1, ioctl(self->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));
	EXPECT_EQ(EINVAL, errno);
	ri.index = 0;
	ri.argsz = 8;
	EXPECT_EQ(-1, ioctl(self->fd, VFIO_DEVICE_GET_REGION_INFO, &ri));
	EXPECT_EQ(EINVAL, errno);

	/* Call eventfds: past the last queue, not an eventfd. */
	irq.set.start = 2;
	irq.set.count = 2;
	irq.fd[0] = -1;
	irq.fd[1] = -1;
	EXPECT_EQ(-1, ioctl(self->fd, VFIO_DEVICE_SET_IRQS, &irq));
	EXPECT_EQ(EINVAL, errno);
	irq.set.start = 0;
	irq.set.count = 1;
	irq.fd[0] = 0;
	EXPECT_EQ(-1, ioctl(self->fd, VFIO_DEVICE_SET_IRQS, &irq));
	EXPECT_EQ(EINVAL, errno);
	irq.fd[0] = 1000;
	EXPECT_EQ(-1, ioctl(self->fd, VFIO_DEVICE_SET_IRQS, &irq));
	EXPECT_EQ(EBADF, errno);

	/* Config space: in bounds only, and read-only to the user. */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_CONFIG_SIZE, &size));
	cfg.hdr.off = size - 2;
	cfg.hdr.len = 4;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_VDPA_GET_CONFIG, &cfg));
	EXPECT_EQ(EINVAL, errno);
	cfg.hdr.off = 0;
	cfg.hdr.len = 6;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_VDPA_SET_CONFIG, &cfg));
	EXPECT_EQ(EPERM, errno);
}

TEST_F(dp, config_space)
{
	struct {
		struct vhost_vdpa_config hdr;
		struct virtio_net_config c;
	} cfg = { .hdr = { .off = 0, .len = 8 } };
	struct vhost_vdpa_iova_range range;
	__u32 size, id, nvqs;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_DEVICE_ID, &id));
	EXPECT_EQ(1U, id);
	/* The device has a control queue too: it is not the user's. */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_VQS_COUNT, &nvqs));
	EXPECT_EQ(2U, nvqs);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_CONFIG_SIZE, &size));
	EXPECT_LE(8U, size);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_IOVA_RANGE, &range));
	EXPECT_GE(GPA, range.first);
	EXPECT_LE(GPA + MEMSZ - 1, range.last);
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_CONFIG, &cfg));
	/* What the lab gave VF 0 (and simulator 0), and its link is up. */
	EXPECT_EQ(0, memcmp(cfg.c.mac, "\x52\x54\x00\x4e\x50\x00", 6));
	EXPECT_TRUE(cfg.c.status & VIRTIO_NET_S_LINK_UP);
}

TEST_F(dp, vring_bad_input)
{
	__u16 max;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	/* The VF's largest ring (256 or 1024, by the lab's QEMU version). */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_VRING_NUM, &max));
	ASSERT_LE(64, max);
	EXPECT_EQ(-ENOBUFS, vring(self->fd, VHOST_SET_VRING_NUM, 3, 64));
	EXPECT_EQ(-ENOBUFS, vring(self->fd, VHOST_GET_VRING_BASE, 99, 0));
	EXPECT_EQ(-EINVAL, vring(self->fd, VHOST_SET_VRING_NUM, 0, 0));
	EXPECT_EQ(-EINVAL, vring(self->fd, VHOST_SET_VRING_NUM, 0, 100));
	EXPECT_EQ(-EINVAL, vring(self->fd, VHOST_SET_VRING_NUM, 0, max * 2));
	EXPECT_EQ(0, vring(self->fd, VHOST_SET_VRING_NUM, 0, max));
	EXPECT_EQ(0, vring(self->fd, VHOST_SET_VRING_NUM, 0, 64));
	EXPECT_EQ(-EINVAL, vring_addr(self->fd, 0, GPA + 8, GPA + 4096,
				      GPA + 8192));
	EXPECT_EQ(-EINVAL, vring_addr(self->fd, 0, GPA, GPA + 4097,
				      GPA + 8192));
	EXPECT_EQ(-EINVAL, vring_addr(self->fd, 0, GPA, GPA + 4096,
				      GPA + 8194));
	/* Any 16-bit index: the VF cannot load it, the relay starts there. */
	EXPECT_EQ(0, vring(self->fd, VHOST_SET_VRING_BASE, 0, 5));
	EXPECT_EQ(-EINVAL, vring(self->fd, VHOST_SET_VRING_BASE, 0, 0x10000));
	EXPECT_EQ(-EINVAL, vring(self->fd, VHOST_VDPA_SET_VRING_ENABLE, 0, 2));
}

TEST_F(dp, mem_table_bad_input)
{
	struct vhost_memory_region r[2] = { self->r, self->r };
	struct mem_table big = { .hdr.nregions = 65 };
	long lck = npa_status_kb("VmLck:"), pin = npa_status_kb("VmPin:");

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_MEM_TABLE, &big));
	EXPECT_EQ(E2BIG, errno);

	r[0].guest_phys_addr = GPA + 1;
	EXPECT_EQ(-EINVAL, set_table(self->fd, 1, r));
	r[0] = self->r;
	r[0].memory_size = 0;
	EXPECT_EQ(-EINVAL, set_table(self->fd, 1, r));
	r[0] = self->r;
	r[0].guest_phys_addr = -4096ULL;
	EXPECT_EQ(-EINVAL, set_table(self->fd, 1, r));
	/* Two regions over the same guest addresses. */
	r[0] = self->r;
	r[1].memory_size = 4096;
	r[1].guest_phys_addr = GPA + 8192;
	EXPECT_EQ(-EINVAL, set_table(self->fd, 2, r));
	/* Memory the process does not have. */
	r[0].userspace_addr = 0x10000;
	EXPECT_EQ(-EFAULT, set_table(self->fd, 1, r));

	EXPECT_EQ(lck, npa_status_kb("VmLck:"));
	EXPECT_EQ(pin, npa_status_kb("VmPin:"));
}

/* Pinned memory is charged, and given back on change and on close. */
TEST_F(dp, pinning_accounted_and_released)
{
	struct vhost_memory_region half = self->r;
	long lck = npa_status_kb("VmLck:"), pin = npa_status_kb("VmPin:");
	long pins = pinned_pages();

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, set_table(self->fd, 1, &self->r));
	/* Charged once, to pinned_vm, as vhost-vdpa does: not to locked_vm. */
	EXPECT_EQ(lck, npa_status_kb("VmLck:"));
	EXPECT_EQ(pin + (long)(MEMSZ >> 10), npa_status_kb("VmPin:"));

	half.memory_size = MEMSZ / 2;
	ASSERT_EQ(0, set_table(self->fd, 1, &half));
	EXPECT_EQ(lck, npa_status_kb("VmLck:"));
	EXPECT_EQ(pin + (long)(MEMSZ >> 11), npa_status_kb("VmPin:"));

	vfio_close(&self->v);
	self->v.device = -1;
	EXPECT_EQ(lck, npa_status_kb("VmLck:"));
	EXPECT_EQ(pin, npa_status_kb("VmPin:"));
	/* System wide: nothing of ours is still pinned. */
	EXPECT_GE(pins, pinned_pages());
}

/* Without CAP_IPC_LOCK, RLIMIT_MEMLOCK bounds what a VMM can pin. */
static int pin_under_limit(const char *uuid, void *mem)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct caps[2];
	struct rlimit lim = { 64 << 10, 64 << 10 };
	struct vhost_memory_region r = {
		.guest_phys_addr = GPA, .memory_size = MEMSZ,
		.userspace_addr = (uintptr_t)mem,
	};
	struct vfio v;

	if (syscall(SYS_capget, &hdr, caps))
		return 10;
	caps[0].effective &= ~(1U << CAP_IPC_LOCK);
	caps[0].permitted &= ~(1U << CAP_IPC_LOCK);
	if (syscall(SYS_capset, &hdr, caps) || setrlimit(RLIMIT_MEMLOCK, &lim))
		return 11;
	if (vfio_open(uuid, &v) || ioctl(v.device, VHOST_SET_OWNER))
		return 12;
	if (set_table(v.device, 1, &r) != -ENOMEM)
		return 13;
	if (npa_status_kb("VmLck:") || npa_status_kb("VmPin:"))
		return 14;
	r.memory_size = 32 << 10;
	if (set_table(v.device, 1, &r))
		return 15;
	if (npa_status_kb("VmPin:") != 32 || npa_status_kb("VmLck:"))
		return 16;
	return 0;
}

TEST_F(dp, memlock_limit)
{
	pid_t pid;
	int st;

	vfio_close(&self->v);
	self->v.device = -1;
	pid = fork();
	if (!pid)
		_exit(pin_under_limit(self->uuid, self->mem));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* What the kernel logged since the last "dmesg -C". */
static bool dmesg_has(const char *what)
{
	sh("dmesg");
	return strstr(out, what);
}

/*
 * A region larger than the caller could pin is refused before anything is
 * allocated for it: no page array of the region's size, no allocation
 * warning (fuzz finding 1), nothing charged.
 */
TEST_F(dp, huge_region_refused)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = 0, .memory_size = 1ULL << 40,
		.userspace_addr = 1ULL << 32,
	};
	long lck = npa_status_kb("VmLck:"), pin = npa_status_kb("VmPin:");
	int ret;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	sh("dmesg -C");
	ret = set_table(self->fd, 1, &r);
	EXPECT_TRUE(ret == -ENOMEM || ret == -EINVAL) TH_LOG("got %d", ret);
	r.memory_size = 1ULL << 39;
	r.guest_phys_addr = GPA;
	ret = set_table(self->fd, 1, &r);
	EXPECT_TRUE(ret == -ENOMEM || ret == -EINVAL) TH_LOG("got %d", ret);
	EXPECT_FALSE(dmesg_has("WARNING")) TH_LOG("%s", out);
	EXPECT_EQ(lck, npa_status_kb("VmLck:"));
	EXPECT_EQ(pin, npa_status_kb("VmPin:"));
	/* The device is still usable. */
	EXPECT_EQ(0, set_table(self->fd, 1, &self->r));
}

/*
 * Regions the device cannot reach are refused: outside the IOVA range the
 * device reports, or over the IOMMU's reserved IOVAs (x86's MSI window).
 * A parent that translates on its own (vdpa_sim: IOVAs 0 to 2^64 - 1, no
 * IOMMU behind it) has neither limit.
 */
TEST_F(dp, iova_range_and_reserved)
{
	struct vhost_vdpa_iova_range range;
	struct vhost_memory_region r = self->r;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_IOVA_RANGE, &range));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	if (!variant->fam->iommu) {
		/* Every IOVA but the relay's window at the top. */
		EXPECT_EQ(0ULL, range.first);
		EXPECT_LT(1ULL << 60, range.last);
		r.memory_size = 4096;
		r.guest_phys_addr = 0xfee00000;
		EXPECT_EQ(0, set_table(self->fd, 1, &r));
		r.guest_phys_addr = 1ULL << 57;
		EXPECT_EQ(0, set_table(self->fd, 1, &r));
		return;
	}
	sh("dmesg -C");
	r.memory_size = 4096;
	r.guest_phys_addr = 0xfee00000;
	EXPECT_EQ(-EINVAL, set_table(self->fd, 1, &r));
	r.guest_phys_addr = 0xfeeff000;
	EXPECT_EQ(-EINVAL, set_table(self->fd, 1, &r));
	r.guest_phys_addr = 0xfedff000;
	r.memory_size = 8192;
	EXPECT_EQ(-EINVAL, set_table(self->fd, 1, &r));
	r.memory_size = 4096;
	if (range.last < -4096ULL) {
		r.guest_phys_addr = range.last + 1;
		EXPECT_EQ(-EINVAL, set_table(self->fd, 1, &r));
		r.guest_phys_addr = range.last + 1 - 4096;
		r.memory_size = 8192;
		EXPECT_EQ(-EINVAL, set_table(self->fd, 1, &r));
	}
	r.memory_size = 4096;
	r.guest_phys_addr = 1ULL << 57;
	EXPECT_EQ(-EINVAL, set_table(self->fd, 1, &r));
	EXPECT_FALSE(dmesg_has("not sufficient")) TH_LOG("%s", out);
	/* Just below the MSI window is fine. */
	r.guest_phys_addr = 0xfedff000;
	EXPECT_EQ(0, set_table(self->fd, 1, &r));
}

/* Features, queue 0 of 64 entries at @gpa, then DRIVER_OK. */
static int run_with_rings_at(int fd, __u64 gpa)
{
	__u64 f = 1ULL << VIRTIO_F_VERSION_1;
	int ret;

	ret = set_status(fd, 0);
	if (!ret)
		ret = ioctl(fd, VHOST_SET_FEATURES, &f) ? -errno : 0;
	if (!ret)
		ret = set_status(fd, S_FEAT);
	if (!ret)
		ret = vring(fd, VHOST_SET_VRING_NUM, 0, 64);
	if (!ret)
		ret = vring_addr(fd, 0, gpa, gpa + 4096, gpa + 8192);
	if (!ret)
		ret = vring(fd, VHOST_VDPA_SET_VRING_ENABLE, 0, 1);
	if (!ret)
		ret = set_status(fd, S_FEAT | VIRTIO_CONFIG_S_DRIVER_OK);
	return ret;
}

#define GPA_B	(GPA + 0x1000000ULL)

/*
 * A new table that fails leaves the old one as it was: nothing of the new
 * one stays pinned or mapped, and rings in it do not start.
 */
TEST_F(dp, mem_table_all_or_nothing)
{
	struct vhost_memory_region a = self->r, bc[2];
	long lck = npa_status_kb("VmLck:"), pin = npa_status_kb("VmPin:");

	a.memory_size = MEMSZ / 2;
	bc[0].guest_phys_addr = GPA_B;
	bc[0].memory_size = MEMSZ / 2;
	bc[0].userspace_addr = (uintptr_t)self->mem + MEMSZ / 2;
	bc[1].guest_phys_addr = GPA_B + MEMSZ;
	bc[1].memory_size = 4096;
	bc[1].userspace_addr = 0x10000;	/* not the process's memory */

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, set_table(self->fd, 1, &a));
	EXPECT_EQ(-EFAULT, set_table(self->fd, 2, bc));
	EXPECT_EQ(lck, npa_status_kb("VmLck:"));
	EXPECT_EQ(pin + (long)(MEMSZ >> 11), npa_status_kb("VmPin:"));
	EXPECT_EQ(-EINVAL, run_with_rings_at(self->fd, GPA_B));
	/* The old table stands: rings in A start. */
	EXPECT_EQ(0, run_with_rings_at(self->fd, GPA));
	EXPECT_EQ(0, set_status(self->fd, 0));

	/* Same with B replacing A. */
	bc[0].guest_phys_addr = GPA;
	EXPECT_EQ(-EFAULT, set_table(self->fd, 2, bc));
	EXPECT_EQ(pin + (long)(MEMSZ >> 11), npa_status_kb("VmPin:"));
	EXPECT_EQ(0, run_with_rings_at(self->fd, GPA));
}

/*
 * While the device runs, the regions it may use stay: removing or replacing
 * one is refused, adding one is not.
 */
TEST_F(dp, mem_table_busy_while_running)
{
	struct vhost_memory_region ab[2] = { self->r, self->r };
	long pin = npa_status_kb("VmPin:");

	ab[0].memory_size = MEMSZ / 2;
	ab[1].guest_phys_addr = GPA_B;
	ab[1].memory_size = MEMSZ / 2;
	ab[1].userspace_addr = (uintptr_t)self->mem + MEMSZ / 2;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, set_table(self->fd, 1, ab));
	ASSERT_EQ(0, run_with_rings_at(self->fd, GPA));
	EXPECT_EQ(-EBUSY, set_table(self->fd, 0, ab));
	EXPECT_EQ(-EBUSY, set_table(self->fd, 1, &self->r));	/* replaced */
	EXPECT_EQ(-EBUSY, set_table(self->fd, 1, &ab[1]));
	EXPECT_EQ(pin + (long)(MEMSZ >> 11), npa_status_kb("VmPin:"));
	EXPECT_EQ(0, set_table(self->fd, 2, ab));		/* added */
	EXPECT_EQ(pin + (long)(MEMSZ >> 10), npa_status_kb("VmPin:"));
	EXPECT_EQ(0, set_table(self->fd, 2, ab));		/* the same */
	/* Stopped, the table is the VMM's again. */
	ASSERT_EQ(0, set_status(self->fd, 0));
	EXPECT_EQ(0, set_table(self->fd, 1, &ab[1]));
	EXPECT_EQ(pin + (long)(MEMSZ >> 11), npa_status_kb("VmPin:"));
	EXPECT_EQ(0, set_table(self->fd, 0, ab));
	EXPECT_EQ(pin, npa_status_kb("VmPin:"));
}

TEST_F(dp, state_machine)
{
	__u64 f = 1ULL << VIRTIO_F_VERSION_1;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	EXPECT_EQ(-EINVAL, set_status(self->fd, S_FEAT));	/* no features */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &f));
	EXPECT_EQ(-EINVAL, set_status(self->fd, VIRTIO_CONFIG_S_DRIVER_OK));
	ASSERT_EQ(0, set_status(self->fd, S_FEAT));
	/* DRIVER_OK needs a memory table... */
	EXPECT_EQ(-EINVAL, set_status(self->fd, S_FEAT | VIRTIO_CONFIG_S_DRIVER_OK));
	ASSERT_EQ(0, set_table(self->fd, 1, &self->r));
	/* ...and an enabled queue whose rings are inside it. */
	ASSERT_EQ(0, vring(self->fd, VHOST_SET_VRING_NUM, 0, 64));
	ASSERT_EQ(0, vring_addr(self->fd, 0, GPA + MEMSZ, GPA, GPA + 4096));
	ASSERT_EQ(0, vring(self->fd, VHOST_VDPA_SET_VRING_ENABLE, 0, 1));
	EXPECT_EQ(-EINVAL, set_status(self->fd, S_FEAT | VIRTIO_CONFIG_S_DRIVER_OK));
	ASSERT_EQ(0, vring_addr(self->fd, 0, GPA, GPA + 4096, GPA + 8192));
	ASSERT_EQ(0, set_status(self->fd, S_FEAT | VIRTIO_CONFIG_S_DRIVER_OK));

	/*
	 * Running: the queue cannot be reprogrammed (the same ring addresses
	 * are taken: only the used ring's log flag may change, as vhost
	 * allows), features but VHOST_F_LOG_ALL not changed, bits not
	 * dropped.
	 */
	EXPECT_EQ(-EBUSY, vring_addr(self->fd, 0, GPA + 16384, GPA + 4096, GPA + 8192));
	EXPECT_EQ(-EBUSY, vring_addr(self->fd, 0, GPA, GPA + 4096, GPA + 12288));
	EXPECT_EQ(0, vring_addr(self->fd, 0, GPA, GPA + 4096, GPA + 8192));
	EXPECT_EQ(-EBUSY, vring(self->fd, VHOST_SET_VRING_NUM, 0, 64));
	f |= 1ULL << VIRTIO_F_ACCESS_PLATFORM;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_FEATURES, &f));
	EXPECT_EQ(EBUSY, errno);
	f = 1ULL << VIRTIO_F_VERSION_1;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_FEATURES, &f));
	EXPECT_EQ(-EINVAL, set_status(self->fd, VIRTIO_CONFIG_S_DRIVER_OK));

	/* A reset makes it configurable again. */
	ASSERT_EQ(0, set_status(self->fd, 0));
	EXPECT_EQ(0, vring(self->fd, VHOST_SET_VRING_NUM, 0, 64));
}

struct hammer {
	int fd;
	const struct vhost_memory_region *r;
	bool stop;
	long errors;
};

static void *hammer_table(void *arg)
{
	struct hammer *h = arg;
	struct vhost_memory_region half = *h->r;
	int i;

	half.memory_size /= 2;
	for (i = 0; !__atomic_load_n(&h->stop, __ATOMIC_RELAXED); i++)
		if (set_table(h->fd, 1, i & 1 ? &half : h->r))
			h->errors++;
	return NULL;
}

/* Requests from two threads at once are serialised. */
TEST_F(dp, concurrent_requests)
{
	struct hammer h = { .fd = self->fd, .r = &self->r };
	long lck = npa_status_kb("VmLck:"), pin = npa_status_kb("VmPin:");
	pthread_t t;
	__u64 f;
	int i;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, pthread_create(&t, NULL, hammer_table, &h));
	for (i = 0; i < 2000; i++) {
		ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &f));
		ASSERT_EQ(0, vring(self->fd, VHOST_SET_VRING_NUM, i % 2, 64));
		ASSERT_EQ(0, vring(self->fd, VHOST_GET_VRING_BASE, 0, 0));
	}
	__atomic_store_n(&h.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	EXPECT_EQ(0, h.errors);
	ASSERT_EQ(0, set_table(self->fd, 1, &self->r));
	EXPECT_EQ(lck, npa_status_kb("VmLck:"));
	EXPECT_EQ(pin + (long)(MEMSZ >> 10), npa_status_kb("VmPin:"));
}

/*
 * A descriptor pointing outside the memory table: the VF's DMA faults in
 * the IOMMU (it never reaches host memory), or the parent's own
 * translation finds no mapping (vdpa_sim: no IOMMU is involved, the
 * simulator reads nothing and completes the descriptor); the host stays
 * up, and after a reset the mdev works again.
 */
TEST_F_TIMEOUT(dp, descriptor_outside_memory, 120)
{
	__u64 one = 1;
	struct npa_dev d;
	struct npa_vq *tx;
	__u16 id;
	int i;

	vfio_close(&self->v);
	self->v.device = -1;
	sh("dmesg -C");
	ASSERT_EQ(0, npa_open(&d, self->uuid));
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_EVENTFD));
	tx = &d.vq[NPA_TXQ];
	id = tx->avail_idx % NPA_QSIZE;
	tx->desc[id].addr = 0x7f000000;	/* not in the memory table */
	tx->desc[id].len = 100;
	tx->desc[id].flags = 0;
	tx->avail->ring[id] = id;
	__atomic_store_n(&tx->avail->idx, ++tx->avail_idx, __ATOMIC_RELEASE);
	ASSERT_EQ(8, write(tx->kick_fd, &one, 8));
	for (i = 0; i < 50; i++) {
		usleep(100000);
		sh("dmesg");
		if (strstr(out, "fault addr 0x7f000000"))
			break;
	}
	if (variant->fam->iommu) {
		EXPECT_NE(NULL, strstr(out, "fault addr 0x7f000000"))
			TH_LOG("no IOMMU fault for the stray descriptor:\n%s",
			       out);
	} else {
		EXPECT_EQ(NULL, strstr(out, "fault addr")) TH_LOG("%s", out);
	}
	npa_close(&d);

	/* Reset by the next user, the mdev moves frames again. */
	EXPECT_EQ(0, move_frames(variant->fam, self->uuid, 0, 100))
		TH_LOG("%s", out);
}

/*
 * KVM may post a queue's interrupts while the device runs, when the
 * parent names the queue's IRQ: npa_vf from its probe on, vp_vdpa only
 * once it has DRIVER_OK (and until its reset).  vdpa_sim has no IRQs.
 */
TEST_F(dp, irq_bypass_while_running)
{
	struct npa_dev d;

	vfio_close(&self->v);
	self->v.device = -1;
	ASSERT_EQ(0, npa_open(&d, self->uuid));
	EXPECT_EQ(0, mdev_counter(self->uuid, "irq_bypass"));
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_EVENTFD));
	EXPECT_EQ(variant->fam->irqs ? 2 : 0,
		  mdev_counter(self->uuid, "irq_bypass"));
	ASSERT_EQ(0, set_status(d.device, 0));
	EXPECT_EQ(0, mdev_counter(self->uuid, "irq_bypass"));
	npa_close(&d);
}

static int vring_base(int fd, __u32 idx)
{
	struct vhost_vring_state st = { .index = idx };

	return ioctl(fd, VHOST_GET_VRING_BASE, &st) ? -errno : (int)st.num;
}

/*
 * Where a ring stands survives a reset: a VMM that stops the device (VM
 * stop, migration) reads the used index the VF reached, and may restart
 * the ring there (the VF in relay mode: relay tests below).
 */
TEST_F_TIMEOUT(dp, vring_base_after_reset, 120)
{
	static const __u8 frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const __u8 *frames[16];
	size_t lens[16];
	struct npa_dev d;
	struct vfio v;
	int i;

	vfio_close(&self->v);
	self->v.device = -1;
	ASSERT_EQ(0, npa_open(&d, self->uuid));
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_EVENTFD));
	for (i = 0; i < 16; i++) {
		frames[i] = frame;
		lens[i] = sizeof(frame);
	}
	ASSERT_EQ(0, npa_tx_burst(&d, frames, lens, 16));
	for (i = 0; i < 100 && vring_base(d.device, NPA_TXQ) != 16; i++)
		usleep(50000);
	ASSERT_EQ(16, vring_base(d.device, NPA_TXQ));

	ASSERT_EQ(0, set_status(d.device, 0));
	EXPECT_EQ(16, vring_base(d.device, NPA_TXQ));
	EXPECT_EQ(0, vring(d.device, VHOST_SET_VRING_BASE, NPA_TXQ, 16));
	EXPECT_EQ(16, vring_base(d.device, NPA_TXQ));
	EXPECT_EQ(-EINVAL, vring(d.device, VHOST_SET_VRING_BASE, NPA_TXQ, 65536));
	EXPECT_EQ(0, vring(d.device, VHOST_SET_VRING_BASE, NPA_TXQ, 0));
	npa_close(&d);

	/* The next user finds a device just opened. */
	ASSERT_EQ(0, vfio_open(self->uuid, &v));
	ASSERT_EQ(0, ioctl(v.device, VHOST_SET_OWNER));
	EXPECT_EQ(0, vring_base(v.device, NPA_TXQ));
	vfio_close(&v);
}

/*
 * VHOST_SET_LOG_BASE: an unaligned base, or one whose bitmap over the memory
 * table is not writable memory, is refused; the last good one stands.
 */
TEST_F(dp, log_base_bad_input)
{
	size_t bytes = (GPA + MEMSZ) / 4096 / 8;
	size_t mapped = (bytes + 4095) & ~4095UL;
	__u64 base, features;
	__u8 *log, *ro;

	ASSERT_EQ(0, ioctl(self->fd, VHOST_GET_FEATURES, &features));
	EXPECT_TRUE(!!(features & (1ULL << VHOST_F_LOG_ALL)));
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER));
	ASSERT_EQ(0, set_table(self->fd, 1, &self->r));
	log = mmap(NULL, mapped + 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(NULL, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, log);
	ASSERT_NE(MAP_FAILED, ro);
	/* A hole after the log: a bitmap 8 bytes further does not fit. */
	ASSERT_EQ(0, munmap(log + mapped, 4096));

	base = (uintptr_t)log + 4;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_LOG_BASE, &base));
	EXPECT_EQ(EINVAL, errno);
	base = (uintptr_t)log + mapped - bytes + 8;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_LOG_BASE, &base));
	EXPECT_EQ(EFAULT, errno);
	base = (uintptr_t)ro;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_LOG_BASE, &base));
	EXPECT_EQ(EFAULT, errno);
	base = -4096ULL;
	EXPECT_EQ(-1, ioctl(self->fd, VHOST_SET_LOG_BASE, &base));
	EXPECT_EQ(EFAULT, errno);
	base = (uintptr_t)log + mapped - bytes;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_LOG_BASE, &base));
	base = 0;
	EXPECT_EQ(0, ioctl(self->fd, VHOST_SET_LOG_BASE, &base));
	munmap(log, mapped);
	munmap(ro, bytes);
}

/* Relay mode: the guest's chain at TX head @id as @set left it, kicked. */
static void relay_bad_chain(struct __test_metadata *_metadata,
			    const char *uuid, const char *expect,
			    void (*set)(struct npa_vq *tx, __u16 id))
{
	__u64 one = 1;
	struct npa_dev d;
	struct npa_vq *tx;
	__u16 id;
	int i;

	sh("dmesg -C");
	ASSERT_EQ(0, npa_open(&d, uuid));
	d.log_all = true;
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_EVENTFD));
	tx = &d.vq[NPA_TXQ];
	id = tx->avail_idx % NPA_QSIZE;
	set(tx, id);
	tx->avail->ring[id] = id;
	__atomic_store_n(&tx->avail->idx, ++tx->avail_idx, __ATOMIC_RELEASE);
	ASSERT_EQ(8, write(tx->kick_fd, &one, 8));
	for (i = 0; i < 50 && !dmesg_has(expect); i++)
		usleep(100000);
	EXPECT_TRUE(dmesg_has(expect)) TH_LOG("no \"%s\" in dmesg", expect);
	/* Nothing went to the device, nothing came back. */
	EXPECT_EQ(0, vring_base(d.device, NPA_TXQ));
	npa_close(&d);
	EXPECT_TRUE(host_healthy());
}

static void chain_loop(struct npa_vq *tx, __u16 id)
{
	tx->desc[id].addr = tx->buf_gpa;
	tx->desc[id].len = 64;
	tx->desc[id].flags = VRING_DESC_F_NEXT;
	tx->desc[id].next = id;
}

static void chain_outside(struct npa_vq *tx, __u16 id)
{
	tx->desc[id].addr = 0x7f000000;
	tx->desc[id].len = 100;
	tx->desc[id].flags = 0;
}

static void chain_next_out_of_table(struct npa_vq *tx, __u16 id)
{
	tx->desc[id].addr = tx->buf_gpa;
	tx->desc[id].len = 64;
	tx->desc[id].flags = VRING_DESC_F_NEXT;
	tx->desc[id].next = NPA_QSIZE;
}

static void chain_indirect_outside(struct npa_vq *tx, __u16 id)
{
	tx->desc[id].addr = 0x7f000000;
	tx->desc[id].len = 64;
	tx->desc[id].flags = VRING_DESC_F_INDIRECT;
}

/*
 * In relay mode npa reads the guest's chains itself: a loop, a buffer or
 * an indirect table outside the memory table, a next index out of the
 * table stop the queue with a message; the host stays up and the next
 * user of the mdev moves frames.
 */
TEST_F_TIMEOUT(dp, relay_bad_chains, 120)
{
	vfio_close(&self->v);
	self->v.device = -1;
	relay_bad_chain(_metadata, self->uuid,
			"descriptor loop or chain longer than the ring",
			chain_loop);
	relay_bad_chain(_metadata, self->uuid,
			"buffer outside the memory table", chain_outside);
	relay_bad_chain(_metadata, self->uuid,
			"descriptor index out of its table",
			chain_next_out_of_table);
	relay_bad_chain(_metadata, self->uuid, "bad indirect table",
			chain_indirect_outside);
	EXPECT_EQ(0, move_frames(variant->fam, self->uuid, 0, 100))
		TH_LOG("%s", out);
}

/* Reset, then start both queues again, the TX ring at index @txbase. */
static int restart_at(struct npa_dev *d, __u16 txbase)
{
	__u64 f = d->features & ((1ULL << VIRTIO_F_VERSION_1) |
				 (1ULL << VIRTIO_F_ACCESS_PLATFORM));
	int q, ret;

	ret = set_status(d->device, 0);
	if (!ret)
		ret = ioctl(d->device, VHOST_SET_FEATURES, &f) ? -errno : 0;
	if (!ret)
		ret = set_status(d->device, S_FEAT);
	for (q = 0; q < NPA_NQ && !ret; q++) {
		ret = vring(d->device, VHOST_SET_VRING_NUM, q, NPA_QSIZE);
		if (!ret)
			ret = vring_addr(d->device, q, d->vq[q].desc_gpa,
					 d->vq[q].avail_gpa, d->vq[q].used_gpa);
		if (!ret)
			ret = vring(d->device, VHOST_SET_VRING_BASE, q,
				    q == NPA_TXQ ? txbase : 0);
		if (!ret)
			ret = vring(d->device, VHOST_VDPA_SET_VRING_ENABLE, q, 1);
	}
	if (!ret)
		ret = set_status(d->device, S_FEAT | VIRTIO_CONFIG_S_DRIVER_OK);
	return ret;
}

/* Does a store to queue @q's mapped doorbell go through (or SIGBUS)? */
static bool doorbell_works(struct npa_dev *d, int q)
{
	int status;
	pid_t pid = fork();

	if (!pid) {
		__atomic_store_n(d->vq[q].doorbell, q, __ATOMIC_RELEASE);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

/*
 * A queue that enters relay mode loses its doorbell mapping (a store there
 * faults), the other queue keeps its own; mapping a relaying queue's
 * doorbell is refused; back in direct mode the mapping works again.
 */
TEST_F_TIMEOUT(dp, doorbell_revoked_while_relaying, 120)
{
	struct npa_dev d;
	void *p;

	vfio_close(&self->v);
	self->v.device = -1;
	ASSERT_EQ(0, npa_open(&d, self->uuid));
	if (!variant->fam->doorbell_mmap) {
		/* No doorbell page to revoke. */
		EXPECT_EQ(-EOPNOTSUPP, npa_start(&d, NPA_KICK_MMAP));
		npa_close(&d);
		return;
	}
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_MMAP));
	EXPECT_TRUE(doorbell_works(&d, NPA_TXQ));

	/* The VF cannot start a ring at 5: the TX queue relays. */
	ASSERT_EQ(0, restart_at(&d, 5));
	EXPECT_FALSE(doorbell_works(&d, NPA_TXQ));
	EXPECT_TRUE(doorbell_works(&d, NPA_RXQ));
	p = mmap(NULL, 4096, PROT_WRITE, MAP_SHARED, d.device,
		 d.notify_offset + NPA_TXQ * 4096);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(5, vring_base(d.device, NPA_TXQ));

	ASSERT_EQ(0, restart_at(&d, 0));
	EXPECT_TRUE(doorbell_works(&d, NPA_TXQ));
	npa_close(&d);

	/* With the dirty log negotiated, no doorbell can be mapped. */
	ASSERT_EQ(0, npa_open(&d, self->uuid));
	d.log_all = true;
	EXPECT_NE(0, npa_start(&d, NPA_KICK_MMAP));
	npa_close(&d);
}

/*
 * In relay mode, where each ring stands comes from npa's relay, not from
 * guest memory: the guest scribbling over its used index changes nothing.
 */
TEST_F_TIMEOUT(dp, vring_base_from_relay, 120)
{
	static const __u8 frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const __u8 *frames[16];
	size_t lens[16];
	struct npa_dev d;
	int i;

	vfio_close(&self->v);
	self->v.device = -1;
	ASSERT_EQ(0, npa_open(&d, self->uuid));
	d.log_all = true;
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_EVENTFD));
	for (i = 0; i < 16; i++) {
		frames[i] = frame;
		lens[i] = sizeof(frame);
	}
	ASSERT_EQ(0, npa_tx_burst(&d, frames, lens, 16));
	for (i = 0; i < 100 && vring_base(d.device, NPA_TXQ) != 16; i++)
		usleep(50000);
	ASSERT_EQ(16, vring_base(d.device, NPA_TXQ));
	EXPECT_EQ(16, __atomic_load_n(&d.vq[NPA_TXQ].used->idx, __ATOMIC_ACQUIRE));
	d.vq[NPA_TXQ].used->idx = 1000;
	EXPECT_EQ(16, vring_base(d.device, NPA_TXQ));
	ASSERT_EQ(0, set_status(d.device, 0));
	EXPECT_EQ(16, vring_base(d.device, NPA_TXQ));
	npa_close(&d);
}

/* Whether the call eventfd @fd fires within @secs; consumes the signal. */
static bool called(int fd, int secs)
{
	__u64 n;

	return readable(fd, secs) && read(fd, &n, sizeof(n)) == sizeof(n);
}

/* Wait up to 5 s for the device to have used the ring up to @idx. */
static bool used_up_to(struct npa_vq *vq, __u16 idx)
{
	int i;

	for (i = 0; i < 100; i++) {
		if (__atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE) == idx)
			return true;
		usleep(50000);
	}
	return false;
}

/*
 * A ring that resumes in relay mode at index 1000, as on a migration's
 * destination, behind a guest whose used event points before it (the
 * source published its last used entries as it stopped, and the guest
 * waits for a signal past them): the relay's first signal is never
 * suppressed, as vhost's is not; after it the used event holds again.
 * Before, the guest's NIC went deaf after a migration or a stop and cont.
 */
TEST_F_TIMEOUT(dp, relay_signals_after_resume, 120)
{
	static const __u8 frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const __u8 *frames[1] = { frame };
	size_t lens[1] = { sizeof(frame) };
	struct npa_vq *tx;
	struct npa_dev d;

	vfio_close(&self->v);
	self->v.device = -1;
	ASSERT_EQ(0, npa_open(&d, self->uuid));
	if (!(d.features & (1ULL << VIRTIO_RING_F_EVENT_IDX))) {
		npa_close(&d);
		SKIP(return, "%s offers no VIRTIO_RING_F_EVENT_IDX",
		     variant->fam->name);
	}
	d.log_all = true;
	d.base = 1000;
	d.event_idx = true;
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_EVENTFD));
	tx = &d.vq[NPA_TXQ];
	tx->avail->ring[NPA_QSIZE] = 990;
	called(tx->call_fd, 0);

	ASSERT_EQ(0, npa_tx_burst(&d, frames, lens, 1));
	ASSERT_TRUE(used_up_to(tx, 1001));
	EXPECT_TRUE(called(tx->call_fd, 5));

	ASSERT_EQ(0, npa_tx_burst(&d, frames, lens, 1));
	ASSERT_TRUE(used_up_to(tx, 1002));
	EXPECT_FALSE(called(tx->call_fd, 1));

	__atomic_store_n(&tx->avail->ring[NPA_QSIZE], 1002, __ATOMIC_SEQ_CST);
	ASSERT_EQ(0, npa_tx_burst(&d, frames, lens, 1));
	ASSERT_TRUE(used_up_to(tx, 1003));
	EXPECT_TRUE(called(tx->call_fd, 5));
	npa_close(&d);
}

/* The VMM dies mid-transfer: everything pinned is released. */
TEST_F_TIMEOUT(dp, vmm_killed, 120)
{
	long pins = pinned_pages();
	pid_t pid;
	int i;

	vfio_close(&self->v);
	self->v.device = -1;
	pid = fork();
	if (!pid) {
		execl("tools/npa/npa-pkt", "npa-pkt", "-u", self->uuid, "-i",
		      "0", "-n", "1000000", "-s", "64",
		      variant->fam->wire ? "tx" : "loop", NULL);
		_exit(127);
	}
	/* Wait until it has pinned its memory, then kill it. */
	for (i = 0; i < 100 && pinned_pages() == pins; i++)
		usleep(50000);
	EXPECT_LT(pins, pinned_pages());
	usleep(300000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	EXPECT_GE(pins, pinned_pages());
	EXPECT_EQ(0, move_frames(variant->fam, self->uuid, 0, 100))
		TH_LOG("%s", out);
}

/*
 * A forked child becomes the owner, pins 8 MiB of its own memory, sets a
 * call eventfd and features, and dies while its parent still holds the fd.
 * The child's exit status says which step failed.
 */
#define OWNER_MEMSZ	(8UL << 20)

static int own_pin_and_exit(int fd)
{
	struct vhost_memory_region r = {
		.guest_phys_addr = GPA, .memory_size = OWNER_MEMSZ,
	};
	__s32 call = eventfd(0, EFD_CLOEXEC);
	__u64 f = 1ULL << VIRTIO_F_VERSION_1;
	void *mem;

	mem = mmap(NULL, OWNER_MEMSZ, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED || call < 0)
		return 10;
	r.userspace_addr = (uintptr_t)mem;
	if (ioctl(fd, VHOST_SET_OWNER))
		return 11;
	if (set_table(fd, 1, &r))
		return 12;
	if (npa_status_kb("VmPin:") != (long)(OWNER_MEMSZ >> 10))
		return 13;
	if (ioctl(fd, VHOST_SET_FEATURES, &f) || set_status(fd, S_FEAT))
		return 14;
	if (set_irqs(fd, EVENTFDS, VHOST_NPA_VQ_IRQ_INDEX, 0, 1, &call))
		return 15;
	return 0;
}

/*
 * The owner's death releases the device even while another process holds
 * the fd (docs/uapi.md, Closing): what it pinned is unpinned, the device is
 * reset, and the holder becomes the owner of a device just opened, which
 * moves frames.
 */
TEST_F_TIMEOUT(dp, owner_death_releases, 120)
{
	static const __u8 frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const __u8 *frames[16];
	long pins = pinned_pages();
	size_t lens[16];
	struct npa_dev d;
	__u8 status;
	pid_t pid;
	int st, i;

	pid = fork();
	if (!pid)
		_exit(own_pin_and_exit(self->fd));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("the child failed at step %d",
					     WEXITSTATUS(st));

	/* Nothing the dead owner pinned stays pinned; its device is reset. */
	EXPECT_GE(pins, pinned_pages());
	ASSERT_EQ(0, ioctl(self->fd, VHOST_VDPA_GET_STATUS, &status));
	EXPECT_EQ(0, status);

	/* The holder becomes the owner of a device just opened. */
	ASSERT_EQ(0, ioctl(self->fd, VHOST_SET_OWNER))
		TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, vring_base(self->fd, NPA_TXQ));
	memset(&d, 0, sizeof(d));
	d.container = self->v.container;
	d.group = self->v.group;
	d.device = self->fd;
	d.config_fd = -1;
	ASSERT_EQ(0, npa_identify(&d));
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_EVENTFD));
	for (i = 0; i < 16; i++) {
		frames[i] = frame;
		lens[i] = sizeof(frame);
	}
	ASSERT_EQ(0, npa_tx_burst(&d, frames, lens, 16));
	for (i = 0; i < 100 && vring_base(d.device, NPA_TXQ) != 16; i++)
		usleep(50000);
	EXPECT_EQ(16, vring_base(d.device, NPA_TXQ));
	npa_close(&d);
	self->v.device = -1;
	EXPECT_GE(pins, pinned_pages());
}

/*
 * The memory table names the owner's memory, never a device's: a region
 * over the mmapped doorbells cannot be pinned, and the running device goes
 * on as it was.
 */
TEST_F_TIMEOUT(dp, doorbell_not_guest_memory, 120)
{
	static const __u8 frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const __u8 *frames[1] = { frame };
	size_t lens[1] = { sizeof(frame) };
	struct vhost_memory_region r[2];
	struct npa_dev d;
	long pins;
	int i;

	vfio_close(&self->v);
	self->v.device = -1;
	ASSERT_EQ(0, npa_open(&d, self->uuid));
	if (!variant->fam->doorbell_mmap) {
		/* No doorbell page to map, so none to name in the table. */
		EXPECT_EQ(-EOPNOTSUPP, npa_start(&d, NPA_KICK_MMAP));
		npa_close(&d);
		return;
	}
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_MMAP));
	pins = pinned_pages();
	r[0].guest_phys_addr = d.mem_gpa;
	r[0].memory_size = d.mem_size;
	r[0].userspace_addr = (uintptr_t)d.mem;
	r[1].guest_phys_addr = d.mem_gpa + 0x1000000;
	r[1].memory_size = NPA_NQ * 4096;
	r[1].userspace_addr = (uintptr_t)d.doorbells;
	EXPECT_EQ(-EFAULT, set_table(d.device, 2, r));
	EXPECT_EQ(pins, pinned_pages());

	ASSERT_EQ(0, npa_tx_burst(&d, frames, lens, 1));
	for (i = 0; i < 100 && vring_base(d.device, NPA_TXQ) != 1; i++)
		usleep(50000);
	EXPECT_EQ(1, vring_base(d.device, NPA_TXQ));
	npa_close(&d);
}

/*
 * A misbehaving guest, played by libnpa on VF 0's mdev, while a well-behaved
 * one (npa-pkt) moves frames on VF 1's: the host stays up, the IOMMU stops
 * DMA outside the memory table, the other guest's frames all arrive, and
 * the misbehaving guest's mdev works again for its next user.
 */
FIXTURE(misbehave) {
	char bdf[2][16];
	char parent[2][PARENT_LEN];
	char uuid[2][40];
};

FIXTURE_VARIANT(misbehave) {
	__u64 addr;		/* the descriptor's address; 0: its buffer */
	__u32 len;		/* its length */
	__u16 ahead;		/* avail->idx this far past the entry */
	bool overlap;		/* the used ring over the avail ring */
	bool broken;		/* the lab's VF gives up: NEEDS_RESET */
	const char *fault;	/* what the IOMMU logs */
};

/*
 * What the lab's VF (QEMU's virtio-net) does with each: it reads a buffer
 * the IOMMU refuses as all ones (the fault is logged) and sends that; it
 * takes entries one at a time without checking how far the avail index
 * moved; a buffer of 0 bytes, or one running past the memory table, makes
 * it give up on the device (virtio_error(): NEEDS_RESET).
 */
FIXTURE_VARIANT_ADD(misbehave, descriptor_outside_memory) {
	.addr = 0x7f000000, .len = 100, .fault = "fault addr 0x7f000000",
};

FIXTURE_VARIANT_ADD(misbehave, length_0) {
	.len = 0, .broken = true,
};

FIXTURE_VARIANT_ADD(misbehave, length_4g) {
	.len = 0xffffffff, .broken = true, .fault = "fault addr 0x40200000",
};

FIXTURE_VARIANT_ADD(misbehave, avail_index_far_ahead) {
	.len = 100, .ahead = 1000,
};

FIXTURE_VARIANT_ADD(misbehave, rings_overlap) {
	.len = 100, .overlap = true,
};

FIXTURE_SETUP(misbehave)
{
	int i;

	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, vf_bdf(i, self->bdf[i]));
		ASSERT_EQ(0, bind_vf(self->bdf[i], "", self->parent[i]))
			TH_LOG("%s", out);
		new_uuid(self->uuid[i]);
		ASSERT_EQ(0, create_mdev(self->parent[i], self->uuid[i]));
	}
}

FIXTURE_TEARDOWN(misbehave)
{
	int i;

	for (i = 0; i < 2; i++)
		if (exists(MDEV_DEVICES "/%s", self->uuid[i]))
			remove_mdev(self->uuid[i]);
	EXPECT_TRUE(host_healthy()) TH_LOG("the kernel was tainted: see dmesg");
}

/*
 * Restart the device with the transmit queue's used ring over its avail
 * ring: the device's writes land on what the driver wrote.
 */
static int restart_overlapped(struct npa_dev *d)
{
	struct npa_vq *tx = &d->vq[NPA_TXQ], *rx = &d->vq[NPA_RXQ];
	__u64 f = d->features & ((1ULL << VIRTIO_F_VERSION_1) |
				 (1ULL << VIRTIO_F_ACCESS_PLATFORM));
	int ret, i;

	ret = set_status(d->device, 0);
	if (!ret)
		ret = ioctl(d->device, VHOST_SET_FEATURES, &f) ? -errno : 0;
	if (!ret)
		ret = set_status(d->device, S_FEAT);
	for (i = 0; !ret && i < NPA_NQ; i++)
		ret = vring(d->device, VHOST_SET_VRING_NUM, i, NPA_QSIZE);
	if (!ret)
		ret = vring_addr(d->device, NPA_RXQ, rx->desc_gpa,
				 rx->avail_gpa, rx->used_gpa);
	if (!ret)
		ret = vring_addr(d->device, NPA_TXQ, tx->desc_gpa,
				 tx->avail_gpa, tx->avail_gpa);
	for (i = 0; !ret && i < NPA_NQ; i++)
		ret = vring(d->device, VHOST_VDPA_SET_VRING_ENABLE, i, 1);
	if (!ret)
		ret = set_status(d->device,
				 S_FEAT | VIRTIO_CONFIG_S_DRIVER_OK);
	return ret;
}

TEST_F_TIMEOUT(misbehave, other_guest_unhurt, 240)
{
	struct npa_vq *tx;
	struct npa_dev d;
	char cmd[256];
	__u8 status = 0;
	__u64 one = 1;
	pid_t other;
	__u16 id;
	int i;

	sh("dmesg -C");
	ASSERT_EQ(0, npa_open(&d, self->uuid[0]));
	ASSERT_EQ(0, npa_start(&d, NPA_KICK_EVENTFD));
	tx = &d.vq[NPA_TXQ];
	if (variant->overlap)
		ASSERT_EQ(0, restart_overlapped(&d));

	snprintf(cmd, sizeof(cmd),
		 "exec tools/npa/npa-pkt -u %s -i 1 -n 2000 both >%s/other.log 2>&1",
		 self->uuid[1], getenv("NPA_OUT") ?: "/tmp");
	other = spawn(cmd);
	ASSERT_LT(0, other);
	sleep(1);

	/* One transmit descriptor as the variant writes it, then kick. */
	for (i = 0; i < (variant->overlap ? 8 : 1); i++) {
		id = tx->avail_idx % NPA_QSIZE;
		tx->desc[id].addr = variant->addr ?:
				    tx->buf_gpa + id * NPA_BUFSZ;
		tx->desc[id].len = variant->len;
		tx->desc[id].flags = 0;
		memset(tx->buf + id * NPA_BUFSZ, 0, NPA_HDRSZ + 60);
		tx->avail->ring[id] = id;
		tx->avail_idx += 1 + variant->ahead;
		__atomic_store_n(&tx->avail->idx, tx->avail_idx,
				 __ATOMIC_RELEASE);
		ASSERT_EQ(8, write(tx->kick_fd, &one, 8));
		usleep(100000);
	}
	/*
	 * The misdeed reached the device: QEMU's virtio-net, the lab's VF,
	 * stops the device and asks for a reset.
	 */
	for (i = 0; variant->broken && i < 50; i++) {
		ASSERT_EQ(0, ioctl(d.device, VHOST_VDPA_GET_STATUS, &status));
		if (status & VIRTIO_CONFIG_S_NEEDS_RESET)
			break;
		usleep(100000);
	}
	EXPECT_EQ(variant->broken, !!(status & VIRTIO_CONFIG_S_NEEDS_RESET))
		TH_LOG("device status 0x%x", status);
	/* Or it went on with the ring: its used index moved. */
	for (i = 0; !variant->broken && !variant->overlap && i < 50; i++) {
		if (vring_base(d.device, NPA_TXQ) > 0)
			break;
		usleep(100000);
	}
	if (!variant->broken && !variant->overlap)
		EXPECT_LT(0, vring_base(d.device, NPA_TXQ));
	if (variant->fault) {
		for (i = 0; i < 50; i++) {
			usleep(100000);
			sh("dmesg");
			if (strstr(out, variant->fault))
				break;
		}
		EXPECT_NE(NULL, strstr(out, variant->fault))
			TH_LOG("no IOMMU fault for the stray DMA:\n%s", out);
	}

	/* The other guest's frames all arrived, both ways. */
	EXPECT_EQ(0, reap(other, 180)) {
		sh("cat %s/other.log", getenv("NPA_OUT") ?: "/tmp");
		TH_LOG("%s", out);
	}
	EXPECT_TRUE(host_healthy()) TH_LOG("the kernel was tainted: see dmesg");
	npa_close(&d);

	/* Reset by its next user, the misbehaving guest's mdev works. */
	EXPECT_EQ(0, sh("tools/npa/npa-pkt -u %s -i 0 -n 100 both",
			self->uuid[0])) TH_LOG("%s", out);
}

/*
 * Frames through the VF, both ways, checked byte for byte by the peer; or
 * looped back by vdpa_sim_net and checked as they come back.
 */
FIXTURE(frames) {
	char bdf[16];
	char parent[PARENT_LEN];
	char uuid[40];
};

FIXTURE_VARIANT(frames) {
	const struct family *fam;
	const char *kick;
	int size;
};

/* The three ways to kick, on each family. */
FIXTURE_VARIANT_ADD(frames, npa_vf_kick_eventfd_1000) {
	.fam = &fam_npa_vf, .kick = "eventfd", .size = 1000,
};

FIXTURE_VARIANT_ADD(frames, npa_vf_doorbell_mmap_64) {
	.fam = &fam_npa_vf, .kick = "mmap", .size = 64,
};

FIXTURE_VARIANT_ADD(frames, npa_vf_doorbell_write_1400) {
	.fam = &fam_npa_vf, .kick = "write", .size = 1400,
};

FIXTURE_VARIANT_ADD(frames, vp_vdpa_kick_eventfd_1000) {
	.fam = &fam_vp_vdpa, .kick = "eventfd", .size = 1000,
};

FIXTURE_VARIANT_ADD(frames, vp_vdpa_doorbell_mmap_64) {
	.fam = &fam_vp_vdpa, .kick = "mmap", .size = 64,
};

FIXTURE_VARIANT_ADD(frames, vp_vdpa_doorbell_write_1400) {
	.fam = &fam_vp_vdpa, .kick = "write", .size = 1400,
};

FIXTURE_VARIANT_ADD(frames, vdpa_sim_kick_eventfd_1000) {
	.fam = &fam_vdpa_sim, .kick = "eventfd", .size = 1000,
};

FIXTURE_VARIANT_ADD(frames, vdpa_sim_doorbell_mmap_64) {
	.fam = &fam_vdpa_sim, .kick = "mmap", .size = 64,
};

FIXTURE_VARIANT_ADD(frames, vdpa_sim_doorbell_write_1400) {
	.fam = &fam_vdpa_sim, .kick = "write", .size = 1400,
};

FIXTURE_VARIANT_ADD(frames, vdpa_sim_map_kick_eventfd_1000) {
	.fam = &fam_vdpa_sim_map, .kick = "eventfd", .size = 1000,
};

FIXTURE_VARIANT_ADD(frames, vdpa_sim_map_doorbell_mmap_64) {
	.fam = &fam_vdpa_sim_map, .kick = "mmap", .size = 64,
};

FIXTURE_VARIANT_ADD(frames, vdpa_sim_map_doorbell_write_1400) {
	.fam = &fam_vdpa_sim_map, .kick = "write", .size = 1400,
};

FIXTURE_SETUP(frames)
{
	ASSERT_EQ(0, mdevctl_on(variant->fam, 1, self->bdf, self->parent,
				self->uuid)) TH_LOG("%s", out);
}

FIXTURE_TEARDOWN(frames)
{
	sh("mdevctl stop -u %s", self->uuid);
	EXPECT_TRUE(host_healthy());
}

TEST_F_TIMEOUT(frames, both_ways, 120)
{
	long long host_kicks = mdev_counter(self->uuid, "host_kicks");
	long long host_calls = mdev_counter(self->uuid, "host_calls");
	unsigned long long kicks, calls;
	char *p;
	int n;

	const char *mode = variant->fam->wire ? "both" : "loop";

	ASSERT_LE(0, host_kicks);
	ASSERT_LE(0, host_calls);
	if (!strcmp(variant->kick, "mmap") && !variant->fam->doorbell_mmap) {
		/* No doorbell pages to map: refused, nothing moves. */
		EXPECT_NE(0, sh("tools/npa/npa-pkt -u %s -i 1 -k mmap -n 1 %s",
				self->uuid, mode));
		EXPECT_NE(NULL, strstr(out, "doorbells are not mmappable"))
			TH_LOG("%s", out);
		return;
	}
	ASSERT_EQ(0, sh("tools/npa/npa-pkt -u %s -i 1 -k %s -n 500 -s %d %s",
			self->uuid, variant->kick, variant->size, mode))
		TH_LOG("%s", out);
	TH_LOG("%s", out);
	if (variant->fam->wire) {
		EXPECT_NE(NULL, strstr(out, "peer received 500 datagrams"));
		EXPECT_NE(NULL, strstr(out, "500 of 500 payloads as sent"));
	} else {
		EXPECT_NE(NULL, strstr(out, "loop: 500 of 500 payloads as sent"));
	}
	p = strstr(out, "npa: ");
	ASSERT_NE(NULL, p);
	n = sscanf(p, "npa: %llu kicks, %llu call", &kicks, &calls);
	ASSERT_EQ(2, n);
	/*
	 * The device's interrupts reached the call eventfds (host_calls).
	 * npa-pkt reads one only when it waits for a frame, which it may
	 * never need with the simulator: it answers at once.
	 */
	if (variant->fam->wire)
		EXPECT_LT(0ULL, calls);
	EXPECT_LT(0ULL, kicks);
	EXPECT_LT(host_calls, mdev_counter(self->uuid, "host_calls"));
	/*
	 * Stores to the mmapped doorbell reach the VF without the host;
	 * eventfd and region kicks go through it.
	 */
	EXPECT_EQ(!strcmp(variant->kick, "mmap"),
		  host_kicks == mdev_counter(self->uuid, "host_kicks"));
}

/*
 * The VF's config change interrupt reaches the config eventfd.  vdpa_sim
 * has no config interrupt and its link is always up: the eventfd is set
 * all the same, and stays quiet.
 */
TEST_F_TIMEOUT(frames, link_change, 240)
{
	struct npa_dev d;

	if (!variant->fam->config_irq) {
		ASSERT_EQ(0, npa_open(&d, self->uuid));
		ASSERT_EQ(0, npa_start(&d, NPA_KICK_EVENTFD));
		EXPECT_EQ(0, npa_config_irq(&d));
		EXPECT_TRUE(npa_link_up(&d));
		EXPECT_FALSE(readable(d.config_fd, 0));
		npa_close(&d);
		return;
	}
	ASSERT_EQ(0, sh("tools/npa/npa-pkt -u %s -i 1 link", self->uuid))
		TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "link: down after a config interrupt"));
}

/*
 * Relay mode (npa_relay.c): the device runs on npa's shadow rings, npa
 * moves descriptors between them and the guest's.  On the generic VF,
 * whose rings start only at 0, and on vdpa_sim, which suspends and loads
 * ring state: the direct path of docs/migration.md's state machine.
 */
FIXTURE(relay) {
	char bdf[16];
	char parent[PARENT_LEN];
	char uuid[40];
	const char *mode;
};

FIXTURE_VARIANT(relay) {
	const struct family *fam;
};

FIXTURE_VARIANT_ADD(relay, npa_vf) {
	.fam = &fam_npa_vf,
};

FIXTURE_VARIANT_ADD(relay, vdpa_sim) {
	.fam = &fam_vdpa_sim,
};

FIXTURE_SETUP(relay)
{
	self->mode = variant->fam->wire ? "both" : "loop";
	ASSERT_EQ(0, mdevctl_on(variant->fam, 1, self->bdf, self->parent,
				self->uuid)) TH_LOG("%s", out);
}

FIXTURE_TEARDOWN(relay)
{
	sh("mdevctl stop -u %s", self->uuid);
	EXPECT_TRUE(host_healthy());
}

/* The payloads of npa-pkt's transfer all arrived as sent. */
static bool all_as_sent(const char *mode, int n)
{
	char want[64], peer[64];

	snprintf(want, sizeof(want), "%d of %d payloads as sent", n, n);
	if (!strcmp(mode, "loop"))
		return strstr(out, "loop: ") && strstr(out, want);
	snprintf(peer, sizeof(peer), "peer received %d datagrams", n);
	return strstr(out, want) && strstr(out, peer);
}

/*
 * With the dirty log on, frames go both ways, every payload accounted for,
 * and the log marks exactly the pages the device wrote: the receive
 * buffers up to their used length and the used rings, never a transmit
 * buffer, a descriptor table or an avail ring.
 */
TEST_F_TIMEOUT(relay, frames_and_dirty_log, 180)
{
	long long host_calls = mdev_counter(self->uuid, "host_calls");

	ASSERT_EQ(0, sh("tools/npa/npa-pkt -u %s -i 1 -l -n 500 -s 1000 %s",
			self->uuid, self->mode)) TH_LOG("%s", out);
	TH_LOG("%s", out);
	EXPECT_TRUE(all_as_sent(self->mode, 500));
	EXPECT_NE(NULL, strstr(out, "pages marked, 0 differ"));
	EXPECT_NE(NULL, strstr(out, "2 queues relaying"));
	/* Every interrupt goes through npa. */
	EXPECT_LT(host_calls, mdev_counter(self->uuid, "host_calls"));
}

/* Faults of one direction of a transfer, from npa-pkt's report. */
static int stream_faults(const char *dir, int *lost, int *dup)
{
	char key[16];
	int other[2];
	char *p;

	snprintf(key, sizeof(key), "%s: ", dir);
	for (p = strstr(out, key); p; p = strstr(p + 1, key))
		if (sscanf(p + strlen(key),
			   "%*d of %*d payloads as sent: %d lost, %d duplicated, %d reordered, %d corrupt",
			   lost, dup, &other[0], &other[1]) == 4)
			return other[0] + other[1];
	return -1;
}

/*
 * Dirty logging switched on a third of the way through each transfer and
 * off at two thirds: the device is stopped where it stands and restarted on
 * npa's shadow rings while frames flow, then, where the parent loads ring
 * state, on the guest's rings again (docs/migration.md).  Nothing is
 * duplicated; a frame lost is one in flight in a VF at the switch,
 * reported.
 */
TEST_F_TIMEOUT(relay, switch_under_traffic, 240)
{
	char relays[64];
	int lost, dup;

	sh("dmesg -C");
	sh("tools/npa/npa-pkt -u %s -i 1 -S -n 3000 -s 200 %s", self->uuid,
	   self->mode);
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "switch: dirty logging on"));
	EXPECT_NE(NULL, strstr(out, "switch: dirty logging off"));
	/* Logging off: back to direct mode only where ring state loads. */
	snprintf(relays, sizeof(relays), "frames, %d queues relaying",
		 variant->fam->ring_state ? 0 : 2);
	EXPECT_NE(NULL, strstr(strstr(out, "dirty logging off") ?: "", relays));
	if (!variant->fam->wire) {
		/* The simulator has nothing in flight: nothing may be lost. */
		ASSERT_EQ(0, stream_faults("loop", &lost, &dup));
		EXPECT_EQ(0, dup);
		EXPECT_EQ(0, lost);
		EXPECT_TRUE(all_as_sent(self->mode, 3000));
		return;
	}
	ASSERT_EQ(0, stream_faults("tx", &lost, &dup)) TH_LOG("no tx report");
	EXPECT_EQ(0, dup);
	EXPECT_GE(32, lost);
	TH_LOG("tx: %d frames lost at the switches", lost);
	ASSERT_EQ(0, stream_faults("rx", &lost, &dup)) TH_LOG("no rx report");
	EXPECT_EQ(0, dup);
	EXPECT_GE(64, lost);
	TH_LOG("rx: %d frames lost at the switches", lost);
	EXPECT_FALSE(dmesg_has("the relay stops"));
	EXPECT_FALSE(dmesg_has("did not restart"));
}

/* Kicks by doorbell region write reach the relay too. */
TEST_F_TIMEOUT(relay, region_write_kicks, 180)
{
	ASSERT_EQ(0, sh("tools/npa/npa-pkt -u %s -i 1 -l -k write -n 300 -s 64 %s",
			self->uuid, self->mode)) TH_LOG("%s", out);
	EXPECT_TRUE(all_as_sent(self->mode, 300));
	EXPECT_NE(NULL, strstr(out, "pages marked, 0 differ"));
}

/*
 * Rings that resume at a non-zero index (as after a migration), across
 * the 16-bit wrap too: on the device itself where the parent loads ring
 * state (set_vq_state), otherwise in relay mode from there.
 */
TEST_F_TIMEOUT(relay, resume_at_index, 180)
{
	const char *relays = variant->fam->ring_state ? "0 queues relaying" :
							"2 queues relaying";

	ASSERT_EQ(0, sh("tools/npa/npa-pkt -u %s -i 1 -b 1000 -n 300 -s 200 %s",
			self->uuid, self->mode)) TH_LOG("%s", out);
	EXPECT_TRUE(all_as_sent(self->mode, 300)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, relays)) TH_LOG("%s", out);
	ASSERT_EQ(0, sh("tools/npa/npa-pkt -u %s -i 1 -b 65400 -n 300 -s 200 %s",
			self->uuid, self->mode)) TH_LOG("%s", out);
	EXPECT_TRUE(all_as_sent(self->mode, 300)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, relays)) TH_LOG("%s", out);
	/* With the dirty log, every parent relays. */
	ASSERT_EQ(0, sh("tools/npa/npa-pkt -u %s -i 1 -b 65400 -l -n 300 -s 200 %s",
			self->uuid, self->mode)) TH_LOG("%s", out);
	EXPECT_TRUE(all_as_sent(self->mode, 300)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "pages marked, 0 differ"));
	EXPECT_NE(NULL, strstr(out, "2 queues relaying"));
	/* Back at 0, the device runs the guest's rings itself. */
	EXPECT_EQ(0, sh("tools/npa/npa-pkt -u %s -i 1 %s -n 100 %s", self->uuid,
			variant->fam->doorbell_mmap ? "-k mmap" : "",
			self->mode)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "0 queues relaying")) TH_LOG("%s", out);
}

/*
 * An unmodified guest on an npa mdev through QEMU's -netdev vhost-vfio
 * (qemu-patches/), on KVM inside the test host.  NPA_QEMU names the
 * patched QEMU; tools/lab/run-guest.sh boots the guest, which checks its
 * NIC against the peer (tools/lab/guest-init.sh).
 */
FIXTURE(guest) {
	char bdf[16];
	char parent[PARENT_LEN];
	char uuid[40];
	char nic[256];
	const char *qemu;
};

/* The families whose frames reach the wire, where the guest's peer is. */
FIXTURE_VARIANT(guest) {
	const struct family *fam;
};

FIXTURE_VARIANT_ADD(guest, npa_vf) {
	.fam = &fam_npa_vf,
};

FIXTURE_VARIANT_ADD(guest, vp_vdpa) {
	.fam = &fam_vp_vdpa,
};

FIXTURE_SETUP(guest)
{
	self->qemu = getenv("NPA_QEMU");
	ASSERT_NE(NULL, self->qemu) TH_LOG("NPA_QEMU is not set");
	ASSERT_EQ(0, mdevctl_on(variant->fam, 3, self->bdf, self->parent,
				self->uuid)) TH_LOG("%s", out);
	snprintf(self->nic, sizeof(self->nic), "%s%s %s",
		 "-netdev vhost-vfio,id=n0,sysfsdev=" MDEV_DEVICES "/", self->uuid,
		 "-device virtio-net-pci,netdev=n0,mac=52:54:00:4e:50:03,page-per-vq=on");
}

FIXTURE_TEARDOWN(guest)
{
	sh("mdevctl stop -u %s", self->uuid);
	EXPECT_TRUE(host_healthy());
}

/* npa is ready for the next VM: the mdev moves frames for npa-pkt. */
static bool mdev_ready(const char *uuid)
{
	return !sh("tools/npa/npa-pkt -u %s -i 3 -n 100 both", uuid);
}

TEST_F_TIMEOUT(guest, traffic_link_and_reboot, 400)
{
	long long host_kicks = mdev_counter(self->uuid, "host_kicks");
	long long host_calls = mdev_counter(self->uuid, "host_calls");
	long pins = pinned_pages();

	ASSERT_EQ(0, sh("tools/lab/run-guest.sh -r -q %s -i 10.0.3.2 -n 1000 -- %s",
			self->qemu, self->nic)) TH_LOG("%s", out);
	TH_LOG("%s", out);
	/* The guest's NIC is an ordinary virtio-net device. */
	EXPECT_NE(NULL, strstr(out, "driver virtio_net"));
	EXPECT_NE(NULL, strstr(out, "peer received 1000 datagrams, 1000000 bytes"));
	EXPECT_NE(NULL, strstr(out, "1000 of 1000 payloads as sent"));
	EXPECT_NE(NULL, strstr(out, "resetting the guest"));
	/*
	 * Doorbells mapped into the guest: its kicks never touch the host.
	 * What does is QEMU's one flush of each queue's kick eventfd when
	 * vhost starts: 2 queues, 2 boots.
	 */
	EXPECT_GE(host_kicks + 4, mdev_counter(self->uuid, "host_kicks"));
	EXPECT_LT(host_calls, mdev_counter(self->uuid, "host_calls"));
	EXPECT_GE(pins, pinned_pages());
	EXPECT_TRUE(mdev_ready(self->uuid)) TH_LOG("%s", out);
}

/*
 * A stopped VM that runs again (monitor stop, cont): QEMU stops the
 * device and restarts it at the index each ring reached, which a generic
 * virtio VF cannot load; npa accepts it and relays those rings (QEMU's
 * doorbell mapping is refused, its kicks come through the kick eventfds).
 * After the guest resets its device, the NIC runs in direct mode again.
 */
TEST_F_TIMEOUT(guest, stop_cont_then_reset, 400)
{
	ASSERT_EQ(0, sh("dmesg -C"));
	ASSERT_EQ(0, sh("tools/lab/run-guest.sh -r -p -q %s -i 10.0.3.2 -n 100 -- %s",
			self->qemu, self->nic)) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "vhost_set_vring_base failed")) TH_LOG("%s", out);
	sh("dmesg");
	EXPECT_EQ(NULL, strstr(out, "cannot start a ring at index")) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "the relay stops")) TH_LOG("%s", out);
	EXPECT_TRUE(mdev_ready(self->uuid)) TH_LOG("%s", out);
}

/*
 * Boot the guest (@pid) on @nic with a bulk transfer of @n datagrams, its
 * output in @log; true once the transfer has run for two seconds.
 */
static bool guest_in_transfer(const char *qemu, const char *nic, int n,
			      const char *log, pid_t *pid)
{
	char cmd[640];
	int i;

	snprintf(cmd, sizeof(cmd),
		 "tools/lab/run-guest.sh -q %s -i 10.0.3.2 -n %d -- %s >%s 2>&1",
		 qemu, n, nic, log);
	*pid = spawn(cmd);
	for (i = 0; i < 240; i++) {
		sleep(1);
		if (!sh("grep -qs 'npa-udp 10.0.3.1 tx %d' %s", n, log)) {
			sleep(2);
			return true;
		}
	}
	return false;
}

TEST_F_TIMEOUT(guest, qemu_killed_mid_transfer, 300)
{
	long pins = pinned_pages();
	pid_t pid;

	/* Wait for the bulk transfer, then kill the VMM. */
	EXPECT_TRUE(guest_in_transfer(self->qemu, self->nic, 200000,
				      "/run/npa-killed.log", &pid))
		TH_LOG("the guest never started its transfer");
	/* [.]: not to match the shell that runs pkill */
	EXPECT_EQ(0, sh("pkill -9 -f 'npa[.]ip=10[.]0[.]3[.]2'"));
	EXPECT_LE(0, reap(pid, 60));
	EXPECT_GE(pins, pinned_pages());
	EXPECT_TRUE(mdev_ready(self->uuid)) TH_LOG("%s", out);
}

/*
 * mdevctl stop of an mdev a running VM uses: QEMU is asked through the
 * request interrupt, takes the link down, stops vhost and lets go; the
 * stop completes while the VM runs on.
 */
TEST_F_TIMEOUT(guest, mdevctl_stop_while_in_use, 900)
{
	long pins = pinned_pages();
	char cmd[640];
	pid_t pid, stop;

	ASSERT_TRUE(guest_in_transfer(self->qemu, self->nic, 150000,
				      "/run/npa-stop.log", &pid))
		TH_LOG("the guest never started its transfer");
	snprintf(cmd, sizeof(cmd), "mdevctl stop -u %s", self->uuid);
	stop = spawn(cmd);
	EXPECT_EQ(0, reap(stop, 60)) TH_LOG("mdevctl stop did not complete");
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", self->uuid));
	sh("cat /run/npa-stop.log");
	EXPECT_NE(NULL, strstr(out, "releasing the device")) TH_LOG("%s", out);
	/* The VM runs on without the device. */
	EXPECT_EQ(-1, reap(pid, 1));
	EXPECT_EQ(0, sh("pkill -9 -f 'npa[.]ip=10[.]0[.]3[.]2'"));
	EXPECT_LE(0, reap(pid, 60));
	EXPECT_GE(pins, pinned_pages());
}

/* What the test host's KVM did for a guest's WBINVD loop (wbinvd-guest.sh). */
struct wbinvd_counts {
	int n, exits, emulated, flushes, noncoherent, assigned, registered;
};

static bool wbinvd_counted(const char *label, struct wbinvd_counts *c)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "wbinvd: %s ", label);
	p = strstr(out, key);
	return p && sscanf(p + strlen(key),
			   "n=%d exits=%d emulated=%d flushes=%d noncoherent=%d assigned=%d registered=%d",
			   &c->n, &c->exits, &c->emulated, &c->flushes,
			   &c->noncoherent, &c->assigned, &c->registered) == 7;
}

/*
 * In KVM's VFIO device (-netdev vhost-vfio's default, kvm-vfio=on) an
 * mdev, which never enforces cache coherency, makes KVM treat the VM as
 * doing non-coherent DMA: each WBINVD of the guest flushes a host CPU's
 * caches.  With kvm-vfio=off the VM stays coherent: the same WBINVDs exit
 * and are emulated, and no host CPU flushes.
 */
TEST_F_TIMEOUT(guest, wbinvd_flushes_follow_kvm_vfio, 400)
{
	struct wbinvd_counts on, off;
	char nic_off[320];

	snprintf(nic_off, sizeof(nic_off), "%s%s%s %s",
		 "-netdev vhost-vfio,id=n0,sysfsdev=" MDEV_DEVICES "/", self->uuid,
		 ",kvm-vfio=off", "-device virtio-net-pci,netdev=n0,page-per-vq=on");
	ASSERT_EQ(0, sh("tools/lab/wbinvd-guest.sh -n 200 -l kvm-vfio-off -- %s",
			nic_off)) TH_LOG("%s", out);
	ASSERT_TRUE(wbinvd_counted("kvm-vfio-off", &off)) TH_LOG("%s", out);
	TH_LOG("%s", strstr(out, "wbinvd: "));
	EXPECT_EQ(200, off.exits);
	EXPECT_EQ(200, off.emulated);
	EXPECT_EQ(0, off.flushes);
	EXPECT_EQ(0, off.noncoherent);
	EXPECT_EQ(0, off.registered);

	ASSERT_EQ(0, sh("tools/lab/wbinvd-guest.sh -n 200 -l kvm-vfio-on -- %s",
			self->nic)) TH_LOG("%s", out);
	ASSERT_TRUE(wbinvd_counted("kvm-vfio-on", &on)) TH_LOG("%s", out);
	TH_LOG("%s", strstr(out, "wbinvd: "));
	EXPECT_EQ(200, on.exits);
	EXPECT_EQ(200, on.emulated);
	EXPECT_LE(200, on.flushes);
	EXPECT_EQ(1, on.noncoherent);
	EXPECT_EQ(1, on.assigned);
	EXPECT_EQ(1, on.registered);
	EXPECT_TRUE(mdev_ready(self->uuid)) TH_LOG("%s", out);
}

/*
 * Live migration of an unmodified guest (tools/lab/migrate-guest.sh):
 * from an npa mdev on one VF to another NIC on the same wire, and back,
 * while numbered datagrams flow both ways; QEMU's dirty log is npa's
 * (relay mode while it logs, docs/migration.md).  The other NIC is an npa
 * mdev on another VF, or the same guest device backed by tap + vhost-net
 * (bridged to a VF the test host drives itself), as on a host without
 * npa.  Also a VM that stops and runs again under the same traffic, and
 * migrations that do not complete.
 */
FIXTURE(migrate) {
	char bdf[2][16];
	char parent[2][PARENT_LEN];
	char uuid[2][40];
	char nic[2][256];
	const char *qemu;
	long pins;
};

FIXTURE_VARIANT(migrate) {
	bool vhost_net;
};

FIXTURE_VARIANT_ADD(migrate, npa) {
	.vhost_net = false,
};

FIXTURE_VARIANT_ADD(migrate, vhost_net) {
	.vhost_net = true,
};

#define MDEVS_LEFT "for d in " MDEV_DEVICES "/*; do [ -e $d ] || continue; " \
	"basename $d; timeout 30 sh -c \"echo 1 > $d/remove\"; done | grep ."

/* The guest's NIC, the same device whatever its backend. */
#define MIGRATE_DEVICE "-device virtio-net-pci,netdev=n0,mac=52:54:00:4e:50:03," \
	"page-per-vq=on,rx_queue_size=256,tx_queue_size=256"

FIXTURE_SETUP(migrate)
{
	int i;

	self->qemu = getenv("NPA_QEMU");
	ASSERT_NE(NULL, self->qemu) TH_LOG("NPA_QEMU is not set");
	/* An mdev a failed test left behind would take a VF's one instance. */
	if (!sh(MDEVS_LEFT))
		TH_LOG("removed what an earlier test left: %s", out);
	self->pins = pinned_pages();
	/* The bridge first: a setup that fails leaves no mdev behind. */
	for (i = 1; i >= 0; i--) {
		if (i && variant->vhost_net) {
			ASSERT_EQ(0, sh(". tools/lab/lib-host.sh; tap_bridge 3"))
				TH_LOG("%s", out);
			snprintf(self->nic[i], sizeof(self->nic[i]), "%s %s",
				 "-netdev tap,id=n0,ifname=npatap0,script=no,downscript=no,vhost=on",
				 MIGRATE_DEVICE);
			continue;
		}
		ASSERT_EQ(0, mdevctl_on(&fam_npa_vf, 2 + i, self->bdf[i],
					self->parent[i], self->uuid[i]))
			TH_LOG("%s", out);
		snprintf(self->nic[i], sizeof(self->nic[i]), "%s%s %s",
			 "-netdev vhost-vfio,id=n0,sysfsdev=" MDEV_DEVICES "/",
			 self->uuid[i], MIGRATE_DEVICE);
	}
	ASSERT_EQ(0, sh("dmesg -C"));
}

FIXTURE_TEARDOWN(migrate)
{
	sh("mdevctl stop -u %s", self->uuid[0]);
	if (variant->vhost_net)
		sh(". tools/lab/lib-host.sh; tap_bridge_del");
	else
		sh("mdevctl stop -u %s", self->uuid[1]);
	EXPECT_TRUE(host_healthy());
}

/*
 * What arrived of the stream of phase @phase (1 to 3) in direction @dir
 * ("tx": guest to peer, "rx"), from migrate-guest.sh's output in out[]: the
 * guest's reports said again at its end (guest-init.sh).
 */
struct stream_counts {
	unsigned int good, sent, lost, dup, corrupt;
};

static bool stream_phase(int phase, const char *dir, struct stream_counts *c)
{
	char key[48];
	const char *p;

	snprintf(key, sizeof(key), "phase %d: udp stream %s: ", phase, dir);
	p = strstr(out, key);
	return p && sscanf(p + strlen(key),
			   "%u of %u payloads as sent: %u lost, %u duplicated, %*u reordered, %u corrupt",
			   &c->good, &c->sent, &c->lost, &c->dup,
			   &c->corrupt) == 5;
}

/*
 * How long the guest stood still in phase @phase, all its stalls summed (as
 * npa-udp stream saw them: the switch of a migration, a stop, a test host
 * too busy to run it), -1 if not reported.
 */
static int stall_ms(int phase)
{
	char key[64];
	const char *p;
	int ms;

	snprintf(key, sizeof(key),
		 "phase %d: udp stream: the guest stood still for ", phase);
	p = strstr(out, key);
	return p && sscanf(p + strlen(key), "%*d ms at most, %d ms in all",
			   &ms) == 1 ? ms : -1;
}

/* The downtime QEMU reported for migration @what ("A->B"), -1 if none. */
static int downtime_ms(const char *what)
{
	char key[64];
	const char *p;
	int t, d;

	snprintf(key, sizeof(key), "migrate: %s completed: total time ", what);
	p = strstr(out, key);
	if (!p || sscanf(p + strlen(key), "%d ms, downtime %d ms", &t, &d) != 2)
		return -1;
	return d;
}

/* At most what was sent while @ms passed, and a second more. */
#define STREAM_PPS 100
#define LOST_AT_MOST(ms) (STREAM_PPS * ((ms) + 1000U) / 1000)

/*
 * The three phases: none duplicated or corrupt either way; in the first
 * two, which a switch interrupts (a migration, a stop: @stopped_ms[0],
 * [1] the VM stopped, as QEMU tells), at most the datagrams sent while
 * the VM stopped or the guest stood still (its clock may not count the
 * stop; on a loaded test host it stands still more than once) are lost,
 * and a second's worth more; none in the third.
 */
static void check_streams(struct __test_metadata *_metadata,
			  const int stopped_ms[2])
{
	static const char * const dirs[] = { "tx", "rx" };
	struct stream_counts c;
	int phase, d, stall;

	for (phase = 1; phase <= 3; phase++) {
		stall = stall_ms(phase);
		ASSERT_LE(0, stall) TH_LOG("no phase %d in %s", phase, out);
		for (d = 0; d < 2; d++) {
			ASSERT_TRUE(stream_phase(phase, dirs[d], &c))
				TH_LOG("no phase %d %s stream in %s", phase,
				       dirs[d], out);
			TH_LOG("phase %d %s: %u of %u, %u lost, %u dup, %u corrupt, still %d ms",
			       phase, dirs[d], c.good, c.sent, c.lost, c.dup,
			       c.corrupt, stall);
			EXPECT_EQ(0U, c.dup);
			EXPECT_EQ(0U, c.corrupt);
			if (phase < 3) {
				EXPECT_GE(LOST_AT_MOST(stall + stopped_ms[phase - 1]),
					  c.lost);
			} else {
				EXPECT_EQ(0U, c.lost);
			}
		}
	}
}

#define MIGRATE_GUEST "tools/lab/migrate-guest.sh -q %s -i 10.0.3.2 -s 40 -t 1100"
/* Its summary: the guest's consoles are in $NPA_OUT/{A,B,C}.log */
#define MIGRATE_SUMMARY " >/run/npa-migrate.out 2>&1; r=$?; " \
	"grep -E 'migrate: |udp stream|GUEST-RESULT|FAILED' /run/npa-migrate.out; exit $r"

TEST_F_TIMEOUT(migrate, there_and_back_under_traffic, 1200)
{
	int down[2];

	ASSERT_EQ(0, sh(MIGRATE_GUEST " -a '%s' -b '%s'" MIGRATE_SUMMARY,
			self->qemu, self->nic[0], self->nic[1]))
		TH_LOG("%s", out);
	TH_LOG("%s", out);
	down[0] = downtime_ms("A->B");
	down[1] = downtime_ms("B->C");
	ASSERT_LE(0, down[0]) TH_LOG("%s", out);
	ASSERT_LE(0, down[1]) TH_LOG("%s", out);
	check_streams(_metadata, down);
	/* Both ways the queues relayed and logged; no ring stopped. */
	EXPECT_FALSE(dmesg_has("the relay stops")) TH_LOG("%s", out);
	EXPECT_FALSE(dmesg_has("did not restart")) TH_LOG("%s", out);
	EXPECT_GE(self->pins, pinned_pages());
	EXPECT_TRUE(mdev_ready(self->uuid[0])) TH_LOG("%s", out);
	if (!variant->vhost_net)
		EXPECT_TRUE(mdev_ready(self->uuid[1])) TH_LOG("%s", out);
}

/*
 * monitor stop, then cont two seconds later, twice under traffic: the NIC
 * goes on where its rings stood, without a guest reset.
 */
TEST_F_TIMEOUT(migrate, stop_cont_under_traffic, 1200)
{
	static const int stopped[2] = { 2000, 2000 };

	if (variant->vhost_net)
		SKIP(return, "npa alone: the npa variant runs it");
	ASSERT_EQ(0, sh(MIGRATE_GUEST " -a '%s' -p" MIGRATE_SUMMARY,
			self->qemu, self->nic[0])) TH_LOG("%s", out);
	TH_LOG("%s", out);
	check_streams(_metadata, stopped);
	EXPECT_FALSE(dmesg_has("the relay stops")) TH_LOG("%s", out);
	EXPECT_GE(self->pins, pinned_pages());
	EXPECT_TRUE(mdev_ready(self->uuid[0])) TH_LOG("%s", out);
}

/*
 * A migration cancelled mid-way (by then the source logs, its queues
 * relaying): the source runs on, its traffic flowing.
 */
TEST_F_TIMEOUT(migrate, cancelled_source_runs_on, 1200)
{
	static const int stopped[2] = { 0, 0 };

	if (variant->vhost_net)
		SKIP(return, "npa alone: the npa variant runs it");
	ASSERT_EQ(0, sh(MIGRATE_GUEST " -a '%s' -b '%s' -x cancel" MIGRATE_SUMMARY,
			self->qemu, self->nic[0], self->nic[1]))
		TH_LOG("%s", out);
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "migrate: A->B cancelled"));
	check_streams(_metadata, stopped);
	EXPECT_FALSE(dmesg_has("the relay stops")) TH_LOG("%s", out);
	EXPECT_GE(self->pins, pinned_pages());
	EXPECT_TRUE(mdev_ready(self->uuid[0])) TH_LOG("%s", out);
	EXPECT_TRUE(mdev_ready(self->uuid[1])) TH_LOG("%s", out);
}

#define HOLDER_HAS_IT "for p in $(pgrep -f npa-busy-holder); do ls -l /proc/$p/fd; done | " \
	"grep -q vfio-device"

/*
 * A destination whose mdev someone else uses (here a stopped QEMU): its
 * QEMU cannot start, the migration fails, the source runs on.
 */
TEST_F_TIMEOUT(migrate, destination_busy_source_runs_on, 1200)
{
	static const int stopped[2] = { 0, 0 };
	char cmd[640];
	pid_t holder;
	int i;

	if (variant->vhost_net)
		SKIP(return, "npa alone: the npa variant runs it");
	snprintf(cmd, sizeof(cmd),
		 "exec timeout 600 %s -name npa-busy-holder -machine q35 -accel tcg -nodefaults -display none -monitor none -S %s",
		 self->qemu, self->nic[1]);
	holder = spawn(cmd);
	/* Until the holder has the device open. */
	for (i = 0; i < 60 && sh(HOLDER_HAS_IT); i++)
		sleep(1);
	EXPECT_EQ(0, sh(MIGRATE_GUEST " -a '%s' -b '%s' -x busy" MIGRATE_SUMMARY,
			self->qemu, self->nic[0], self->nic[1]))
		TH_LOG("%s", out);
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "migrate: A->B failed"));
	check_streams(_metadata, stopped);
	sh("pkill -f npa-busy-holder");
	EXPECT_LE(0, reap(holder, 60));
	EXPECT_GE(self->pins, pinned_pages());
	EXPECT_TRUE(mdev_ready(self->uuid[0])) TH_LOG("%s", out);
}

/*
 * The source's QEMU killed mid-migration (logging, relaying): nothing
 * stays pinned, both mdevs serve their next user.
 */
TEST_F_TIMEOUT(migrate, source_killed_mid_migration, 1200)
{
	if (variant->vhost_net)
		SKIP(return, "npa alone: the npa variant runs it");
	ASSERT_EQ(0, sh(MIGRATE_GUEST " -a '%s' -b '%s' -x kill" MIGRATE_SUMMARY,
			self->qemu, self->nic[0], self->nic[1]))
		TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "killing QEMU A")) TH_LOG("%s", out);
	EXPECT_FALSE(dmesg_has("the relay stops")) TH_LOG("%s", out);
	EXPECT_GE(self->pins, pinned_pages());
	EXPECT_TRUE(mdev_ready(self->uuid[0])) TH_LOG("%s", out);
	EXPECT_TRUE(mdev_ready(self->uuid[1])) TH_LOG("%s", out);
}

/* QEMU stopped before the guest runs; its monitor quits it. */
#define QEMU_STOPPED "echo quit | timeout 60 %s -machine q35 -accel tcg " \
	"-nodefaults -display none -monitor stdio -S"

/* A vIOMMU in front of the NIC is refused when QEMU starts, saying why. */
TEST_F(guest, viommu_refused)
{
	EXPECT_NE(0, sh(QEMU_STOPPED " -device intel-iommu %s,disable-legacy=on,iommu_platform=on",
			self->qemu, self->nic));
	EXPECT_NE(NULL, strstr(out, "does not support a vIOMMU"))
		TH_LOG("%s", out);
	/* Without a vIOMMU the same NIC starts. */
	EXPECT_EQ(0, sh(QEMU_STOPPED " %s,disable-legacy=on,iommu_platform=on", self->qemu,
			self->nic)) TH_LOG("%s", out);
}

#define QEMU_NETDEV "%s -nodefaults -display none -netdev vhost-vfio,id=n0"

TEST_F(guest, bad_netdev_options)
{
	EXPECT_EQ(0, sh("%s -netdev help", self->qemu));
	EXPECT_NE(NULL, strstr(out, "vhost-vfio")) TH_LOG("%s", out);
	EXPECT_NE(0, sh(QEMU_NETDEV, self->qemu));
	EXPECT_NE(NULL, strstr(out, "'sysfsdev' is missing")) TH_LOG("%s", out);
	EXPECT_NE(0, sh(QEMU_NETDEV ",sysfsdev=/nope", self->qemu));
	EXPECT_NE(NULL, strstr(out, "no such host device")) TH_LOG("%s", out);
	EXPECT_NE(0, sh(QEMU_NETDEV ",sysfsdev=/sys/bus/pci/devices/%s",
			self->qemu, self->bdf));
	EXPECT_NE(NULL, strstr(out, "is not a mediated device")) TH_LOG("%s", out);
}

/*
 * A function whose doorbells share a page (the lab's NPA_SHARED_DOORBELL:
 * virtio-net-pci with page-per-vq=off, notify_off_multiplier 4): mapping
 * that page into a guest would hand it the other queues' doorbells, the
 * hidden control queue's among them.  npa takes the function, but offers
 * the doorbells only through region writes.
 */
FIXTURE(shared_doorbell) {
	char parent[PARENT_LEN];
	char uuid[40];
	struct vfio v;
};

FIXTURE_SETUP(shared_doorbell)
{
	const char *bdf = getenv("NPA_SHARED_DOORBELL");

	ASSERT_NE(NULL, bdf) TH_LOG("NPA_SHARED_DOORBELL is not set");
	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	ASSERT_EQ(0, bind_vf(bdf, "", self->parent)) TH_LOG("%s", out);
	new_uuid(self->uuid);
	ASSERT_EQ(0, create_mdev(self->parent, self->uuid));
	ASSERT_EQ(0, vfio_open(self->uuid, &self->v));
}

FIXTURE_TEARDOWN(shared_doorbell)
{
	if (self->v.device > 0)
		vfio_close(&self->v);
	if (exists(MDEV_DEVICES "/%s", self->uuid))
		remove_mdev(self->uuid);
	sh(NPACTL " unbind %s", getenv("NPA_SHARED_DOORBELL"));
	EXPECT_TRUE(host_healthy()) TH_LOG("the kernel was tainted: see dmesg");
}

TEST_F(shared_doorbell, written_not_mapped)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	long long kicks = mdev_counter(self->uuid, "host_kicks");
	long page = getpagesize();
	__u16 qid = 0;
	void *p;

	ASSERT_EQ(0, ioctl(self->v.device, VFIO_DEVICE_GET_REGION_INFO, &ri));
	EXPECT_EQ(2UL * page, ri.size);
	EXPECT_FALSE(!!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP));
	EXPECT_TRUE(!!(ri.flags & VFIO_REGION_INFO_FLAG_WRITE));
	p = mmap(NULL, page, PROT_WRITE, MAP_SHARED, self->v.device, ri.offset);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, page);

	/* The region write still reaches the device, through the host. */
	ASSERT_LE(0, kicks);
	EXPECT_EQ(2, pwrite(self->v.device, &qid, sizeof(qid), ri.offset));
	qid = 1;
	EXPECT_EQ(2, pwrite(self->v.device, &qid, sizeof(qid),
			    ri.offset + page));
	EXPECT_EQ(kicks + 2, mdev_counter(self->uuid, "host_kicks"));
}

/* Run alone (-f noiommu) in a test host booted without an IOMMU. */
FIXTURE(noiommu) {
	char bdf[16];
};

FIXTURE_SETUP(noiommu)
{
	glob_t g;

	ASSERT_EQ(GLOB_NOMATCH, glob("/sys/class/iommu/*", 0, NULL, &g))
		TH_LOG("this test host has an IOMMU");
	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	ASSERT_EQ(0, vf_bdf(0, self->bdf));
}

FIXTURE_TEARDOWN(noiommu)
{
	EXPECT_TRUE(host_healthy());
}

TEST_F(noiommu, vf_refused)
{
	EXPECT_NE(0, sh(NPACTL " bind %s", self->bdf));
	EXPECT_NE(NULL, strstr(out, "no cache-coherent IOMMU translates"))
		TH_LOG("%s", out);
	EXPECT_FALSE(exists("/sys/bus/pci/drivers/npa/%s", self->bdf));
	EXPECT_TRUE(exists("/sys/bus/pci/drivers/virtio-pci/%s", self->bdf));
}

/* vp_vdpa's device DMAs through the platform IOMMU too: refused alike. */
TEST_F(noiommu, vp_vdpa_refused)
{
	EXPECT_NE(0, sh("selftests/family.sh up vp_vdpa 0"));
	EXPECT_NE(NULL, strstr(out, "no cache-coherent IOMMU translates"))
		TH_LOG("%s", out);
	EXPECT_TRUE(exists("/sys/bus/vdpa/devices/%s", "vp-0"));
	EXPECT_FALSE(exists("/sys/bus/vdpa/drivers/npa/%s", "vp-0"));
	EXPECT_EQ(0, sh("selftests/family.sh down vp_vdpa 0")) TH_LOG("%s", out);
}

/* A parent that translates on its own needs no IOMMU. */
TEST_F(noiommu, vdpa_sim_works)
{
	char parent[PARENT_LEN], uuid[40];

	ASSERT_EQ(0, fam_up(&fam_vdpa_sim, 0, "", parent)) TH_LOG("%s", out);
	new_uuid(uuid);
	ASSERT_EQ(0, create_mdev(parent, uuid));
	EXPECT_EQ(0, move_frames(&fam_vdpa_sim, uuid, 0, 100)) TH_LOG("%s", out);
	EXPECT_EQ(0, remove_mdev(uuid));
	EXPECT_EQ(0, sh("selftests/family.sh down vdpa_sim 0")) TH_LOG("%s", out);
}

/*
 * Run alone (-f nointremap) in a test host whose IOMMU does not remap
 * interrupts (run-host.sh -R): a DMA write to the MSI window would be a
 * host interrupt, so npa_mdev refuses the device unless the admin sets
 * allow_unsafe_interrupts, as vfio_iommu_type1 does.
 */
#define UNSAFE_IRQS "/sys/module/npa_mdev/parameters/allow_unsafe_interrupts"

FIXTURE(nointremap) {
	char bdf[16];
	char parent[PARENT_LEN];
};

FIXTURE_SETUP(nointremap)
{
	const char *ir = getenv("NPA_INTREMAP");

	ASSERT_TRUE(ir && !strcmp(ir, "off"))
		TH_LOG("this test host remaps interrupts (run-host.sh -R)");
	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	ASSERT_EQ(0, vf_bdf(0, self->bdf));
}

FIXTURE_TEARDOWN(nointremap)
{
	write_attr(UNSAFE_IRQS, "N");
	sh(NPACTL " unbind %s", self->bdf);
	EXPECT_TRUE(host_healthy());
}

TEST_F(nointremap, refused_unless_allowed)
{
	EXPECT_NE(0, sh(NPACTL " bind %s", self->bdf));
	EXPECT_NE(NULL, strstr(out, "no interrupt remapping isolates the MSIs"))
		TH_LOG("%s", out);
	EXPECT_TRUE(exists("/sys/bus/pci/drivers/virtio-pci/%s", self->bdf));

	ASSERT_EQ(0, write_attr(UNSAFE_IRQS, "Y"));
	ASSERT_EQ(0, bind_vf(self->bdf, "", self->parent)) TH_LOG("%s", out);
	EXPECT_EQ(0, sh("dmesg | grep -F '%s' | grep -q 'taken because allow_unsafe_interrupts'",
			self->parent));
}

TEST_HARNESS_MAIN
