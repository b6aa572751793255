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
 * struct npa_vf_cb - an interrupt callback, run in hard interrupt context
 * @callback: the function, NULL for none
 * @priv: its argument
 */
struct npa_vf_cb {
	void (*callback)(void *priv);
	void *priv;
};

/**
 * struct npa_vf_ops - what a VF family does for the mdev layer
 *
 * Queue indexes are below get_vq_num().  Ops that program queues are only
 * called while the device is reset or before DRIVER_OK is set.
 *
 * @get_device_features: virtio feature bits the device offers
 * @set_driver_features: write the negotiated feature bits
 * @get_status: read the virtio device status
 * @set_status: write a non-zero virtio device status
 * @reset: reset the device and wait until it is done
 * @get_vq_num: number of virtqueues the device has
 * @get_vq_num_max: largest ring size of a queue
 * @set_vq: program a queue's size and ring addresses (IOVAs), and its
 *	interrupt; the queue is enabled
 * @kick_vq: notify the device of new buffers; atomic context
 * @get_vq_notify: physical address of a queue's doorbell, or 0 when it
 *	does not sit alone in a page of its own (it cannot be mmapped)
 * @get_vq_irq: the Linux IRQ of a queue's interrupt, for irq bypass
 * @set_vq_cb: what a queue's interrupt calls
 * @set_config_cb: what the config change interrupt calls
 * @get_config_size: size of the device config space
 * @get_config: read from the device config space
 * @dma_map: map [@iova, @iova + @size) to @pa in the VF's IOMMU domain
 * @dma_unmap: remove a mapping made by @dma_map
 */
struct npa_vf_ops {
	u64 (*get_device_features)(struct npa_vf *vf);
	void (*set_driver_features)(struct npa_vf *vf, u64 features);
	u8 (*get_status)(struct npa_vf *vf);
	void (*set_status)(struct npa_vf *vf, u8 status);
	void (*reset)(struct npa_vf *vf);
	u16 (*get_vq_num)(struct npa_vf *vf);
	u16 (*get_vq_num_max)(struct npa_vf *vf, u16 qid);
	void (*set_vq)(struct npa_vf *vf, u16 qid, u16 num, u64 desc,
		       u64 driver, u64 device);
	void (*kick_vq)(struct npa_vf *vf, u16 qid);
	phys_addr_t (*get_vq_notify)(struct npa_vf *vf, u16 qid);
	int (*get_vq_irq)(struct npa_vf *vf, u16 qid);
	void (*set_vq_cb)(struct npa_vf *vf, u16 qid,
			  const struct npa_vf_cb *cb);
	void (*set_config_cb)(struct npa_vf *vf, const struct npa_vf_cb *cb);
	u32 (*get_config_size)(struct npa_vf *vf);
	void (*get_config)(struct npa_vf *vf, unsigned int offset, void *buf,
			   unsigned int len);
	int (*dma_map)(struct npa_vf *vf, u64 iova, phys_addr_t pa,
		       size_t size, int prot);
	void (*dma_unmap)(struct npa_vf *vf, u64 iova, size_t size);
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
