/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libnpa: a small userspace driver for npa mdevs.  It plays the VMM: opens
 * the mdev through VFIO, lays out split virtqueues in its own memory (which
 * it hands to npa as "guest" memory) and moves Ethernet frames through the
 * VF.
 */
#ifndef LIBNPA_H
#define LIBNPA_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <linux/virtio_ring.h>

#define NPA_RXQ		0
#define NPA_TXQ		1
#define NPA_NQ		2
#define NPA_QSIZE	256
#define NPA_BUFSZ	2048
#define NPA_HDRSZ	12	/* struct virtio_net_hdr_v1 */

enum npa_kick {
	NPA_KICK_EVENTFD,	/* VHOST_SET_VRING_KICK: eventfd -> doorbell */
	NPA_KICK_MMAP,		/* store into the mmapped doorbell page */
	NPA_KICK_WRITE,		/* pwrite() to the doorbell region */
};

struct npa_vq {
	__u16 idx;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	__u64 desc_gpa, avail_gpa, used_gpa, buf_gpa;
	__u8 *buf;
	__u16 avail_idx;
	__u16 last_used;
	__u16 inflight;
	int kick_fd;
	int call_fd;
	__u16 *doorbell;
};

struct npa_dev {
	int container, group, device;
	__u64 features;
	__u8 mac[6];
	__u8 *mem;
	size_t mem_size;
	__u64 mem_gpa;
	enum npa_kick kick;
	__u64 notify_offset;
	void *doorbells;
	__u64 calls;
	__u64 kicks;
	int config_fd;
	int req_fd;
	bool asked_back;
	/*
	 * Set before npa_start(): dirty logging on, rings starting at base,
	 * VIRTIO_RING_F_EVENT_IDX negotiated (where the device offers it; the
	 * caller writes the used events, libnpa polls the used rings anyway).
	 */
	bool log_all;
	__u16 base;
	bool event_idx;
	/* With log_all: the dirty log, and the pages the device must have written. */
	__u8 *log, *log_expect;
	size_t log_size;
	__u64 acked;	/* the features negotiated */
	struct npa_vq vq[NPA_NQ];
};

/* All return 0 or -errno, with a message on stderr. */
/* Container, group and device fds of an mdev; the device fd or -errno. */
int npa_vfio_open(const char *uuid, int *container, int *group);
/* Another device fd of an mdev whose group is open; the fd or -errno. */
int npa_vfio_device(int group, const char *uuid);
/* Open an mdev, become its owner and read its features and MAC. */
int npa_open(struct npa_dev *d, const char *uuid);
/* Read the features and MAC of d->device, already open and owned. */
int npa_identify(struct npa_dev *d);
/*
 * Listen for the host asking for the device back (the request eventfd), as
 * a VMM does: once it has, transmit and receive fail with -ENODEV and the
 * caller should npa_close().
 */
int npa_request_channel(struct npa_dev *d);
/* Point one VFIO interrupt of the device at an eventfd (-1: none). */
int npa_set_irq(int device, __u32 index, __u32 start, int fd);
int npa_start(struct npa_dev *d, enum npa_kick kick);
void npa_close(struct npa_dev *d);

/* Queue frames (without the virtio-net header) and kick once. */
int npa_tx_burst(struct npa_dev *d, const __u8 *const *frames,
		 const size_t *lens, int n);
/* Reclaim sent buffers; how many were free before the call. */
int npa_tx_reclaim(struct npa_dev *d);
/* Config change interrupts: enable them, wait for one (1, or 0 on timeout). */
int npa_config_irq(struct npa_dev *d);
int npa_wait_config(struct npa_dev *d, int timeout_ms);
/* The link status bit of the device config space. */
bool npa_link_up(struct npa_dev *d);
/* Receive one frame into @buf, waiting up to @timeout_ms; length or -errno. */
int npa_rx(struct npa_dev *d, __u8 *buf, size_t len, int timeout_ms);
/*
 * Turn dirty logging on or off on the running device (VHOST_SET_FEATURES
 * with VHOST_F_LOG_ALL, the used rings' VHOST_VRING_F_LOG), as QEMU does
 * when a migration starts or ends.
 */
int npa_set_log_all(struct npa_dev *d, bool on);
/*
 * With log_all: compare the dirty log with the pages the device wrote (the
 * receive buffers by their used length, both used rings); the number of
 * pages that differ, each one reported on stderr.  @marked: pages marked.
 */
int npa_log_check(struct npa_dev *d, int *marked);
/* A field of /proc/self/status in kB (e.g. "VmLck:"), -1 if absent. */
long npa_status_kb(const char *field);

#endif
