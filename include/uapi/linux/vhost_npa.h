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
 * Interrupt indexes for VFIO_DEVICE_GET_IRQ_INFO / VFIO_DEVICE_SET_IRQS.
 *
 * VHOST_NPA_REQ_IRQ_INDEX: one eventfd, signalled when the kernel wants the
 * device back (mdev removal, VF unbind, module unload).  The user should
 * stop using the device and close its file descriptor.
 */
enum {
	VHOST_NPA_REQ_IRQ_INDEX,
	VHOST_NPA_NUM_IRQS
};

#endif /* _UAPI_LINUX_VHOST_NPA_H */
