/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What npa_mdev's files share: the parent and device structures, and the
 * guest memory interface npa_mem.c offers the vhost request code.
 */
#ifndef NPA_MDEV_H
#define NPA_MDEV_H

#include <linux/atomic.h>
#include <linux/irqbypass.h>
#include <linux/mdev.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/vfio.h>
#include <linux/vhost_types.h>
#include <linux/workqueue.h>

struct eventfd_ctx;
struct iommu_domain;
struct mm_struct;
struct npa_mdev_owner;
struct npa_relay;
struct page;
struct vdpa_device;
struct vhost_iotlb;
struct virqfd;

/* As vhost: at most this many memory table regions. */
#define NPA_MDEV_MAX_MEM_REGIONS	64

/**
 * struct npa_mdev_parent - one vdpa device npa_mdev drives
 * @parent: the mdev core's parent, registered on the vdpa device
 * @type: the single mdev type, "net"
 * @types: the type list handed to the mdev core
 * @vdpa: the vdpa device
 * @domain: the IOMMU domain of vdpa_get_dma_dev(), for a parent without
 *	dma_map and set_map; NULL otherwise
 * @dma_iotlb: what a set_map parent is given: IOVA -> physical address
 * @range: the IOVAs the device can use for guest memory
 * @relay_iova: first IOVA of the relay window, above @range: each queue's
 *	shadow ring is mapped at @relay_iova + index * @relay_slot; 0 when
 *	the device has no room for it (no relay, no VHOST_F_LOG_ALL)
 * @relay_slot: IOVA space per queue in the relay window
 *
 * The mappings are the mdev's (max_instances is 1) and change only under
 * its struct npa_mdev.lock.
 */
struct npa_mdev_parent {
	struct mdev_parent parent;
	struct mdev_type type;
	struct mdev_type *types[1];
	struct vdpa_device *vdpa;
	struct iommu_domain *domain;
	struct vhost_iotlb *dma_iotlb;
	struct vhost_vdpa_iova_range range;
	u64 relay_iova;
	u64 relay_slot;
};

/**
 * struct npa_mdev_vq - a virtqueue as the user set it up
 * @nm: the device
 * @num: ring size, 0 while unset
 * @base: the avail index the ring starts from at DRIVER_OK
 *	(VHOST_SET_VRING_BASE); once the device is reset, the one to resume
 *	from (VHOST_GET_VRING_BASE)
 * @ready: enabled with VHOST_VDPA_SET_VRING_ENABLE
 * @addr_set: @desc, @avail and @used are set
 * @desc: descriptor table (guest physical address)
 * @avail: driver area
 * @used: device area
 * @kick: kick eventfd -> doorbell, or -> relay in relay mode
 * @call_lock: protects @call against the interrupt
 * @call: the vring call eventfd
 * @producer: irq bypass producer for @call while the device runs
 * @bypass: @producer is registered
 * @log_used: log what is written to the used ring (VHOST_VRING_F_LOG)
 * @log_addr: guest physical address of the used ring in the dirty log
 * @relay: the relay while the queue runs in relay mode (npa_relay.c), else
 *	NULL; set and cleared under npa_mdev.lock, read by the doorbell
 *	fault handler under npa_mdev.doorbell_lock
 * @relay_work: moves descriptors between the guest's ring and @relay's
 *	shadow ring; queued by kicks and device interrupts, runs under
 *	npa_mdev.lock
 */
struct npa_mdev_vq {
	struct npa_mdev *nm;
	u16 num;
	u16 base;
	bool ready;
	bool addr_set;
	u64 desc;
	u64 avail;
	u64 used;
	struct virqfd *kick;
	spinlock_t call_lock;	/* protects call */
	struct eventfd_ctx *call;
	struct irq_bypass_producer producer;
	bool bypass;
	bool log_used;
	u64 log_addr;
	struct npa_relay *relay;
	struct work_struct relay_work;
};

/**
 * struct npa_mdev - one mdev: a vfio_device on a vdpa device
 * @vdev: the VFIO device; first, as vfio_alloc_device() requires
 * @np: the parent whose vdpa device this device drives
 * @vdpa: that vdpa device
 * @lock: serialises requests, the last close and the owner's death;
 *	protects everything below but the eventfds
 * @irq_lock: protects @req_trigger and @config_call against their signallers
 * @req_trigger: eventfd signalled when the kernel wants the device back
 * @owner: the mmu notifier on the owner's mm, registered at VHOST_SET_OWNER;
 *	it outlives the owner until the next VHOST_SET_OWNER or the last
 *	close unregisters it, with @lock not held
 * @mm: the owner's mm while the owner lives, NULL before VHOST_SET_OWNER
 *	and once the owner died; @owner's registration holds it (mm_count)
 * @features: negotiated features (VHOST_SET_FEATURES)
 * @features_set: @features was set since the last reset
 * @status: virtio status the user set
 * @iotlb: the memory table, guest physical -> user address; each region's
 *	opaque is the vhost_iotlb of its pinned runs (npa_mem.c)
 * @doorbell_lock: orders doorbell faults against the revocation of
 *	doorbell mappings when a queue enters relay mode
 * @log_base: user address of the dirty log (VHOST_SET_LOG_BASE), 0 if none
 * @config_call: config change eventfd
 * @nvqs: number of virtqueues the user sees: NPA_MDEV_DATA_VQS
 * @vqs: the virtqueues
 * @host_kicks: kicks the host relayed to a doorbell (kick eventfd or
 *	doorbell region write), not written by the guest itself
 * @host_calls: device interrupts the host relayed to a call eventfd
 */
struct npa_mdev {
	struct vfio_device vdev;
	struct npa_mdev_parent *np;
	struct vdpa_device *vdpa;
	struct mutex lock;	/* serialises requests */
	spinlock_t irq_lock;	/* protects req_trigger, config_call */
	struct eventfd_ctx *req_trigger;
	struct npa_mdev_owner *owner;
	struct mm_struct *mm;
	u64 features;
	bool features_set;
	u8 status;
	struct vhost_iotlb *iotlb;
	struct rw_semaphore doorbell_lock;	/* see above */
	u64 log_base;
	struct eventfd_ctx *config_call;
	u16 nvqs;
	struct npa_mdev_vq *vqs;
	atomic64_t host_kicks;
	atomic64_t host_calls;
};

/* npa_mdev_main.c: signal a queue's call eventfd, as the host. */
void npa_mdev_vq_call(struct npa_mdev_vq *vq);

/* npa_mem.c: the memory table; all under npa_mdev.lock. */
long npa_mem_set_table(struct npa_mdev *nm, void __user *arg);
void npa_mem_clear(struct npa_mdev *nm);
bool npa_mem_covers(struct npa_mdev *nm, u64 gpa, u64 len);
struct page *npa_mem_page(struct npa_mdev *nm, u64 gpa);
int npa_mem_map_host(struct npa_mdev *nm, u64 iova, phys_addr_t pa, u64 size);
void npa_mem_unmap_host(struct npa_mdev *nm, u64 iova, u64 size);

/*
 * npa_relay.c: relay mode and the dirty log.  Start, stop, the log base and
 * the resume index run under npa_mdev.lock; npa_relay_poke() from any
 * context.
 */
void npa_relay_init_window(struct npa_mdev_parent *np, u16 nvqs);
int npa_relay_start(struct npa_mdev_vq *vq, u64 *desc, u64 *avail, u64 *used);
void npa_relay_stop(struct npa_mdev_vq *vq);
void npa_relay_poke(struct npa_mdev_vq *vq);
void npa_relay_work(struct work_struct *work);
u16 npa_relay_index(struct npa_mdev_vq *vq);
long npa_relay_set_log_base(struct npa_mdev *nm, u64 __user *arg);

#endif /* NPA_MDEV_H */
