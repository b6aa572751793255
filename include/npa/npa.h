/* SPDX-License-Identifier: GPL-2.0 */
/*
 * npa: the interface between the VF layer (drivers/vdpa/npa/) and the
 * mdev/VFIO layer (drivers/vfio/mdev/npa_mdev.c).
 *
 * The VF layer knows registers and nothing of VFIO; the mdev layer knows
 * VFIO and nothing of registers.  A VF family plugs in by filling a
 * struct npa_vf_ops and calling npa_mdev_register_vf().
 */
#ifndef _NPA_NPA_H
#define _NPA_NPA_H

#include <linux/types.h>

struct device;
struct npa_vf;
struct npa_mdev_parent;

/**
 * struct npa_vf_ops - what a VF family does for the mdev layer
 * @get_device_features: virtio feature bits the device offers
 * @get_vq_num: number of virtqueues the device has
 */
struct npa_vf_ops {
	u64 (*get_device_features)(struct npa_vf *vf);
	u16 (*get_vq_num)(struct npa_vf *vf);
};

/**
 * struct npa_vf - one VRING-capable function handed to npa
 * @dev: the function's device; it becomes the mdev parent
 * @ops: the family's operations
 */
struct npa_vf {
	struct device *dev;
	const struct npa_vf_ops *ops;
};

struct npa_mdev_parent *npa_mdev_register_vf(struct npa_vf *vf);
void npa_mdev_unregister_vf(struct npa_mdev_parent *parent);

#endif /* _NPA_NPA_H */
