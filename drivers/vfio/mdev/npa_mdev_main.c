// SPDX-License-Identifier: GPL-2.0
/*
 * npa_mdev - a vdpa bus driver whose devices are VFIO mdev parents
 *
 * Every vdpa device handed to npa_mdev (driver_override) becomes an mdev
 * parent with one type, "net", and one instance.  An mdev of that type is a
 * vfio_device that serves vhost requests for the vdpa device's virtqueues
 * (include/uapi/linux/vhost_npa.h).  The device is reached only through its
 * vdpa_config_ops and the vdpa core's helpers; its DMA goes through the
 * parent's dma_map or set_map when it has them, otherwise through an IOMMU
 * domain npa_mdev owns on vdpa_get_dma_dev(), as vhost-vdpa does.
 */
#include <linux/eventfd.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/irqbypass.h>
#include <linux/mdev.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vdpa.h>
#include <linux/vfio.h>
#include <linux/vhost.h>
#include <linux/vhost_iotlb.h>
#include <linux/vhost_npa.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "npa_mdev.h"

/* What npa lets a user negotiate, whatever else the device offers. */
#define NPA_MDEV_FEATURES						\
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_F_ACCESS_PLATFORM) |	\
	 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) |				\
	 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) |				\
	 BIT_ULL(VIRTIO_NET_F_CSUM) | BIT_ULL(VIRTIO_NET_F_GUEST_CSUM) |	\
	 BIT_ULL(VIRTIO_NET_F_MTU) | BIT_ULL(VIRTIO_NET_F_MAC) |		\
	 BIT_ULL(VIRTIO_NET_F_GUEST_TSO4) | BIT_ULL(VIRTIO_NET_F_GUEST_TSO6) | \
	 BIT_ULL(VIRTIO_NET_F_GUEST_ECN) | BIT_ULL(VIRTIO_NET_F_GUEST_UFO) |	\
	 BIT_ULL(VIRTIO_NET_F_HOST_TSO4) | BIT_ULL(VIRTIO_NET_F_HOST_TSO6) |	\
	 BIT_ULL(VIRTIO_NET_F_HOST_ECN) | BIT_ULL(VIRTIO_NET_F_HOST_UFO) |	\
	 BIT_ULL(VIRTIO_NET_F_MRG_RXBUF) | BIT_ULL(VIRTIO_NET_F_STATUS))

/*
 * The queues a user sees: one receive and one transmit queue.  A control
 * queue the device has stays out of reach: the VMM emulates one for the
 * guest, and the device's own would let the user change what is the host
 * admin's (the MAC).
 */
#define NPA_MDEV_DATA_VQS		2

/* Region offsets in the device fd, as vfio-pci lays them out. */
#define NPA_MDEV_OFFSET_SHIFT		40
#define NPA_MDEV_NOTIFY_REGION		0

/*
 * The vdpa and mdev drivers' name: what driver_override must say on the
 * vdpa bus, and the prefix of the mdev type's name (npa-net).
 */
#define NPA_MDEV_DRIVER_NAME		"npa"

static struct npa_mdev *vdev_to_nm(struct vfio_device *vdev)
{
	return container_of(vdev, struct npa_mdev, vdev);
}

static struct npa_mdev_parent *mtype_to_np(struct mdev_type *mtype)
{
	return container_of(mtype->parent, struct npa_mdev_parent, parent);
}

static u64 npa_mdev_device_features(struct vdpa_device *vdpa)
{
	return vdpa->config->get_device_features(vdpa);
}

/* VHOST_F_LOG_ALL is npa's own (relay mode), where the relay has room. */
static u64 npa_mdev_offered(struct npa_mdev *nm)
{
	u64 offered = npa_mdev_device_features(nm->vdpa) & NPA_MDEV_FEATURES;

	if (nm->np->relay_iova)
		offered |= BIT_ULL(VHOST_F_LOG_ALL);
	return offered;
}

static int npa_mdev_init_dev(struct vfio_device *vdev)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	int i;

	nm->np = mtype_to_np(mdev->type);
	nm->vdpa = nm->np->vdpa;
	nm->nvqs = NPA_MDEV_DATA_VQS;
	nm->vqs = kcalloc(nm->nvqs, sizeof(*nm->vqs), GFP_KERNEL);
	if (!nm->vqs)
		return -ENOMEM;
	nm->iotlb = vhost_iotlb_alloc(NPA_MDEV_MAX_MEM_REGIONS, 0);
	if (!nm->iotlb) {
		kfree(nm->vqs);
		return -ENOMEM;
	}
	for (i = 0; i < nm->nvqs; i++) {
		nm->vqs[i].nm = nm;
		spin_lock_init(&nm->vqs[i].call_lock);
		INIT_WORK(&nm->vqs[i].relay_work, npa_relay_work);
	}
	spin_lock_init(&nm->irq_lock);
	init_rwsem(&nm->doorbell_lock);
	mutex_init(&nm->lock);
	return 0;
}

static void npa_mdev_release_dev(struct vfio_device *vdev)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);

	mutex_destroy(&nm->lock);
	vhost_iotlb_free(nm->iotlb);
	kfree(nm->vqs);
}

/* Replace an eventfd under its spinlock; @ctx may be NULL. */
static void npa_mdev_swap_ctx(spinlock_t *lock, struct eventfd_ctx **slot,
			      struct eventfd_ctx *ctx)
{
	struct eventfd_ctx *old;

	spin_lock_irq(lock);
	old = *slot;
	*slot = ctx;
	spin_unlock_irq(lock);
	if (old)
		eventfd_ctx_put(old);
}

/* Signal an eventfd, if set; from any context. */
static void npa_mdev_signal(spinlock_t *lock, struct eventfd_ctx *const *slot)
{
	unsigned long flags;

	spin_lock_irqsave(lock, flags);
	if (*slot)
		eventfd_signal(*slot);
	spin_unlock_irqrestore(lock, flags);
}

void npa_mdev_vq_call(struct npa_mdev_vq *vq)
{
	atomic64_inc(&vq->nm->host_calls);
	npa_mdev_signal(&vq->call_lock, &vq->call);
}

/* The device used buffers: tell the guest, or the relay in relay mode. */
static irqreturn_t npa_mdev_vq_cb(void *priv)
{
	struct npa_mdev_vq *vq = priv;

	if (READ_ONCE(vq->relay))
		npa_relay_poke(vq);
	else
		npa_mdev_vq_call(vq);
	return IRQ_HANDLED;
}

static irqreturn_t npa_mdev_config_cb(void *priv)
{
	struct npa_mdev *nm = priv;

	npa_mdev_signal(&nm->irq_lock, &nm->config_call);
	return IRQ_HANDLED;
}

static u16 vq_index(struct npa_mdev_vq *vq)
{
	return vq - vq->nm->vqs;
}

/*
 * While the device runs, KVM may post a queue's interrupt straight to the
 * guest: the queue's IRQ (get_vq_irq) is the producer, the call eventfd
 * the token.  Without get_vq_irq, interrupts go through the host.  As
 * vhost-vdpa does, this asks for the IRQ once the parent has DRIVER_OK and
 * lets go of it before the parent is reset: vp_vdpa, ifcvf and mlx5_vdpa
 * allocate their queues' IRQs at DRIVER_OK and free them at reset.
 */
static void npa_mdev_bypass_on(struct npa_mdev_vq *vq)
{
	struct vdpa_device *vdpa = vq->nm->vdpa;
	int irq, ret;

	if (vq->bypass || !vq->call || !vq->ready || vq->relay ||
	    !vdpa->config->get_vq_irq)
		return;
	irq = vdpa->config->get_vq_irq(vdpa, vq_index(vq));
	if (irq < 0)
		return;
	vq->producer.token = vq->call;
	vq->producer.irq = irq;
	ret = irq_bypass_register_producer(&vq->producer);
	if (ret)
		dev_info_ratelimited(vq->nm->vdev.dev,
				     "queue %u: no irq bypass (%d), interrupts go through the host\n",
				     vq_index(vq), ret);
	vq->bypass = !ret;
}

static void npa_mdev_bypass_off(struct npa_mdev_vq *vq)
{
	if (vq->bypass)
		irq_bypass_unregister_producer(&vq->producer);
	vq->bypass = false;
}

static int npa_mdev_check_rings(struct npa_mdev_vq *vq)
{
	struct npa_mdev *nm = vq->nm;
	u64 num = vq->num;

	if (!vq->num || !vq->addr_set) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "queue %u: enabled without a size or ring addresses\n",
				     vq_index(vq));
		return -EINVAL;
	}
	if (!npa_mem_covers(nm, vq->desc, 16 * num) ||
	    !npa_mem_covers(nm, vq->avail, 6 + 2 * num) ||
	    !npa_mem_covers(nm, vq->used, 6 + 8 * num)) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "queue %u: a ring lies outside the memory table\n",
				     vq_index(vq));
		return -EINVAL;
	}
	return 0;
}

/*
 * The device's used index, read from guest memory; once the device is
 * reset, the one it had then: a VMM that stops the device and asks where
 * the ring stands (VHOST_GET_VRING_BASE) gets the truth, never 0.
 */
static u16 npa_mdev_used_idx(struct npa_mdev_vq *vq)
{
	u64 gpa = vq->used + offsetof(struct vring_used, idx);
	struct page *page;
	__le16 *p;
	u16 idx;

	page = vq->addr_set && npa_mem_covers(vq->nm, gpa, 2) ?
	       npa_mem_page(vq->nm, gpa) : NULL;
	if (!page)
		return vq->base;
	p = kmap_local_page(page);
	idx = le16_to_cpu(READ_ONCE(p[offset_in_page(gpa) / 2]));
	kunmap_local(p);
	return idx;
}

/*
 * Point the device's interrupts at npa (@on) or at nothing.  A reset may
 * forget them (vdpa_sim, mlx5_vdpa do): every start sets them again.
 */
static void npa_mdev_set_callbacks(struct npa_mdev *nm, bool on)
{
	const struct vdpa_config_ops *ops = nm->vdpa->config;
	struct vdpa_callback cb = {};
	int i;

	for (i = 0; i < nm->nvqs; i++) {
		if (on) {
			cb.callback = npa_mdev_vq_cb;
			cb.private = &nm->vqs[i];
		}
		ops->set_vq_cb(nm->vdpa, i, &cb);
	}
	if (on) {
		cb.callback = npa_mdev_config_cb;
		cb.private = nm;
	}
	ops->set_config_cb(nm->vdpa, &cb);
}

/*
 * A running queue in direct mode, where the parent can tell (suspend, then
 * get_vq_state): the avail index to resume from, into vq->base.
 */
static bool npa_mdev_save_base(struct npa_mdev *nm, u16 i)
{
	const struct vdpa_config_ops *ops = nm->vdpa->config;
	struct npa_mdev_vq *vq = &nm->vqs[i];
	struct vdpa_vq_state state;

	if (!(nm->status & VIRTIO_CONFIG_S_DRIVER_OK) || !vq->ready ||
	    vq->relay || !ops->suspend || !ops->get_vq_state ||
	    ops->get_vq_state(nm->vdpa, i, &state))
		return false;
	vq->base = state.split.avail_index;
	return true;
}

/*
 * Stop the device: reset it.  Each queue that ran keeps where it stands in
 * vq->base (for VHOST_GET_VRING_BASE, or to start again there): taken from
 * the parent where it can tell, from the relay in relay mode, and
 * otherwise (a virtio 1.x VF in direct mode) the used index the device
 * left in guest memory, which it no longer writes once reset.
 */
static void npa_mdev_stop(struct npa_mdev *nm)
{
	const struct vdpa_config_ops *ops = nm->vdpa->config;
	bool saved[NPA_MDEV_DATA_VQS] = {};
	int i;

	for (i = 0; i < nm->nvqs; i++)
		npa_mdev_bypass_off(&nm->vqs[i]);
	if ((nm->status & VIRTIO_CONFIG_S_DRIVER_OK) && ops->suspend &&
	    !ops->suspend(nm->vdpa))
		for (i = 0; i < nm->nvqs; i++)
			saved[i] = npa_mdev_save_base(nm, i);
	if (vdpa_reset(nm->vdpa, 0))
		dev_warn_ratelimited(nm->vdev.dev, "the device did not reset\n");
	for (i = 0; i < nm->nvqs; i++) {
		struct npa_mdev_vq *vq = &nm->vqs[i];

		if (vq->relay)
			npa_relay_stop(vq);
		else if (!saved[i] && vq->ready &&
			 (nm->status & VIRTIO_CONFIG_S_DRIVER_OK))
			vq->base = npa_mdev_used_idx(vq);
	}
}

/* Back to the state of a device just opened by its owner, but vq->base. */
static void npa_mdev_reset(struct npa_mdev *nm)
{
	int i;

	npa_mdev_stop(nm);
	for (i = 0; i < nm->nvqs; i++) {
		struct npa_mdev_vq *vq = &nm->vqs[i];

		vq->num = 0;
		vq->ready = false;
		vq->addr_set = false;
		vq->log_used = false;
	}
	nm->features = 0;
	nm->features_set = false;
	nm->status = 0;
}

/*
 * Can queue @i start at vq->base on the device itself?  A fresh ring
 * starts at 0; another index needs a parent that loads ring state.
 */
static bool npa_mdev_load_base(struct npa_mdev *nm, u16 i)
{
	const struct vdpa_config_ops *ops = nm->vdpa->config;
	struct vdpa_vq_state state = {
		.split.avail_index = nm->vqs[i].base,
	};

	if (!nm->vqs[i].base)
		return true;
	return ops->set_vq_state && !ops->set_vq_state(nm->vdpa, i, &state);
}

/*
 * Each ready queue starts in direct mode (the device on the guest's ring),
 * or in relay mode (npa_relay.c) while the dirty log is on
 * (VHOST_F_LOG_ALL) or when it resumes at an index the device cannot load.
 */
static int npa_mdev_driver_ok(struct npa_mdev *nm)
{
	const struct vdpa_config_ops *ops = nm->vdpa->config;
	int i, ret;

	if (!nm->iotlb->nmaps) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "DRIVER_OK without a memory table\n");
		return -EINVAL;
	}
	for (i = 0; i < nm->nvqs; i++) {
		if (!nm->vqs[i].ready)
			continue;
		ret = npa_mdev_check_rings(&nm->vqs[i]);
		if (ret)
			return ret;
	}
	npa_mdev_set_callbacks(nm, true);
	for (i = 0; i < nm->nvqs; i++) {
		struct npa_mdev_vq *vq = &nm->vqs[i];
		u64 desc = vq->desc, avail = vq->avail, used = vq->used;

		if (!vq->ready)
			continue;
		ops->set_vq_num(nm->vdpa, i, vq->num);
		if ((nm->features & BIT_ULL(VHOST_F_LOG_ALL)) ||
		    !npa_mdev_load_base(nm, i)) {
			ret = npa_relay_start(vq, &desc, &avail, &used);
			if (ret)
				goto stop_relays;
		}
		ret = ops->set_vq_address(nm->vdpa, i, desc, avail, used);
		if (ret)
			goto stop_relays;
		ops->set_vq_ready(nm->vdpa, i, true);
	}
	/* What the guest made available before the relay started. */
	for (i = 0; i < nm->nvqs; i++)
		if (nm->vqs[i].relay)
			npa_relay_poke(&nm->vqs[i]);
	return 0;

stop_relays:
	dev_warn_ratelimited(nm->vdev.dev, "queue %d cannot start: %d\n", i,
			     ret);
	for (i = 0; i < nm->nvqs; i++)
		npa_relay_stop(&nm->vqs[i]);
	return ret;
}

/*
 * The features the device gets: the user's but npa's own VHOST_F_LOG_ALL.
 * Its DMA always goes through an IOMMU (or the parent's own translation,
 * which needs no feature bit).
 */
static int npa_mdev_device_set_features(struct npa_mdev *nm)
{
	return vdpa_set_features(nm->vdpa,
				 (nm->features & ~BIT_ULL(VHOST_F_LOG_ALL)) |
				 (npa_mdev_device_features(nm->vdpa) &
				  BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)));
}

/*
 * Restart the running device, each queue where it stands, to move queues
 * between direct and relay mode (docs/migration.md has why nothing is lost
 * or completed twice).  The guest sees no reset: its rings go on from where
 * the device left them.  On failure the device is reset, as by the user.
 */
static int npa_mdev_restart(struct npa_mdev *nm)
{
	u8 status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
		    VIRTIO_CONFIG_S_FEATURES_OK;
	int i, ret;

	npa_mdev_stop(nm);
	ret = npa_mdev_device_set_features(nm);
	if (!ret) {
		vdpa_set_status(nm->vdpa, status);
		if (!(nm->vdpa->config->get_status(nm->vdpa) &
		      VIRTIO_CONFIG_S_FEATURES_OK))
			ret = -EIO;
	}
	if (!ret)
		ret = npa_mdev_driver_ok(nm);
	if (ret) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "the device did not restart (%d): it is reset\n",
				     ret);
		npa_mdev_reset(nm);
		return ret;
	}
	vdpa_set_status(nm->vdpa, nm->status);
	for (i = 0; i < nm->nvqs; i++)
		npa_mdev_bypass_on(&nm->vqs[i]);
	return 0;
}

/*
 * VHOST_F_LOG_ALL toggled after FEATURES_OK, the one change accepted then,
 * as vhost-net's users start and end dirty logging on a running device.
 * On: each queue moves to relay mode (a running device is restarted).
 * Off: logging stops at once; the queues leave relay mode where the parent
 * can stop the device and load where each stands (suspend, set_vq_state),
 * otherwise when the user resets the device: a virtio 1.x VF cannot start
 * a ring anywhere but at 0.
 */
static int npa_mdev_set_log_all(struct npa_mdev *nm, u64 features)
{
	const struct vdpa_config_ops *ops = nm->vdpa->config;
	bool on = features & BIT_ULL(VHOST_F_LOG_ALL);

	if (on == !!(nm->features & BIT_ULL(VHOST_F_LOG_ALL)))
		return 0;
	nm->features = features;
	if (!(nm->status & VIRTIO_CONFIG_S_DRIVER_OK) ||
	    (!on && !(ops->suspend && ops->set_vq_state)))
		return 0;
	return npa_mdev_restart(nm);
}

static long npa_mdev_set_status(struct npa_mdev *nm, u8 __user *arg)
{
	u8 status, added;
	int i, ret;

	if (get_user(status, arg))
		return -EFAULT;
	if (!status) {
		npa_mdev_reset(nm);
		return 0;
	}
	if ((status & nm->status) != nm->status) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "status 0x%x clears bits of 0x%x without a reset\n",
				     status, nm->status);
		return -EINVAL;
	}
	added = status & ~nm->status;
	if (added & VIRTIO_CONFIG_S_FEATURES_OK) {
		if (!nm->features_set) {
			dev_warn_ratelimited(nm->vdev.dev,
					     "FEATURES_OK before VHOST_SET_FEATURES\n");
			return -EINVAL;
		}
		ret = npa_mdev_device_set_features(nm);
		if (ret)
			return ret;
	}
	if (added & VIRTIO_CONFIG_S_DRIVER_OK) {
		if (!(status & VIRTIO_CONFIG_S_FEATURES_OK)) {
			dev_warn_ratelimited(nm->vdev.dev,
					     "DRIVER_OK without FEATURES_OK\n");
			return -EINVAL;
		}
		ret = npa_mdev_driver_ok(nm);
		if (ret)
			return ret;
	}
	vdpa_set_status(nm->vdpa, status);
	if (added & VIRTIO_CONFIG_S_DRIVER_OK)
		for (i = 0; i < nm->nvqs; i++)
			npa_mdev_bypass_on(&nm->vqs[i]);
	/* As a virtio driver must: did the device accept the features? */
	if ((added & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(nm->vdpa->config->get_status(nm->vdpa) &
	      VIRTIO_CONFIG_S_FEATURES_OK)) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "the device did not accept features 0x%llx\n",
				     nm->features);
		npa_mdev_reset(nm);
		return -EINVAL;
	}
	nm->status = status;
	return 0;
}

static long npa_mdev_set_features(struct npa_mdev *nm, u64 __user *arg)
{
	u64 features, offered = npa_mdev_offered(nm);

	if (copy_from_user(&features, arg, sizeof(features)))
		return -EFAULT;
	if (nm->status & VIRTIO_CONFIG_S_FEATURES_OK) {
		if ((features ^ nm->features) & ~BIT_ULL(VHOST_F_LOG_ALL) ||
		    (features & ~offered))
			return -EBUSY;
		return npa_mdev_set_log_all(nm, features);
	}
	if (!(features & BIT_ULL(VIRTIO_F_VERSION_1))) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "features 0x%llx lack VIRTIO_F_VERSION_1\n",
				     features);
		return -EINVAL;
	}
	if (features & ~offered) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "features 0x%llx were not offered\n",
				     features & ~offered);
		return -EINVAL;
	}
	nm->features = features;
	nm->features_set = true;
	return 0;
}

static long npa_mdev_get_config(struct npa_mdev *nm, void __user *arg)
{
	struct vhost_vdpa_config hdr;
	size_t size = nm->vdpa->config->get_config_size(nm->vdpa);
	u8 *buf;
	long ret = 0;

	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.len > size || hdr.off > size - hdr.len)
		return -EINVAL;
	buf = kmalloc(hdr.len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	vdpa_get_config(nm->vdpa, hdr.off, buf, hdr.len);
	if (copy_to_user(arg + sizeof(hdr), buf, hdr.len))
		ret = -EFAULT;
	kfree(buf);
	return ret;
}

static int npa_mdev_kick(void *opaque, void *unused)
{
	struct npa_mdev_vq *vq = opaque;

	if (READ_ONCE(vq->relay)) {
		npa_relay_poke(vq);
		return 0;
	}
	atomic64_inc(&vq->nm->host_kicks);
	vq->nm->vdpa->config->kick_vq(vq->nm->vdpa, vq_index(vq));
	return 0;
}

/*
 * The largest ring queue @idx accepts: the queue's own limit, and never
 * more than the parent's get_vq_num_max (VHOST_VDPA_GET_VRING_NUM), which
 * may be the lower: vp_vdpa's is 256 whatever its function's queues take.
 */
static u16 npa_mdev_vq_num_max(struct npa_mdev *nm, u16 idx)
{
	const struct vdpa_config_ops *ops = nm->vdpa->config;
	u16 max = ops->get_vq_num_max(nm->vdpa);

	if (ops->get_vq_size)
		max = min(max, ops->get_vq_size(nm->vdpa, idx));
	return max;
}

/*
 * While the device runs, only the dirty log of the used ring may change
 * (VHOST_VRING_F_LOG, log_guest_addr), as vhost-net's users do when they
 * start and end logging; the rings stay where they are.
 */
static long npa_mdev_set_vring_addr(struct npa_mdev *nm,
				    struct npa_mdev_vq *vq, void __user *arg)
{
	struct vhost_vring_addr a;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.flags & ~BIT(VHOST_VRING_F_LOG))
		return -EOPNOTSUPP;
	if (!IS_ALIGNED(a.desc_user_addr, 16) ||
	    !IS_ALIGNED(a.avail_user_addr, 2) ||
	    !IS_ALIGNED(a.used_user_addr, 4)) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "queue %u: misaligned ring address\n",
				     vq_index(vq));
		return -EINVAL;
	}
	if ((nm->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    (!vq->addr_set || a.desc_user_addr != vq->desc ||
	     a.avail_user_addr != vq->avail || a.used_user_addr != vq->used))
		return -EBUSY;
	vq->desc = a.desc_user_addr;
	vq->avail = a.avail_user_addr;
	vq->used = a.used_user_addr;
	vq->log_used = a.flags & BIT(VHOST_VRING_F_LOG);
	vq->log_addr = a.log_guest_addr;
	vq->addr_set = true;
	return 0;
}

static long npa_mdev_vring_ioctl(struct npa_mdev *nm, unsigned int cmd,
				 void __user *arg)
{
	struct vhost_vring_state s;
	struct vhost_vring_file f;
	struct npa_mdev_vq *vq;
	u32 idx;
	u16 max;

	if (get_user(idx, (u32 __user *)arg))
		return -EFAULT;
	if (idx >= nm->nvqs)
		return -ENOBUFS;
	vq = &nm->vqs[idx];

	switch (cmd) {
	case VHOST_GET_VRING_BASE:
		s.index = idx;
		s.num = vq->relay ? npa_relay_index(vq) : npa_mdev_used_idx(vq);
		return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : 0;
	case VHOST_SET_VRING_KICK:
		if (copy_from_user(&f, arg, sizeof(f)))
			return -EFAULT;
		if (f.fd < -1)
			return -EINVAL;
		vfio_virqfd_disable(&vq->kick);
		if (f.fd == -1)
			return 0;
		return vfio_virqfd_enable(vq, npa_mdev_kick, NULL, NULL,
					  &vq->kick, f.fd);
	}

	/* The rest program the queue: not while the device runs. */
	if (cmd == VHOST_SET_VRING_ADDR)
		return npa_mdev_set_vring_addr(nm, vq, arg);
	if (nm->status & VIRTIO_CONFIG_S_DRIVER_OK)
		return -EBUSY;

	switch (cmd) {
	case VHOST_SET_VRING_NUM:
		if (copy_from_user(&s, arg, sizeof(s)))
			return -EFAULT;
		max = npa_mdev_vq_num_max(nm, idx);
		if (!s.num || s.num > max || !is_power_of_2(s.num)) {
			dev_warn_ratelimited(nm->vdev.dev,
					     "queue %u: size %u is not a power of 2 up to %u\n",
					     idx, s.num, max);
			return -EINVAL;
		}
		vq->num = s.num;
		return 0;
	case VHOST_SET_VRING_BASE:
		if (copy_from_user(&s, arg, sizeof(s)))
			return -EFAULT;
		if (s.num > U16_MAX)
			return -EINVAL;
		/* Resumed by the device, else by the relay (at DRIVER_OK). */
		if (s.num && !nm->np->relay_iova &&
		    !nm->vdpa->config->set_vq_state) {
			dev_warn_ratelimited(nm->vdev.dev,
					     "queue %u: the device cannot start a ring at index %u\n",
					     idx, s.num);
			return -EOPNOTSUPP;
		}
		vq->base = s.num;
		return 0;
	case VHOST_VDPA_SET_VRING_ENABLE:
		if (copy_from_user(&s, arg, sizeof(s)))
			return -EFAULT;
		if (s.num > 1)
			return -EINVAL;
		vq->ready = s.num;
		return 0;
	}
	return -ENOTTY;
}

static bool npa_mdev_is_owner(struct npa_mdev *nm)
{
	return nm->mm && nm->mm == current->mm;
}

/*
 * vhost requests but VHOST_SET_OWNER: reads are open to the fd's holder, the
 * rest to the owner.
 */
static long npa_mdev_vhost_ioctl(struct npa_mdev *nm, unsigned int cmd,
				 void __user *arg)
{
	switch (cmd) {
	case VHOST_GET_FEATURES:
		return put_user(npa_mdev_offered(nm), (u64 __user *)arg);
	case VHOST_VDPA_GET_DEVICE_ID:
		return put_user(VIRTIO_ID_NET, (u32 __user *)arg);
	case VHOST_VDPA_GET_STATUS:
		return put_user(nm->vdpa->config->get_status(nm->vdpa),
				(u8 __user *)arg);
	case VHOST_VDPA_GET_CONFIG:
		return npa_mdev_get_config(nm, arg);
	case VHOST_VDPA_GET_CONFIG_SIZE:
		return put_user((u32)nm->vdpa->config->get_config_size(nm->vdpa),
				(u32 __user *)arg);
	case VHOST_VDPA_GET_VQS_COUNT:
		return put_user(nm->nvqs, (u32 __user *)arg);
	case VHOST_VDPA_GET_VRING_NUM:
		return put_user(nm->vdpa->config->get_vq_num_max(nm->vdpa),
				(u16 __user *)arg);
	case VHOST_VDPA_GET_IOVA_RANGE:
		return copy_to_user(arg, &nm->np->range,
				    sizeof(nm->np->range)) ? -EFAULT : 0;
	}

	if (!npa_mdev_is_owner(nm))
		return -EPERM;

	switch (cmd) {
	case VHOST_SET_FEATURES:
		return npa_mdev_set_features(nm, arg);
	case VHOST_SET_MEM_TABLE:
		return npa_mem_set_table(nm, arg);
	case VHOST_SET_LOG_BASE:
		return npa_relay_set_log_base(nm, arg);
	case VHOST_VDPA_SET_STATUS:
		return npa_mdev_set_status(nm, arg);
	case VHOST_VDPA_SET_CONFIG:
		dev_warn_ratelimited(nm->vdev.dev,
				     "the device config (MAC, MTU) is the host admin's\n");
		return -EPERM;
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_ADDR:
	case VHOST_SET_VRING_BASE:
	case VHOST_GET_VRING_BASE:
	case VHOST_SET_VRING_KICK:
	case VHOST_VDPA_SET_VRING_ENABLE:
		return npa_mdev_vring_ioctl(nm, cmd, arg);
	}
	return -ENOTTY;
}

/*
 * Back to a device just opened, with no owner: reset, no eventfd, no memory
 * table pinned or mapped, no dirty log.  The last close and the owner's
 * death, under nm->lock; the second of them finds nothing left to do.
 */
static void npa_mdev_let_go(struct npa_mdev *nm)
{
	int i;

	npa_mdev_reset(nm);
	for (i = 0; i < nm->nvqs; i++) {
		struct npa_mdev_vq *vq = &nm->vqs[i];

		vfio_virqfd_disable(&vq->kick);
		npa_mdev_swap_ctx(&vq->call_lock, &vq->call, NULL);
		vq->base = 0;
	}
	npa_mdev_swap_ctx(&nm->irq_lock, &nm->config_call, NULL);
	npa_mdev_swap_ctx(&nm->irq_lock, &nm->req_trigger, NULL);
	if (nm->mm) {
		npa_mem_clear(nm);
		nm->mm = NULL;
	}
	nm->log_base = 0;
}

/*
 * The owner's death.  VHOST_SET_OWNER registers an mmu notifier on the
 * owner's mm.  Its release runs once the mm's last user is gone, from
 * exit_mmap() before the mm's pages are freed (the owner's files may not be
 * closed yet, and another process may hold this device's fd), or from
 * mmu_notifier_unregister().  It runs in an SRCU read section with no
 * mmap_lock held and may sleep: it takes nm->lock and lets go of everything
 * as the last close does.  nm->lock orders it with the requests of any other
 * process holding the fd and with the last close.  The owner's own requests
 * cannot race with it: a thread inside a request holds the mm's user count.
 *
 * A notifier cannot be unregistered from its own release (unregistering
 * waits for the SRCU readers) nor under nm->lock (unregistering may call the
 * release, which takes nm->lock): a dead owner's notifier stays in nm->owner
 * until the next VHOST_SET_OWNER or the last close takes it out under
 * nm->lock and unregisters it after dropping the lock.  A release that then
 * runs finds nm->owner changed and does nothing; once unregistering returns,
 * no release of that notifier runs any more, and it is freed.
 *
 * Lock order: nm->lock, then the owner's mmap_lock (mmu_notifier_register(),
 * pinning).
 */

/**
 * struct npa_mdev_owner - a device's hold on its owner's mm
 * @mn: the notifier registered on the owner's mm; it holds the mm (mm_count)
 *	until unregistered
 * @nm: the device
 */
struct npa_mdev_owner {
	struct mmu_notifier mn;
	struct npa_mdev *nm;
};

static void npa_mdev_owner_release(struct mmu_notifier *mn,
				   struct mm_struct *mm)
{
	struct npa_mdev_owner *owner =
		container_of(mn, struct npa_mdev_owner, mn);
	struct npa_mdev *nm = owner->nm;

	mutex_lock(&nm->lock);
	if (nm->owner == owner && nm->mm) {
		dev_dbg(nm->vdev.dev, "the owner is gone: device released\n");
		npa_mdev_let_go(nm);
	}
	mutex_unlock(&nm->lock);
}

static const struct mmu_notifier_ops npa_mdev_owner_ops = {
	.release = npa_mdev_owner_release,
};

/* Unregister and free a notifier taken out of nm->owner; nm->lock not held. */
static void npa_mdev_put_owner(struct npa_mdev_owner *owner)
{
	if (!owner)
		return;
	mmu_notifier_unregister(&owner->mn, owner->mn.mm);
	kfree(owner);
}

/* VHOST_SET_OWNER: the caller becomes the owner, unless there is one. */
static long npa_mdev_set_owner(struct npa_mdev *nm)
{
	struct npa_mdev_owner *owner, *dead = NULL;
	long ret = -EBUSY;

	mutex_lock(&nm->lock);
	if (nm->mm)
		goto unlock;
	ret = -ENOMEM;
	owner = kzalloc(sizeof(*owner), GFP_KERNEL_ACCOUNT);
	if (!owner)
		goto unlock;
	owner->nm = nm;
	owner->mn.ops = &npa_mdev_owner_ops;
	ret = mmu_notifier_register(&owner->mn, current->mm);
	if (ret) {
		kfree(owner);
		goto unlock;
	}
	dead = nm->owner;
	nm->owner = owner;
	nm->mm = current->mm;
unlock:
	mutex_unlock(&nm->lock);
	npa_mdev_put_owner(dead);
	return ret;
}

static int npa_mdev_open_device(struct vfio_device *vdev)
{
	npa_mdev_set_callbacks(vdev_to_nm(vdev), true);
	return 0;
}

/* Last close: stop the device and let go of everything. */
static void npa_mdev_close_device(struct vfio_device *vdev)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);
	struct npa_mdev_owner *owner;
	int i;

	mutex_lock(&nm->lock);
	npa_mdev_let_go(nm);
	npa_mdev_set_callbacks(nm, false);
	owner = nm->owner;
	nm->owner = NULL;
	mutex_unlock(&nm->lock);
	/* The device is reset and the kick eventfds gone: nothing requeues. */
	for (i = 0; i < nm->nvqs; i++)
		cancel_work_sync(&nm->vqs[i].relay_work);
	npa_mdev_put_owner(owner);
}

/*
 * vfio_unregister_group_dev() calls this, then again every 10 seconds,
 * until the user closes the device.
 */
static void npa_mdev_request(struct vfio_device *vdev, unsigned int count)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);

	spin_lock_irq(&nm->irq_lock);
	if (nm->req_trigger) {
		if (!(count % 10))
			dev_notice_ratelimited(vdev->dev,
					       "relaying device request to user (#%u)\n",
					       count);
		eventfd_signal(nm->req_trigger);
	} else if (!count) {
		dev_warn(vdev->dev,
			 "no device request channel registered, blocked until released by user\n");
	}
	spin_unlock_irq(&nm->irq_lock);
}

/*
 * The physical address of queue @qid's doorbell, when it has a page of its
 * own that can be mapped into the guest; 0 otherwise.
 */
static phys_addr_t npa_mdev_doorbell(struct npa_mdev *nm, u16 qid)
{
	const struct vdpa_config_ops *ops = nm->vdpa->config;
	struct vdpa_notification_area area;

	if (!ops->get_vq_notification)
		return 0;
	area = ops->get_vq_notification(nm->vdpa, qid);
	if (!area.addr || !PAGE_ALIGNED(area.addr) || area.size < PAGE_SIZE)
		return 0;
	return area.addr;
}

static bool npa_mdev_doorbells_mmappable(struct npa_mdev *nm)
{
	int i;

	for (i = 0; i < nm->nvqs; i++)
		if (!npa_mdev_doorbell(nm, i))
			return false;
	return true;
}

static int npa_mdev_get_info(void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	info.flags = VFIO_DEVICE_FLAGS_RESET;
	info.num_regions = 1;
	info.num_irqs = VHOST_NPA_NUM_IRQS;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

/* The only region: the doorbells, one page per queue. */
static int npa_mdev_get_region_info(struct npa_mdev *nm, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_region_info, offset);
	struct vfio_region_info_cap_type type = {
		.header.id = VFIO_REGION_INFO_CAP_TYPE,
		.header.version = 1,
		.type = VHOST_NPA_REGION_TYPE,
		.subtype = VHOST_NPA_REGION_SUBTYPE_NOTIFY,
	};
	struct vfio_info_cap caps = {};
	struct vfio_region_info info;
	int ret;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index != NPA_MDEV_NOTIFY_REGION)
		return -EINVAL;

	info.offset = (u64)NPA_MDEV_NOTIFY_REGION << NPA_MDEV_OFFSET_SHIFT;
	info.size = (u64)nm->nvqs * PAGE_SIZE;
	info.flags = VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_CAPS;
	if (npa_mdev_doorbells_mmappable(nm))
		info.flags |= VFIO_REGION_INFO_FLAG_MMAP;

	ret = vfio_info_add_capability(&caps, &type.header, sizeof(type));
	if (ret)
		return ret;
	if (info.argsz < sizeof(info) + caps.size) {
		info.argsz = sizeof(info) + caps.size;
		info.cap_offset = 0;
	} else {
		vfio_info_cap_shift(&caps, sizeof(info));
		if (copy_to_user(arg + sizeof(info), caps.buf, caps.size))
			ret = -EFAULT;
		info.cap_offset = sizeof(info);
	}
	kfree(caps.buf);
	if (ret)
		return ret;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static u32 npa_mdev_irq_count(struct npa_mdev *nm, u32 index)
{
	return index == VHOST_NPA_VQ_IRQ_INDEX ? nm->nvqs : 1;
}

static int npa_mdev_get_irq_info(struct npa_mdev *nm, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VHOST_NPA_NUM_IRQS)
		return -EINVAL;

	info.flags = VFIO_IRQ_INFO_EVENTFD;
	info.count = npa_mdev_irq_count(nm, info.index);
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

/* The eventfd behind interrupt @i of @index, and the lock that guards it. */
static struct eventfd_ctx **npa_mdev_irq_slot(struct npa_mdev *nm, u32 index,
					      u32 i, spinlock_t **lock)
{
	switch (index) {
	case VHOST_NPA_VQ_IRQ_INDEX:
		*lock = &nm->vqs[i].call_lock;
		return &nm->vqs[i].call;
	case VHOST_NPA_CONFIG_IRQ_INDEX:
		*lock = &nm->irq_lock;
		return &nm->config_call;
	}
	*lock = &nm->irq_lock;
	return &nm->req_trigger;
}

static void npa_mdev_set_trigger(struct npa_mdev *nm, u32 index, u32 i,
				 struct eventfd_ctx *ctx)
{
	struct npa_mdev_vq *vq = NULL;
	struct eventfd_ctx **slot;
	spinlock_t *lock;	/* guards *slot */

	slot = npa_mdev_irq_slot(nm, index, i, &lock);
	if (index == VHOST_NPA_VQ_IRQ_INDEX) {
		vq = &nm->vqs[i];
		npa_mdev_bypass_off(vq);
	}
	npa_mdev_swap_ctx(lock, slot, ctx);
	if (vq && (nm->status & VIRTIO_CONFIG_S_DRIVER_OK))
		npa_mdev_bypass_on(vq);
}

static void npa_mdev_fire(struct npa_mdev *nm, u32 index, u32 i)
{
	struct eventfd_ctx **slot;
	spinlock_t *lock;	/* guards *slot */

	slot = npa_mdev_irq_slot(nm, index, i, &lock);
	npa_mdev_signal(lock, slot);
}

/*
 * Interrupts are the owner's to change, as the rest of the device.  Before
 * there is an owner, the request eventfd alone may be set: a VMM registers it
 * right after opening the device, before VHOST_SET_OWNER, so that the kernel
 * can ask for the device back whatever happens next.
 */
static bool npa_mdev_may_set_irqs(struct npa_mdev *nm, u32 index)
{
	if (nm->mm)
		return npa_mdev_is_owner(nm);
	return index == VHOST_NPA_REQ_IRQ_INDEX;
}

/*
 * Set or clear @hdr->count eventfds from @hdr->start: all of them, or none
 * when one of @fds is bad.
 */
static int npa_mdev_set_eventfds(struct npa_mdev *nm,
				 const struct vfio_irq_set *hdr, const s32 *fds)
{
	struct eventfd_ctx **ctx;
	int ret = 0;
	u32 i;

	ctx = kcalloc(hdr->count, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < hdr->count; i++) {
		if (fds[i] < -1) {
			ret = -EINVAL;
			break;
		}
		if (fds[i] == -1)
			continue;
		ctx[i] = eventfd_ctx_fdget(fds[i]);
		if (IS_ERR(ctx[i])) {
			ret = PTR_ERR(ctx[i]);
			ctx[i] = NULL;
			break;
		}
	}
	if (ret) {
		while (i--)
			if (ctx[i])
				eventfd_ctx_put(ctx[i]);
	} else {
		for (i = 0; i < hdr->count; i++)
			npa_mdev_set_trigger(nm, hdr->index, hdr->start + i,
					     ctx[i]);
	}
	kfree(ctx);
	return ret;
}

/* ACTION_TRIGGER only: set or clear eventfds, or signal them. */
static int npa_mdev_set_irqs(struct npa_mdev *nm, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct vfio_irq_set hdr;
	size_t data_size;
	u8 *data = NULL;
	u32 i, count;
	int ret;

	if (copy_from_user(&hdr, arg, minsz))
		return -EFAULT;
	if (!npa_mdev_may_set_irqs(nm, hdr.index))
		return -EPERM;
	ret = vfio_set_irqs_validate_and_prepare(&hdr,
						 npa_mdev_irq_count(nm, hdr.index),
						 VHOST_NPA_NUM_IRQS, &data_size);
	if (ret)
		return ret;
	if ((hdr.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK) !=
	    VFIO_IRQ_SET_ACTION_TRIGGER)
		return -EINVAL;
	if (data_size) {
		data = memdup_user(arg + minsz, data_size);
		if (IS_ERR(data))
			return PTR_ERR(data);
	}

	count = npa_mdev_irq_count(nm, hdr.index);
	switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_EVENTFD:
		ret = npa_mdev_set_eventfds(nm, &hdr, (s32 *)data);
		break;
	case VFIO_IRQ_SET_DATA_BOOL:
		for (i = 0; i < hdr.count; i++)
			if (data[i])
				npa_mdev_fire(nm, hdr.index, hdr.start + i);
		break;
	default:
		/* DATA_NONE: count 0 clears every trigger, else signals. */
		for (i = 0; i < (hdr.count ?: count); i++) {
			if (hdr.count)
				npa_mdev_fire(nm, hdr.index, hdr.start + i);
			else
				npa_mdev_set_trigger(nm, hdr.index, i, NULL);
		}
		break;
	}
	kfree(data);
	return ret;
}

static long npa_mdev_ioctl(struct vfio_device *vdev, unsigned int cmd,
			   unsigned long arg)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return npa_mdev_get_info(uarg);
	case VFIO_DEVICE_GET_REGION_INFO:
		return npa_mdev_get_region_info(nm, uarg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return npa_mdev_get_irq_info(nm, uarg);
	case VFIO_DEVICE_SET_IRQS:
		mutex_lock(&nm->lock);
		ret = npa_mdev_set_irqs(nm, uarg);
		mutex_unlock(&nm->lock);
		return ret;
	case VFIO_DEVICE_RESET:
		mutex_lock(&nm->lock);
		ret = npa_mdev_is_owner(nm) ? 0 : -EPERM;
		if (!ret)
			npa_mdev_reset(nm);
		mutex_unlock(&nm->lock);
		return ret;
	}
	if (_IOC_TYPE(cmd) != VHOST_VIRTIO)
		return -ENOTTY;
	if (cmd == VHOST_SET_OWNER)
		return npa_mdev_set_owner(nm);

	mutex_lock(&nm->lock);
	ret = npa_mdev_vhost_ioctl(nm, cmd, uarg);
	mutex_unlock(&nm->lock);
	return ret;
}

/* A 16-bit write at the start of page i of the doorbell region kicks queue i. */
static ssize_t npa_mdev_write(struct vfio_device *vdev, const char __user *buf,
			      size_t count, loff_t *ppos)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);
	struct npa_mdev_vq *vq;
	u64 pos = *ppos;

	if (pos >> NPA_MDEV_OFFSET_SHIFT != NPA_MDEV_NOTIFY_REGION ||
	    count != sizeof(u16) || offset_in_page(pos) ||
	    pos >= (u64)nm->nvqs * PAGE_SIZE)
		return -EINVAL;
	vq = &nm->vqs[pos >> PAGE_SHIFT];
	if (READ_ONCE(vq->relay)) {
		npa_relay_poke(vq);
		return count;
	}
	atomic64_inc(&nm->host_kicks);
	nm->vdpa->config->kick_vq(nm->vdpa, pos >> PAGE_SHIFT);
	return count;
}

static vm_fault_t npa_mdev_notify_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct npa_mdev *nm = vma->vm_private_data;
	u16 qid = vma->vm_pgoff + ((vmf->address - vma->vm_start) >> PAGE_SHIFT);
	vm_fault_t ret = VM_FAULT_SIGBUS;
	phys_addr_t pa;

	/* A relaying queue's kicks must reach npa, not the device. */
	down_read(&nm->doorbell_lock);
	pa = npa_mdev_doorbell(nm, qid);
	if (!nm->vqs[qid].relay && pa)
		ret = vmf_insert_pfn(vma, vmf->address & PAGE_MASK,
				     PHYS_PFN(pa));
	up_read(&nm->doorbell_lock);
	return ret;
}

/*
 * Would queue @qid run in relay mode if it started now (or does it)?  Read
 * without npa_mdev.lock, which mmap cannot take: a hint that keeps a VMM
 * from mapping a doorbell it could not use; npa_relay_start() revokes a
 * mapping made anyway.
 */
static bool npa_mdev_relays(struct npa_mdev *nm, u16 qid)
{
	return (READ_ONCE(nm->features) & BIT_ULL(VHOST_F_LOG_ALL)) ||
	       READ_ONCE(nm->vqs[qid].base) || READ_ONCE(nm->vqs[qid].relay);
}

static const struct vm_operations_struct npa_mdev_notify_vm_ops = {
	.fault = npa_mdev_notify_fault,
};

/* Doorbell pages, for the VMM to map into the guest. */
static int npa_mdev_mmap(struct vfio_device *vdev, struct vm_area_struct *vma)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);
	unsigned long i;

	if (vma->vm_pgoff >> (NPA_MDEV_OFFSET_SHIFT - PAGE_SHIFT) !=
	    NPA_MDEV_NOTIFY_REGION || !(vma->vm_flags & VM_SHARED) ||
	    vma->vm_pgoff + vma_pages(vma) > nm->nvqs ||
	    !npa_mdev_doorbells_mmappable(nm))
		return -EINVAL;
	for (i = vma->vm_pgoff; i < vma->vm_pgoff + vma_pages(vma); i++)
		if (npa_mdev_relays(nm, i))
			return -EBUSY;

	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_ops = &npa_mdev_notify_vm_ops;
	vma->vm_private_data = nm;
	return 0;
}

static const struct vfio_device_ops npa_mdev_dev_ops = {
	.name		= "npa-mdev",
	.init		= npa_mdev_init_dev,
	.release	= npa_mdev_release_dev,
	.open_device	= npa_mdev_open_device,
	.close_device	= npa_mdev_close_device,
	.ioctl		= npa_mdev_ioctl,
	.write		= npa_mdev_write,
	.mmap		= npa_mdev_mmap,
	.request	= npa_mdev_request,
	.bind_iommufd	= vfio_iommufd_emulated_bind,
	.unbind_iommufd	= vfio_iommufd_emulated_unbind,
	.attach_ioas	= vfio_iommufd_emulated_attach_ioas,
	.detach_ioas	= vfio_iommufd_emulated_detach_ioas,
};

static int npa_mdev_probe(struct mdev_device *mdev)
{
	struct npa_mdev *nm;
	int ret;

	nm = vfio_alloc_device(npa_mdev, vdev, &mdev->dev, &npa_mdev_dev_ops);
	if (IS_ERR(nm))
		return PTR_ERR(nm);

	ret = vfio_register_emulated_iommu_dev(&nm->vdev);
	if (ret) {
		vfio_put_device(&nm->vdev);
		return ret;
	}
	dev_set_drvdata(&mdev->dev, nm);
	return 0;
}

static void npa_mdev_remove(struct mdev_device *mdev)
{
	struct npa_mdev *nm = dev_get_drvdata(&mdev->dev);

	vfio_unregister_group_dev(&nm->vdev);
	vfio_put_device(&nm->vdev);
}

static ssize_t npa_mdev_show_description(struct mdev_type *mtype, char *buf)
{
	struct vdpa_device *vdpa = mtype_to_np(mtype)->vdpa;

	return sysfs_emit(buf, "virtio-net data path, %u virtqueues, device features 0x%llx\n",
			  NPA_MDEV_DATA_VQS, npa_mdev_device_features(vdpa));
}

/* What went through the host instead of straight to the hardware. */
static ssize_t host_kicks_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct npa_mdev *nm = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%lld\n", atomic64_read(&nm->host_kicks));
}
static DEVICE_ATTR_RO(host_kicks);

static ssize_t host_calls_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct npa_mdev *nm = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%lld\n", atomic64_read(&nm->host_calls));
}
static DEVICE_ATTR_RO(host_calls);

/* The queues whose interrupts KVM may post to the guest (irq bypass). */
static ssize_t irq_bypass_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct npa_mdev *nm = dev_get_drvdata(dev);
	int i, n = 0;

	mutex_lock(&nm->lock);
	for (i = 0; i < nm->nvqs; i++)
		n += nm->vqs[i].bypass;
	mutex_unlock(&nm->lock);
	return sysfs_emit(buf, "%d\n", n);
}
static DEVICE_ATTR_RO(irq_bypass);

/* The queues running in relay mode (npa_relay.c, docs/migration.md). */
static ssize_t relay_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct npa_mdev *nm = dev_get_drvdata(dev);
	int i, n = 0;

	mutex_lock(&nm->lock);
	for (i = 0; i < nm->nvqs; i++)
		n += !!nm->vqs[i].relay;
	mutex_unlock(&nm->lock);
	return sysfs_emit(buf, "%d\n", n);
}
static DEVICE_ATTR_RO(relay);

static struct attribute *npa_mdev_attrs[] = {
	&dev_attr_host_kicks.attr,
	&dev_attr_host_calls.attr,
	&dev_attr_irq_bypass.attr,
	&dev_attr_relay.attr,
	NULL
};
ATTRIBUTE_GROUPS(npa_mdev);

static struct mdev_driver npa_mdev_driver = {
	.device_api = VHOST_NPA_DEVICE_API_STRING,
	.max_instances = 1,
	.driver = {
		.name = NPA_MDEV_DRIVER_NAME,
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
		.dev_groups = npa_mdev_groups,
	},
	.probe = npa_mdev_probe,
	.remove = npa_mdev_remove,
	.show_description = npa_mdev_show_description,
};

static bool allow_unsafe_interrupts;
module_param(allow_unsafe_interrupts, bool, 0644);
MODULE_PARM_DESC(allow_unsafe_interrupts,
		 "Take devices whose DMA can raise host interrupts (no interrupt remapping), as vfio_iommu_type1's parameter; a guest could then inject them");

/*
 * Without interrupt remapping, a DMA write to the MSI window is an
 * interrupt: a guest that points a receive buffer there makes the device
 * raise host interrupts of its choosing.  As vfio_iommu_type1, refuse such a
 * device unless the admin allows it.
 */
static int npa_mdev_check_msi(struct vdpa_device *vdpa, struct device *dma_dev)
{
	struct iommu_group *group = iommu_group_get(dma_dev);
	bool isolated = group && iommu_group_has_isolated_msi(group);

	iommu_group_put(group);
	if (isolated)
		return 0;
	if (!allow_unsafe_interrupts) {
		dev_err(&vdpa->dev,
			"no interrupt remapping isolates the MSIs of %s: its DMA could raise host interrupts (allow_unsafe_interrupts=1 takes it anyway)\n",
			dev_name(dma_dev));
		return -EPERM;
	}
	dev_warn(&vdpa->dev,
		 "no interrupt remapping isolates the MSIs of %s; taken because allow_unsafe_interrupts is set\n",
		 dev_name(dma_dev));
	return 0;
}

/*
 * A parent without dma_map and set_map DMAs through the platform IOMMU: the
 * DMA device goes into an IOMMU domain of its own, as vhost-vdpa does.
 */
static int npa_mdev_alloc_domain(struct npa_mdev_parent *np)
{
	struct vdpa_device *vdpa = np->vdpa;
	struct device *dma_dev = vdpa_get_dma_dev(vdpa);
	int ret;

	if (vdpa->ngroups > 1 || vdpa->nas > 1) {
		dev_err(&vdpa->dev,
			"%u virtqueue groups and %u address spaces cannot share one IOMMU domain\n",
			vdpa->ngroups, vdpa->nas);
		return -EINVAL;
	}
	if (!(npa_mdev_device_features(vdpa) &
	      BIT_ULL(VIRTIO_F_ACCESS_PLATFORM))) {
		dev_err(&vdpa->dev,
			"device bypasses the IOMMU (no VIRTIO_F_ACCESS_PLATFORM)\n");
		return -ENODEV;
	}
	if (!device_iommu_capable(dma_dev, IOMMU_CAP_CACHE_COHERENCY)) {
		dev_err(&vdpa->dev,
			"no cache-coherent IOMMU translates the DMA of %s\n",
			dev_name(dma_dev));
		return -ENODEV;
	}
	ret = npa_mdev_check_msi(vdpa, dma_dev);
	if (ret)
		return ret;
	np->domain = iommu_paging_domain_alloc(dma_dev);
	if (IS_ERR(np->domain)) {
		ret = PTR_ERR(np->domain);
		np->domain = NULL;
		dev_err(&vdpa->dev, "cannot allocate an IOMMU domain: %d\n",
			ret);
		return ret;
	}
	ret = iommu_attach_device(np->domain, dma_dev);
	if (ret) {
		dev_err(&vdpa->dev,
			"cannot attach %s to an IOMMU domain of its own (is it alone in its IOMMU group?): %d\n",
			dev_name(dma_dev), ret);
		iommu_domain_free(np->domain);
		np->domain = NULL;
		return ret;
	}
	return 0;
}

static void npa_mdev_free_dma(struct npa_mdev_parent *np)
{
	if (np->domain) {
		iommu_detach_device(np->domain, vdpa_get_dma_dev(np->vdpa));
		iommu_domain_free(np->domain);
	}
	if (np->dma_iotlb)
		vhost_iotlb_free(np->dma_iotlb);
}

/* The IOVAs the device can use: the parent's word, else the domain's. */
static void npa_mdev_init_range(struct npa_mdev_parent *np)
{
	const struct vdpa_config_ops *ops = np->vdpa->config;
	struct vdpa_iova_range range;

	np->range.first = 0;
	np->range.last = U64_MAX;
	if (ops->get_iova_range) {
		range = ops->get_iova_range(np->vdpa);
		np->range.first = range.first;
		np->range.last = range.last;
	} else if (np->domain && np->domain->geometry.force_aperture) {
		np->range.first = np->domain->geometry.aperture_start;
		np->range.last = np->domain->geometry.aperture_end;
	}
}

/*
 * Strict opt-in: the vdpa bus offers every device to every driver unless
 * its driver_override names one, so npa_mdev takes only the devices whose
 * override names it and leaves the rest to vhost_vdpa or virtio_vdpa.
 */
static int npa_mdev_vdpa_probe(struct vdpa_device *vdpa)
{
	const struct vdpa_config_ops *ops = vdpa->config;
	struct npa_mdev_parent *np;
	int ret;

	/* The driver core holds the device lock: the override is stable. */
	if (!vdpa->driver_override ||
	    strcmp(vdpa->driver_override, NPA_MDEV_DRIVER_NAME))
		return -ENODEV;

	if (ops->get_device_id(vdpa) != VIRTIO_ID_NET) {
		dev_err(&vdpa->dev, "virtio device id %u is not a network device\n",
			ops->get_device_id(vdpa));
		return -ENODEV;
	}
	if (vdpa->nvqs < NPA_MDEV_DATA_VQS) {
		dev_err(&vdpa->dev, "%u virtqueues: a NIC needs a receive and a transmit queue\n",
			vdpa->nvqs);
		return -ENODEV;
	}
	if (vdpa->use_va) {
		dev_err(&vdpa->dev,
			"the parent maps virtual addresses; npa maps pinned pages by physical address\n");
		return -EINVAL;
	}

	np = kzalloc(sizeof(*np), GFP_KERNEL);
	if (!np)
		return -ENOMEM;
	np->vdpa = vdpa;
	vdpa_reset(vdpa, 0);
	if (ops->dma_map) {
		ret = 0;
	} else if (ops->set_map) {
		np->dma_iotlb = vhost_iotlb_alloc(0, 0);
		ret = np->dma_iotlb ? 0 : -ENOMEM;
	} else {
		ret = npa_mdev_alloc_domain(np);
	}
	if (ret)
		goto err_free;
	npa_mdev_init_range(np);
	npa_relay_init_window(np, NPA_MDEV_DATA_VQS);

	np->type.sysfs_name = "net";
	np->type.pretty_name = "npa virtio-net";
	np->types[0] = &np->type;
	/* The type directory is named "<driver>-net": "npa-net". */
	ret = mdev_register_parent(&np->parent, &vdpa->dev, &npa_mdev_driver,
				   np->types, ARRAY_SIZE(np->types));
	if (ret)
		goto err_dma;
	vdpa_set_drvdata(vdpa, np);
	dev_info(&vdpa->dev, "mdev parent, %u virtqueues, DMA through %s\n",
		 vdpa->nvqs, ops->dma_map ? "the parent's dma_map" :
		 ops->set_map ? "the parent's set_map" : "an IOMMU domain");
	return 0;

err_dma:
	npa_mdev_free_dma(np);
err_free:
	kfree(np);
	return ret;
}

/*
 * Every way a vdpa device goes away ends here (vdpa dev del, the parent's
 * removal, unbinding): the mdev core removes the mdevs first, each removal
 * asking the user through the request eventfd and waiting until the device
 * is closed.  This runs under the vdpa core's vdpa_dev_lock when the device
 * is deleted: it takes no lock of the netlink add/del path.
 */
static void npa_mdev_vdpa_remove(struct vdpa_device *vdpa)
{
	struct npa_mdev_parent *np = vdpa_get_drvdata(vdpa);

	mdev_unregister_parent(&np->parent);
	vdpa_reset(vdpa, 0);
	npa_mdev_free_dma(np);
	kfree(np);
}

static struct vdpa_driver npa_mdev_vdpa_driver = {
	.driver = {
		.name = NPA_MDEV_DRIVER_NAME,
	},
	.probe = npa_mdev_vdpa_probe,
	.remove = npa_mdev_vdpa_remove,
};

static int __init npa_mdev_init(void)
{
	int ret;

	ret = mdev_register_driver(&npa_mdev_driver);
	if (ret)
		return ret;
	ret = vdpa_register_driver(&npa_mdev_vdpa_driver);
	if (ret)
		mdev_unregister_driver(&npa_mdev_driver);
	return ret;
}

static void __exit npa_mdev_exit(void)
{
	vdpa_unregister_driver(&npa_mdev_vdpa_driver);
	mdev_unregister_driver(&npa_mdev_driver);
}

module_init(npa_mdev_init);
module_exit(npa_mdev_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("npa: vhost data path on vdpa devices, as VFIO mdevs");
