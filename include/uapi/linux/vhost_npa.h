/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhost_npa.h - userspace interface of npa mdev devices
 *
 * An npa mdev is a VFIO device (legacy group/container API) whose
 * device_api is VHOST_NPA_DEVICE_API_STRING.  See docs/uapi.md.
 */
#ifndef _UAPI_LINUX_VHOST_NPA_H
#define _UAPI_LINUX_VHOST_NPA_H

#include <linux/types.h>

/* The mdev type's device_api attribute, as mdevctl shows it. */
#define VHOST_NPA_DEVICE_API_STRING	"vhost-npa"

/*
 * Requests: the device fd serves these vhost ioctls of <linux/vhost.h>
 * (magic 0xAF, which no VFIO ioctl uses); docs/uapi.md has their errors.
 *   VHOST_GET_FEATURES VHOST_SET_FEATURES VHOST_SET_OWNER
 *   VHOST_SET_MEM_TABLE VHOST_SET_LOG_BASE
 *   VHOST_SET_VRING_NUM VHOST_SET_VRING_ADDR VHOST_SET_VRING_BASE
 *   VHOST_GET_VRING_BASE VHOST_SET_VRING_KICK
 *   VHOST_VDPA_GET_DEVICE_ID VHOST_VDPA_GET_STATUS VHOST_VDPA_SET_STATUS
 *   VHOST_VDPA_GET_CONFIG VHOST_VDPA_SET_CONFIG VHOST_VDPA_SET_VRING_ENABLE
 *   VHOST_VDPA_GET_VRING_NUM VHOST_VDPA_GET_CONFIG_SIZE
 *   VHOST_VDPA_GET_VQS_COUNT
 * Vring call and config change eventfds are VFIO interrupts (below).
 */

/*
 * Interrupt indexes for VFIO_DEVICE_GET_IRQ_INFO / VFIO_DEVICE_SET_IRQS.
 *
 * VHOST_NPA_VQ_IRQ_INDEX: one eventfd per virtqueue, signalled when the
 * device used buffers (the vring call).
 * VHOST_NPA_CONFIG_IRQ_INDEX: one eventfd, signalled when the device
 * config space changed (link status).
 * VHOST_NPA_REQ_IRQ_INDEX: one eventfd, signalled when the kernel wants the
 * device back (mdev removal, VF unbind, module unload).  The user should
 * stop using the device and close its file descriptor.
 */
enum {
	VHOST_NPA_VQ_IRQ_INDEX,
	VHOST_NPA_CONFIG_IRQ_INDEX,
	VHOST_NPA_REQ_IRQ_INDEX,
	VHOST_NPA_NUM_IRQS
};

/*
 * The doorbell region, found with VFIO_DEVICE_GET_REGION_INFO through its
 * VFIO_REGION_INFO_CAP_TYPE capability.  Page i is virtqueue i's doorbell:
 * a 16-bit write of i there (pwrite at the region's offset, or a store into
 * an mmap of the page) notifies the device.  The region is mmappable
 * (VFIO_REGION_INFO_FLAG_MMAP) when every doorbell has a page of its own.
 */
#define VHOST_NPA_REGION_TYPE		0x6e7061	/* "npa" */
#define VHOST_NPA_REGION_SUBTYPE_NOTIFY	1

#endif /* _UAPI_LINUX_VHOST_NPA_H */
