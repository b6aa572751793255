// SPDX-License-Identifier: GPL-2.0
/*
 * libnpa: drive an npa mdev from userspace, as a VMM would (see libnpa.h).
 * The process's own memory plays guest RAM, at NPA_GPA_BASE.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/vfio.h>
#include <linux/vhost.h>
#include <linux/vhost_npa.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>

#include "libnpa.h"

#define NPA_GPA_BASE	0x40000000ULL
#define NPA_MEM_SIZE	(2UL << 20)
#define PAGE		4096UL

/* The device reads avail->idx and writes used->idx by DMA. */
static __u16 used_idx(struct npa_vq *vq)
{
	return __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
}

static void publish_avail(struct npa_vq *vq)
{
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
}

static int fail(const char *what)
{
	int err = errno;

	fprintf(stderr, "libnpa: %s: %s\n", what, strerror(err));
	return -err;
}

int npa_vfio_device(int group, const char *uuid)
{
	int device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, uuid);

	return device < 0 ? fail("VFIO_GROUP_GET_DEVICE_FD") : device;
}

int npa_vfio_open(const char *uuid, int *container, int *group)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[256], link[256];
	int device;
	ssize_t n;

	*container = -1;
	*group = -1;
	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group",
		 uuid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return fail(path);
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);

	*container = open("/dev/vfio/vfio", O_RDWR);
	if (*container < 0)
		return fail("/dev/vfio/vfio");
	*group = open(path, O_RDWR);
	if (*group < 0) {
		n = fail(path);
		goto err;
	}
	if (ioctl(*group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE) ||
	    ioctl(*group, VFIO_GROUP_SET_CONTAINER, container) ||
	    ioctl(*container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
		n = fail("VFIO group and container");
		goto err;
	}
	device = npa_vfio_device(*group, uuid);
	if (device >= 0)
		return device;
	n = device;
err:
	if (*group >= 0)
		close(*group);
	close(*container);
	*container = -1;
	*group = -1;
	return n;
}

int npa_open(struct npa_dev *d, const char *uuid)
{
	memset(d, 0, sizeof(*d));
	d->config_fd = -1;
	d->device = npa_vfio_open(uuid, &d->container, &d->group);
	if (d->device < 0)
		return d->device;

	if (ioctl(d->device, VHOST_SET_OWNER))
		return fail("VHOST_SET_OWNER");
	return npa_identify(d);
}

int npa_identify(struct npa_dev *d)
{
	struct {
		struct vhost_vdpa_config hdr;
		__u8 mac[6];
	} cfg = { .hdr = { .off = 0, .len = 6 } };

	if (ioctl(d->device, VHOST_GET_FEATURES, &d->features))
		return fail("VHOST_GET_FEATURES");
	if (ioctl(d->device, VHOST_VDPA_GET_CONFIG, &cfg))
		return fail("VHOST_VDPA_GET_CONFIG");
	memcpy(d->mac, cfg.mac, sizeof(d->mac));
	return 0;
}

/* Find the doorbell region by its type capability, not by its index. */
static int find_doorbells(struct npa_dev *d)
{
	struct vfio_device_info dinfo = { .argsz = sizeof(dinfo) };
	__u8 buf[512];
	struct vfio_region_info *info = (void *)buf;
	struct vfio_info_cap_header *hdr;
	struct vfio_region_info_cap_type *type;
	__u32 i;

	if (ioctl(d->device, VFIO_DEVICE_GET_INFO, &dinfo))
		return fail("VFIO_DEVICE_GET_INFO");
	for (i = 0; i < dinfo.num_regions; i++) {
		memset(buf, 0, sizeof(buf));
		info->argsz = sizeof(buf);
		info->index = i;
		if (ioctl(d->device, VFIO_DEVICE_GET_REGION_INFO, info))
			return fail("VFIO_DEVICE_GET_REGION_INFO");
		if (!(info->flags & VFIO_REGION_INFO_FLAG_CAPS))
			continue;
		hdr = (void *)(buf + info->cap_offset);
		while (hdr) {
			type = (void *)hdr;
			if (hdr->id == VFIO_REGION_INFO_CAP_TYPE &&
			    type->type == VHOST_NPA_REGION_TYPE &&
			    type->subtype == VHOST_NPA_REGION_SUBTYPE_NOTIFY)
				goto found;
			hdr = hdr->next ? (void *)(buf + hdr->next) : NULL;
		}
	}
	errno = ENOENT;
	return fail("no doorbell region");

found:
	d->notify_offset = info->offset;
	if (d->kick != NPA_KICK_MMAP)
		return 0;
	if (!(info->flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		errno = EOPNOTSUPP;
		return fail("doorbells are not mmappable on this VF");
	}
	d->doorbells = mmap(NULL, NPA_NQ * PAGE, PROT_WRITE, MAP_SHARED,
			    d->device, info->offset);
	if (d->doorbells == MAP_FAILED) {
		d->doorbells = NULL;
		return fail("mmap doorbells");
	}
	for (i = 0; i < NPA_NQ; i++)
		d->vq[i].doorbell = (__u16 *)((__u8 *)d->doorbells +
						 i * PAGE);
	return 0;
}

static void notify(struct npa_dev *d, struct npa_vq *vq)
{
	__u64 one = 1;
	__u16 idx = vq->idx;

	/* Order the avail->idx store before the used->flags load. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vq->used->flags, __ATOMIC_RELAXED) &
	    VRING_USED_F_NO_NOTIFY)
		return;
	d->kicks++;
	switch (d->kick) {
	case NPA_KICK_EVENTFD:
		if (write(vq->kick_fd, &one, sizeof(one)) != sizeof(one))
			fail("kick eventfd");
		break;
	case NPA_KICK_MMAP:
		__atomic_store_n(vq->doorbell, idx, __ATOMIC_RELEASE);
		break;
	case NPA_KICK_WRITE:
		if (pwrite(d->device, &idx, sizeof(idx),
			   d->notify_offset + idx * PAGE) != sizeof(idx))
			fail("doorbell write");
		break;
	}
}

int npa_set_irq(int device, __u32 index, __u32 start, int fd)
{
	struct {
		struct vfio_irq_set set;
		__s32 fd;
	} irq = {
		.set = {
			.argsz = sizeof(irq),
			.flags = VFIO_IRQ_SET_DATA_EVENTFD |
				 VFIO_IRQ_SET_ACTION_TRIGGER,
			.index = index,
			.start = start,
			.count = 1,
		},
		.fd = fd,
	};

	return ioctl(device, VFIO_DEVICE_SET_IRQS, &irq) ?
	       fail("VFIO_DEVICE_SET_IRQS") : 0;
}

int npa_config_irq(struct npa_dev *d)
{
	d->config_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->config_fd < 0)
		return fail("eventfd");
	return npa_set_irq(d->device, VHOST_NPA_CONFIG_IRQ_INDEX, 0, d->config_fd);
}

int npa_wait_config(struct npa_dev *d, int timeout_ms)
{
	struct pollfd p = { .fd = d->config_fd, .events = POLLIN };
	__u64 n;

	if (poll(&p, 1, timeout_ms) != 1 ||
	    read(d->config_fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return 1;
}

bool npa_link_up(struct npa_dev *d)
{
	struct {
		struct vhost_vdpa_config hdr;
		__u16 status;
	} cfg = {
		.hdr = {
			.off = offsetof(struct virtio_net_config, status),
			.len = 2,
		},
	};

	if (ioctl(d->device, VHOST_VDPA_GET_CONFIG, &cfg)) {
		fail("VHOST_VDPA_GET_CONFIG");
		return false;
	}
	return cfg.status & VIRTIO_NET_S_LINK_UP;
}

static int set_call(struct npa_dev *d, struct npa_vq *vq)
{
	vq->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vq->call_fd < 0)
		return fail("eventfd");
	return npa_set_irq(d->device, VHOST_NPA_VQ_IRQ_INDEX, vq->idx,
			   vq->call_fd);
}

static int setup_vq(struct npa_dev *d, __u16 idx)
{
	struct npa_vq *vq = &d->vq[idx];
	size_t ring = idx * 4 * PAGE;
	size_t bufs = 16 * PAGE + idx * NPA_QSIZE * NPA_BUFSZ;
	struct vhost_vring_state num = { idx, NPA_QSIZE }, base = { idx, 0 };
	struct vhost_vring_state enable = { idx, 1 };
	struct vhost_vring_addr addr = { .index = idx };
	struct vhost_vring_file kfile = { idx, -1 };

	vq->idx = idx;
	vq->desc = (void *)(d->mem + ring);
	vq->avail = (void *)(d->mem + ring + PAGE);
	vq->used = (void *)(d->mem + ring + 2 * PAGE);
	vq->buf = d->mem + bufs;
	vq->desc_gpa = d->mem_gpa + ring;
	vq->avail_gpa = vq->desc_gpa + PAGE;
	vq->used_gpa = vq->desc_gpa + 2 * PAGE;
	vq->buf_gpa = d->mem_gpa + bufs;
	vq->kick_fd = -1;

	addr.desc_user_addr = vq->desc_gpa;
	addr.avail_user_addr = vq->avail_gpa;
	addr.used_user_addr = vq->used_gpa;
	if (d->log_all) {
		addr.flags = 1 << VHOST_VRING_F_LOG;
		addr.log_guest_addr = vq->used_gpa;
	}
	/* Where the guest's ring stands, as after a migration. */
	base.num = d->base;
	vq->avail_idx = d->base;
	vq->last_used = d->base;
	vq->used->idx = d->base;
	vq->avail->idx = d->base;
	if (ioctl(d->device, VHOST_SET_VRING_NUM, &num) ||
	    ioctl(d->device, VHOST_SET_VRING_ADDR, &addr) ||
	    ioctl(d->device, VHOST_SET_VRING_BASE, &base))
		return fail("vring setup");
	if (set_call(d, vq))
		return -1;
	if (d->kick == NPA_KICK_EVENTFD) {
		vq->kick_fd = eventfd(0, EFD_CLOEXEC);
		kfile.fd = vq->kick_fd;
		if (vq->kick_fd < 0 ||
		    ioctl(d->device, VHOST_SET_VRING_KICK, &kfile))
			return fail("VHOST_SET_VRING_KICK");
	}
	if (ioctl(d->device, VHOST_VDPA_SET_VRING_ENABLE, &enable))
		return fail("VHOST_VDPA_SET_VRING_ENABLE");
	return 0;
}

static int set_status(struct npa_dev *d, __u8 status)
{
	__u8 now;

	if (ioctl(d->device, VHOST_VDPA_SET_STATUS, &status))
		return fail("VHOST_VDPA_SET_STATUS");
	if (ioctl(d->device, VHOST_VDPA_GET_STATUS, &now))
		return fail("VHOST_VDPA_GET_STATUS");
	if (now != status) {
		fprintf(stderr, "libnpa: status 0x%x, device has 0x%x\n",
			status, now);
		return -EIO;
	}
	return 0;
}

/* A dirty log for the whole memory, and a copy to check it against. */
static int set_log_base(struct npa_dev *d)
{
	if (!(d->features & (1ULL << VHOST_F_LOG_ALL))) {
		errno = EOPNOTSUPP;
		return fail("VHOST_F_LOG_ALL not offered");
	}
	if (!d->log) {
		d->log_size = (d->mem_gpa + d->mem_size) / PAGE / 8;
		d->log = calloc(1, d->log_size);
		d->log_expect = calloc(1, d->log_size);
		if (!d->log || !d->log_expect)
			return fail("dirty log");
	}
	if (ioctl(d->device, VHOST_SET_LOG_BASE, &(__u64){ (uintptr_t)d->log }))
		return fail("VHOST_SET_LOG_BASE");
	return 0;
}

int npa_set_log_all(struct npa_dev *d, bool on)
{
	__u64 features = d->acked & ~(1ULL << VHOST_F_LOG_ALL);
	struct vhost_vring_addr addr;
	int q, ret;

	if (on) {
		ret = set_log_base(d);
		if (ret)
			return ret;
		features |= 1ULL << VHOST_F_LOG_ALL;
	}
	if (ioctl(d->device, VHOST_SET_FEATURES, &features))
		return fail("VHOST_SET_FEATURES (dirty log)");
	d->acked = features;
	d->log_all = on;
	for (q = 0; q < NPA_NQ; q++) {
		addr = (struct vhost_vring_addr){
			.index = q,
			.flags = on ? 1 << VHOST_VRING_F_LOG : 0,
			.desc_user_addr = d->vq[q].desc_gpa,
			.avail_user_addr = d->vq[q].avail_gpa,
			.used_user_addr = d->vq[q].used_gpa,
			.log_guest_addr = d->vq[q].used_gpa,
		};
		if (ioctl(d->device, VHOST_SET_VRING_ADDR, &addr))
			return fail("VHOST_SET_VRING_ADDR (dirty log)");
	}
	return 0;
}

int npa_start(struct npa_dev *d, enum npa_kick kick)
{
	struct {
		struct vhost_memory hdr;
		struct vhost_memory_region r;
	} table = { .hdr = { .nregions = 1 } };
	__u64 features = (1ULL << VIRTIO_F_VERSION_1) |
			    (1ULL << VIRTIO_F_ACCESS_PLATFORM) |
			    (1ULL << VIRTIO_NET_F_MAC);
	__u8 status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;
	struct npa_vq *rx = &d->vq[NPA_RXQ];
	int i, ret;

	d->kick = kick;
	d->mem_size = NPA_MEM_SIZE;
	d->mem_gpa = NPA_GPA_BASE;
	d->mem = mmap(NULL, d->mem_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		return fail("mmap guest memory");
	}
	table.r.guest_phys_addr = d->mem_gpa;
	table.r.memory_size = d->mem_size;
	table.r.userspace_addr = (uintptr_t)d->mem;
	if (ioctl(d->device, VHOST_SET_MEM_TABLE, &table))
		return fail("VHOST_SET_MEM_TABLE");

	if (d->log_all) {
		ret = set_log_base(d);
		if (ret)
			return ret;
		features |= 1ULL << VHOST_F_LOG_ALL;
	}
	if (d->event_idx)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	features &= d->features;
	if (ioctl(d->device, VHOST_SET_FEATURES, &features))
		return fail("VHOST_SET_FEATURES");
	d->acked = features;
	ret = set_status(d, status);
	if (!ret)
		ret = set_status(d, status |= VIRTIO_CONFIG_S_FEATURES_OK);
	if (ret)
		return ret;
	ret = find_doorbells(d);
	for (i = 0; !ret && i < NPA_NQ; i++)
		ret = setup_vq(d, i);
	if (ret)
		return ret;

	for (i = 0; i < NPA_QSIZE; i++) {
		rx->desc[i].addr = rx->buf_gpa + i * NPA_BUFSZ;
		rx->desc[i].len = NPA_BUFSZ;
		rx->desc[i].flags = VRING_DESC_F_WRITE;
		rx->avail->ring[i] = i;
	}
	rx->avail_idx = d->base + NPA_QSIZE;
	publish_avail(rx);

	ret = set_status(d, status | VIRTIO_CONFIG_S_DRIVER_OK);
	if (ret)
		return ret;
	notify(d, rx);
	return 0;
}

void npa_close(struct npa_dev *d)
{
	__u8 zero = 0;
	int i;

	if (d->device >= 0)
		ioctl(d->device, VHOST_VDPA_SET_STATUS, &zero);
	if (d->doorbells)
		munmap(d->doorbells, NPA_NQ * PAGE);
	for (i = 0; i < NPA_NQ; i++) {
		if (d->vq[i].kick_fd > 0)
			close(d->vq[i].kick_fd);
		if (d->vq[i].call_fd > 0)
			close(d->vq[i].call_fd);
	}
	if (d->config_fd >= 0)
		close(d->config_fd);
	if (d->req_fd > 0)
		close(d->req_fd);
	d->req_fd = -1;
	if (d->device >= 0)
		close(d->device);
	if (d->group >= 0)
		close(d->group);
	if (d->container >= 0)
		close(d->container);
	if (d->mem)
		munmap(d->mem, d->mem_size);
	free(d->log);
	free(d->log_expect);
	d->log = NULL;
	d->log_expect = NULL;
	d->device = -1;
	d->group = -1;
	d->container = -1;
}

int npa_request_channel(struct npa_dev *d)
{
	d->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->req_fd < 0)
		return fail("eventfd");
	return npa_set_irq(d->device, VHOST_NPA_REQ_IRQ_INDEX, 0, d->req_fd);
}

/* Has the host asked for the device back?  Says so once. */
static bool asked_back(struct npa_dev *d)
{
	__u64 n;

	if (!d->asked_back && d->req_fd > 0 &&
	    read(d->req_fd, &n, sizeof(n)) == sizeof(n)) {
		d->asked_back = true;
		fprintf(stderr, "libnpa: the host asked for the device back\n");
	}
	return d->asked_back;
}

/*
 * Wait for the queue's call eventfd (the VF's MSI-X), the host asking for
 * the device back, or the timeout.
 */
static void wait_call(struct npa_dev *d, struct npa_vq *vq, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = vq->call_fd, .events = POLLIN },
		{ .fd = d->req_fd > 0 ? d->req_fd : -1, .events = POLLIN },
	};
	__u64 n;

	if (poll(p, 2, timeout_ms) > 0 && (p[0].revents & POLLIN) &&
	    read(vq->call_fd, &n, sizeof(n)) == sizeof(n))
		d->calls += n;
}

int npa_tx_reclaim(struct npa_dev *d)
{
	struct npa_vq *vq = &d->vq[NPA_TXQ];
	int free = NPA_QSIZE - vq->inflight;

	while (vq->last_used != used_idx(vq)) {
		vq->last_used++;
		vq->inflight--;
	}
	return free;
}

int npa_tx_burst(struct npa_dev *d, const __u8 *const *frames,
		 const size_t *lens, int n)
{
	struct npa_vq *vq = &d->vq[NPA_TXQ];
	int i, tries;

	if (asked_back(d))
		return -ENODEV;
	for (i = 0; i < n; i++) {
		__u16 id = vq->avail_idx % NPA_QSIZE;
		__u8 *buf = vq->buf + id * NPA_BUFSZ;

		if (lens[i] + NPA_HDRSZ > NPA_BUFSZ)
			return -EMSGSIZE;
		for (tries = 0; vq->inflight == NPA_QSIZE; tries++) {
			if (asked_back(d))
				return -ENODEV;
			if (tries == 50) {
				fprintf(stderr, "libnpa: tx ring stuck\n");
				return -ETIMEDOUT;
			}
			wait_call(d, vq, 100);
			npa_tx_reclaim(d);
		}
		memset(buf, 0, NPA_HDRSZ);
		memcpy(buf + NPA_HDRSZ, frames[i], lens[i]);
		vq->desc[id].addr = vq->buf_gpa + id * NPA_BUFSZ;
		vq->desc[id].len = NPA_HDRSZ + lens[i];
		vq->desc[id].flags = 0;
		vq->avail->ring[id] = id;
		vq->avail_idx++;
		vq->inflight++;
		publish_avail(vq);
	}
	notify(d, vq);
	return 0;
}

/* With log_all: the device wrote [@gpa, @gpa + @len). */
static void expect_written(struct npa_dev *d, __u64 gpa, __u32 len)
{
	__u64 p;

	if (!d->log_expect || !len)
		return;
	for (p = gpa / PAGE; p <= (gpa + len - 1) / PAGE; p++)
		d->log_expect[p / 8] |= 1 << (p % 8);
}

int npa_log_check(struct npa_dev *d, int *marked)
{
	struct npa_vq *rx = &d->vq[NPA_RXQ];
	struct vring_used_elem e;
	__u16 i, end = used_idx(rx);
	int bad = 0, q;
	size_t p;

	*marked = 0;
	if (!d->log)
		return -1;
	/* Used receive buffers not read yet were written all the same. */
	for (i = rx->last_used; i != end; i++) {
		e = rx->used->ring[i % NPA_QSIZE];
		if (e.id < NPA_QSIZE && e.len <= NPA_BUFSZ)
			expect_written(d, rx->buf_gpa + e.id * NPA_BUFSZ, e.len);
	}
	for (q = 0; q < NPA_NQ; q++)
		expect_written(d, d->vq[q].used_gpa,
			       4 + 8 * NPA_QSIZE + 2);
	for (p = 0; p < d->log_size * 8; p++) {
		bool got = __atomic_load_n(&d->log[p / 8], __ATOMIC_RELAXED) &
			   (1 << (p % 8));
		bool want = d->log_expect[p / 8] & (1 << (p % 8));

		*marked += got;
		if (got == want)
			continue;
		if (bad++ < 10)
			fprintf(stderr, "libnpa: guest page 0x%llx %s\n",
				(unsigned long long)p * PAGE,
				got ? "marked, not written by the device" :
				      "written by the device, not marked");
	}
	return bad;
}

int npa_rx(struct npa_dev *d, __u8 *buf, size_t len, int timeout_ms)
{
	struct npa_vq *vq = &d->vq[NPA_RXQ];
	struct vring_used_elem e;
	int waited = 0;
	size_t n;

	while (vq->last_used == used_idx(vq)) {
		if (asked_back(d))
			return -ENODEV;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		wait_call(d, vq, 10);
		waited += 10;
	}
	e = vq->used->ring[vq->last_used % NPA_QSIZE];
	vq->last_used++;
	if (e.id >= NPA_QSIZE || e.len < NPA_HDRSZ || e.len > NPA_BUFSZ)
		return -EIO;
	expect_written(d, vq->buf_gpa + e.id * NPA_BUFSZ, e.len);
	n = e.len - NPA_HDRSZ;
	if (n > len)
		n = len;
	memcpy(buf, vq->buf + e.id * NPA_BUFSZ + NPA_HDRSZ, n);

	/* Give the buffer back. */
	vq->avail->ring[vq->avail_idx % NPA_QSIZE] = e.id;
	vq->avail_idx++;
	publish_avail(vq);
	if (!(vq->avail_idx % 32))
		notify(d, vq);
	return n;
}

long npa_status_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtol(line + strlen(field), NULL, 10);
	if (f)
		fclose(f);
	return v;
}
