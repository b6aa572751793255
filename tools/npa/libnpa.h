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
#include <stdint.h>
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
	uint16_t idx;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa, buf_gpa;
	uint8_t *buf;
	uint16_t avail_idx;
	uint16_t last_used;
	uint16_t inflight;
	int kick_fd;
	int call_fd;
	uint16_t *doorbell;
};

struct npa_dev {
	int container, group, device;
	uint64_t features;
	uint8_t mac[6];
	uint8_t *mem;
	size_t mem_size;
	uint64_t mem_gpa;
	enum npa_kick kick;
	uint64_t notify_offset;
	void *doorbells;
	uint64_t calls;
	uint64_t kicks;
	struct npa_vq vq[NPA_NQ];
};

/* All return 0 or -errno, with a message on stderr. */
int npa_open(struct npa_dev *d, const char *uuid);
int npa_start(struct npa_dev *d, enum npa_kick kick);
void npa_close(struct npa_dev *d);

/* Queue frames (without the virtio-net header) and kick once. */
int npa_tx_burst(struct npa_dev *d, const uint8_t *const *frames,
		 const size_t *lens, int n);
/* Reclaim sent buffers; how many were free before the call. */
int npa_tx_reclaim(struct npa_dev *d);
/* Receive one frame into @buf, waiting up to @timeout_ms; length or -errno. */
int npa_rx(struct npa_dev *d, uint8_t *buf, size_t len, int timeout_ms);

#endif
