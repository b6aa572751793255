// SPDX-License-Identifier: GPL-2.0
/*
 * npa selftests: run as root inside the lab's test host (tools/lab), from
 * the top of the npa tree, with npa built.  NPA_VF_PORTS names the root
 * ports the VFs sit behind; NPA_BAD_* name functions npa must refuse.
 */
#define _GNU_SOURCE
#include <errno.h>
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
#include <linux/vfio.h>
#include <linux/vhost_npa.h>

#include "kselftest_harness.h"

#define NPACTL "tools/npactl"
#define MDEV_DEVICES "/sys/bus/mdev/devices"

/* Taint bits that mean the host is hurt: bad page, died (oops), warning. */
#define TAINT_HURT ((1 << 5) | (1 << 7) | (1 << 9))

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

static int read_attr(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* Write a sysfs attribute; 0 or -errno of the write. */
static int write_attr(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static bool exists(const char *fmt, const char *arg)
{
	char path[512];

	snprintf(path, sizeof(path), fmt, arg);
	return access(path, F_OK) == 0;
}

static bool host_healthy(void)
{
	char buf[32];

	return !read_attr("/proc/sys/kernel/tainted", buf, sizeof(buf)) &&
	       !(strtoul(buf, NULL, 10) & TAINT_HURT);
}

/* The PCI address of VF @idx: the function behind the idx-th root port. */
static int vf_bdf(int idx, char *bdf)
{
	char ports[256], pat[128], *tok, *save;
	const char *env = getenv("NPA_VF_PORTS");
	glob_t g;
	int ret;

	if (!env)
		return -1;
	snprintf(ports, sizeof(ports), "%s", env);
	for (tok = strtok_r(ports, " ", &save); tok && idx;
	     tok = strtok_r(NULL, " ", &save))
		idx--;
	if (!tok)
		return -1;
	snprintf(pat, sizeof(pat), "/sys/bus/pci/devices/%s/0000:??:??.?", tok);
	if (glob(pat, 0, NULL, &g))
		return -1;
	ret = snprintf(bdf, 16, "%s", strrchr(g.gl_pathv[0], '/') + 1) < 0;
	globfree(&g);
	return ret;
}

static void new_uuid(char *uuid)
{
	read_attr("/proc/sys/kernel/random/uuid", uuid, 40);
}

static int type_attr(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path),
		 "/sys/class/mdev_bus/%s/mdev_supported_types/npa-net/%s",
		 bdf, attr);
	return read_attr(path, buf, len);
}

static int create_mdev(const char *bdf, const char *uuid)
{
	char path[256];

	snprintf(path, sizeof(path),
		 "/sys/class/mdev_bus/%s/mdev_supported_types/npa-net/create",
		 bdf);
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
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[256], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), MDEV_DEVICES "/%s/iommu_group", uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);

	v->container = open("/dev/vfio/vfio", O_RDWR);
	if (v->container < 0)
		return -errno;
	v->group = open(path, O_RDWR);
	if (v->group < 0)
		goto err;
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE) ||
	    ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container) ||
	    ioctl(v->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		goto err_group;
	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, uuid);
	if (v->device < 0)
		goto err_group;
	return 0;

err_group:
	n = -errno;
	close(v->group);
	close(v->container);
	return n;
err:
	n = -errno;
	close(v->container);
	return n;
}

static void vfio_close(struct vfio *v)
{
	close(v->device);
	close(v->group);
	close(v->container);
}

static int set_req_eventfd(struct vfio *v, int efd)
{
	struct {
		struct vfio_irq_set set;
		int fd;
	} req = {
		.set = {
			.argsz = sizeof(req),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = VHOST_NPA_REQ_IRQ_INDEX,
			.count = 1,
		},
		.fd = efd,
	};

	return ioctl(v->device, VFIO_DEVICE_SET_IRQS, &req) ? -errno : 0;
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

FIXTURE(vf) {
	char bdf[16];
	char uuid[40];
};

FIXTURE_SETUP(vf)
{
	ASSERT_EQ(0, sh(NPACTL " load")) TH_LOG("%s", out);
	ASSERT_EQ(0, vf_bdf(0, self->bdf)) TH_LOG("no VF: is NPA_VF_PORTS set?");
	ASSERT_EQ(0, sh(NPACTL " bind %s", self->bdf)) TH_LOG("%s", out);
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

	ASSERT_EQ(0, type_attr(self->bdf, "name", buf, sizeof(buf)));
	EXPECT_STREQ("npa virtio-net", buf);
	ASSERT_EQ(0, type_attr(self->bdf, "device_api", buf, sizeof(buf)));
	EXPECT_STREQ(VHOST_NPA_DEVICE_API_STRING, buf);
	ASSERT_EQ(0, type_attr(self->bdf, "available_instances", buf,
			       sizeof(buf)));
	EXPECT_STREQ("1", buf);
	ASSERT_EQ(0, type_attr(self->bdf, "description", buf, sizeof(buf)));
	EXPECT_NE(NULL, strstr(buf, "virtio-net data path, 3 virtqueues"))
		TH_LOG("description: %s", buf);

	ASSERT_EQ(0, sh("mdevctl types"));
	EXPECT_NE(NULL, strstr(out, self->bdf));
	EXPECT_NE(NULL, strstr(out, "npa-net"));
	EXPECT_NE(NULL, strstr(out, "Available instances: 1"));
	EXPECT_NE(NULL, strstr(out, "Device API: vhost-npa"));
	EXPECT_NE(NULL, strstr(out, "Name: npa virtio-net"));
	EXPECT_NE(NULL, strstr(out, "Description: virtio-net data path"))
		TH_LOG("mdevctl types:\n%s", out);
}

TEST_F(vf, mdevctl_start_stop)
{
	char buf[64];

	ASSERT_EQ(0, sh("mdevctl start -u %s -p %s -t npa-net", self->uuid,
			self->bdf)) TH_LOG("%s", out);
	ASSERT_TRUE(exists(MDEV_DEVICES "/%s", self->uuid));
	EXPECT_TRUE(exists("/sys/bus/mdev/drivers/npa_mdev/%s",
			   self->uuid));
	EXPECT_TRUE(exists(MDEV_DEVICES "/%s/iommu_group", self->uuid));
	ASSERT_EQ(0, type_attr(self->bdf, "available_instances", buf,
			       sizeof(buf)));
	EXPECT_STREQ("0", buf);
	ASSERT_EQ(0, sh("mdevctl list"));
	EXPECT_NE(NULL, strstr(out, self->uuid)) TH_LOG("%s", out);

	ASSERT_EQ(0, sh("mdevctl stop -u %s", self->uuid)) TH_LOG("%s", out);
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", self->uuid));
	ASSERT_EQ(0, type_attr(self->bdf, "available_instances", buf,
			       sizeof(buf)));
	EXPECT_STREQ("1", buf);
}

TEST_F(vf, one_instance_per_vf)
{
	char second[40];

	new_uuid(second);
	ASSERT_EQ(0, create_mdev(self->bdf, self->uuid));
	EXPECT_NE(0, sh("mdevctl start -u %s -p %s -t npa-net", second,
			self->bdf));
	EXPECT_EQ(-EUSERS, create_mdev(self->bdf, second));
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", second));
}

TEST_F(vf, bad_create_input)
{
	char other[16];

	/* A parent that is not npa's, a type npa does not have. */
	EXPECT_NE(0, sh("mdevctl start -u %s -p %s -t npa-net", self->uuid,
			getenv("NPA_BAD_NOIOMMU")));
	EXPECT_NE(0, sh("mdevctl start -u %s -p %s -t npa-bogus", self->uuid,
			self->bdf));
	EXPECT_NE(0, sh("mdevctl start -u %s -p 0000:7f:1f.7 -t npa-net",
			self->uuid));
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", self->uuid));

	EXPECT_EQ(-EINVAL, create_mdev(self->bdf, "not-a-uuid"));

	/* A UUID is unique across parents. */
	ASSERT_EQ(0, vf_bdf(1, other));
	ASSERT_EQ(0, sh(NPACTL " bind %s", other)) TH_LOG("%s", out);
	ASSERT_EQ(0, create_mdev(self->bdf, self->uuid));
	EXPECT_EQ(-EEXIST, create_mdev(other, self->uuid));
}

TEST_F(vf, open_info_close)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_irq_info irq = { .argsz = sizeof(irq) };
	struct vfio v;
	int round;

	ASSERT_EQ(0, create_mdev(self->bdf, self->uuid));
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, vfio_open(self->uuid, &v));

		ASSERT_EQ(0, ioctl(v.device, VFIO_DEVICE_GET_INFO, &info));
		EXPECT_EQ(0U, info.num_regions);
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

	ASSERT_EQ(0, create_mdev(self->bdf, self->uuid));
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

	ASSERT_EQ(0, create_mdev(self->bdf, self->uuid));
	snprintf(cmd, sizeof(cmd), "echo 1 > " MDEV_DEVICES "/%s/remove",
		 self->uuid);
	take_away_while_open(_metadata, self->uuid, cmd);
}

TEST_F_TIMEOUT(vf, unbind_vf_while_open, 120)
{
	char cmd[256];

	ASSERT_EQ(0, create_mdev(self->bdf, self->uuid));
	snprintf(cmd, sizeof(cmd), NPACTL " unbind %s", self->bdf);
	take_away_while_open(_metadata, self->uuid, cmd);
	EXPECT_FALSE(exists("/sys/bus/pci/drivers/npa/%s", self->bdf));
}

TEST_F_TIMEOUT(vf, unload_while_open, 120)
{
	ASSERT_EQ(0, create_mdev(self->bdf, self->uuid));
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

	ASSERT_EQ(0, create_mdev(self->bdf, self->uuid));
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
	ASSERT_EQ(0, sh("mdevctl define -u %s -p %s -t npa-net --auto",
			self->uuid, self->bdf)) TH_LOG("%s", out);
	ASSERT_EQ(0, sh("mdevctl start -u %s", self->uuid)) TH_LOG("%s", out);
	ASSERT_TRUE(exists(MDEV_DEVICES "/%s", self->uuid));

	ASSERT_EQ(0, sh(NPACTL " unload")) TH_LOG("%s", out);
	EXPECT_FALSE(exists(MDEV_DEVICES "/%s", self->uuid));
	ASSERT_EQ(0, sh(NPACTL " load && " NPACTL " bind %s", self->bdf))
		TH_LOG("%s", out);
	EXPECT_TRUE(exists(MDEV_DEVICES "/%s", self->uuid));
	ASSERT_EQ(0, sh("mdevctl list -d"));
	EXPECT_NE(NULL, strstr(out, "auto")) TH_LOG("%s", out);
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

TEST_HARNESS_MAIN
