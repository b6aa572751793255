// SPDX-License-Identifier: GPL-2.0
/*
 * npa_relay - relay mode and the dirty log of an npa mdev
 *
 * In relay mode the device does not see the guest's split ring: it runs on a
 * shadow ring npa allocates and maps for it at an IOVA above the guest's
 * memory (the relay window, cut from the top of the device's IOVA range, so
 * VHOST_VDPA_GET_IOVA_RANGE never offers it to guest memory).  npa forwards
 * each descriptor chain the guest makes available, after checking every
 * buffer against the memory table and following the chain and any indirect
 * table with bounds, into the shadow ring as a chain of direct descriptors;
 * the device still reads and writes the guest's buffers itself, at their
 * guest physical addresses.  When the device uses a chain, npa writes the
 * used entry, with the guest's head and the device's length, into the
 * guest's used ring.  Since npa writes everything the device reports, it
 * knows every guest page the device wrote: with VHOST_F_LOG_ALL and a log
 * base, it marks them in the VMM's dirty log, vhost's bitmap of one bit per
 * 4 KiB guest page, as vhost does (log_write()): the device-writable buffers
 * of each used chain up to the used length, and the used ring entries,
 * index, flags and avail event npa writes (at log_guest_addr, with
 * VHOST_VRING_F_LOG).
 *
 * Notifications.  Toward the guest npa never suppresses kicks: it keeps the
 * used ring's flags at 0 and, with VIRTIO_RING_F_EVENT_IDX, the avail event
 * at the next avail index it will read, so the guest kicks for every new
 * batch; it honours the guest's interrupt suppression (used event or
 * VRING_AVAIL_F_NO_INTERRUPT) when it signals the call eventfd.  Toward the
 * device npa asks for every interrupt (the shadow used event follows the
 * used index npa has read, the shadow avail flags stay 0) and kicks it after
 * each batch it forwards.
 *
 * Resume index.  npa writes used entries in the order the device uses the
 * shadow chains; the index to resume from after the device stops is the
 * guest's used index npa reached, after copying back whatever the device
 * used before it stopped.  Chains forwarded but not used are made available
 * again from that index: a receive buffer the device may have written is
 * simply written again, a transmit buffer the device may have sent is sent
 * again.  This is exact for a device that uses the chains of a queue in the
 * order they were made available (virtio-net's queues do).
 *
 * Locking: start, stop, the log base and the resume index run under
 * npa_mdev.lock, as does the relay's work (npa_relay_work()), which kicks
 * and device interrupts queue (npa_relay_poke(), from any context).  A
 * queue's relay is set and cleared under npa_mdev.lock and
 * npa_mdev.doorbell_lock (written), so the doorbell fault handler, which
 * holds the latter for reading, never maps a doorbell of a relaying queue.
 */
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vdpa.h>
#include <linux/vhost.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "npa_mdev.h"

/* vhost's dirty log: one bit per 4 KiB guest page. */
#define NPA_LOG_PAGE		0x1000

/* A shadow descriptor that heads no chain. */
#define NPA_RELAY_NO_HEAD	U16_MAX

/**
 * struct npa_relay - a queue in relay mode
 * @ring: the shadow ring (descriptor table, avail and used rings)
 * @size: bytes at @ring
 * @iova: where the device sees @ring
 * @vr: the shadow ring's parts
 * @num: ring size, as the guest's
 * @free_head: first free shadow descriptor; the free ones are linked by next
 * @num_free: free shadow descriptors
 * @avail_idx: the shadow avail index npa publishes next
 * @last_used: the shadow used index npa has read up to
 * @last_avail: the guest avail index npa has read up to
 * @used_idx: the guest used index npa has written up to
 * @signalled_used: @used_idx when npa last signalled the guest
 * @signalled_used_valid: npa signalled the guest since the relay started
 * @broken: the guest or the device broke the ring; the relay stops moving it
 * @log_page: the page of the dirty log pinned for this pass, or NULL
 * @log_uaddr: the user address of @log_page
 * @head: per shadow head, the guest's head it carries, or NPA_RELAY_NO_HEAD
 * @chain: scratch: the chain being forwarded
 */
struct npa_relay {
	void *ring;
	size_t size;
	u64 iova;
	struct vring vr;
	u16 num;
	u16 free_head;
	u16 num_free;
	u16 avail_idx;
	u16 last_used;
	u16 last_avail;
	u16 used_idx;
	u16 signalled_used;
	bool signalled_used_valid;
	bool broken;
	struct page *log_page;
	unsigned long log_uaddr;
	u16 *head;
	struct vring_desc *chain;
};

static u16 relay_vq_index(struct npa_mdev_vq *vq)
{
	return vq - vq->nm->vqs;
}

/*
 * The relay window: above the IOVAs guest memory may use, a slot per queue
 * large enough for the largest ring the device takes, clear of the reserved
 * regions.  Without room for it the device gets no relay (and npa offers no
 * VHOST_F_LOG_ALL).
 */
void npa_relay_init_window(struct npa_mdev_parent *np, u16 nvqs)
{
	const struct vdpa_config_ops *ops = np->vdpa->config;
	struct device *dma_dev = vdpa_get_dma_dev(np->vdpa);
	struct iommu_resv_region *rv;
	u64 slot, window, iova;
	LIST_HEAD(resv);
	bool clear = true;

	slot = PAGE_ALIGN(vring_size(ops->get_vq_num_max(np->vdpa), PAGE_SIZE));
	window = slot * nvqs;
	if (np->range.last - np->range.first < 2 * window)
		return;
	iova = ALIGN_DOWN(np->range.last - window + 1, PAGE_SIZE);
	/* As npa_mem_build(): only where an IOMMU translates the DMA device. */
	if (device_iommu_mapped(dma_dev))
		iommu_get_resv_regions(dma_dev, &resv);
	list_for_each_entry(rv, &resv, list)
		if (rv->start <= iova + window - 1 &&
		    iova <= rv->start + rv->length - 1)
			clear = false;
	iommu_put_resv_regions(dma_dev, &resv);
	if (!clear)
		return;
	np->relay_iova = iova;
	np->relay_slot = slot;
	np->range.last = iova - 1;
}

/* Copy to or from guest memory; false unless one region holds it all. */
static bool relay_guest_copy(struct npa_mdev *nm, u64 gpa, void *buf,
			     size_t len, bool write)
{
	if (!npa_mem_covers(nm, gpa, len))
		return false;
	while (len) {
		size_t n = min_t(size_t, len, PAGE_SIZE - offset_in_page(gpa));
		u8 *p = kmap_local_page(npa_mem_page(nm, gpa));

		if (write)
			memcpy(p + offset_in_page(gpa), buf, n);
		else
			memcpy(buf, p + offset_in_page(gpa), n);
		kunmap_local(p);
		gpa += n;
		buf += n;
		len -= n;
	}
	return true;
}

/* A ring index in guest memory: aligned, so one access. */
static bool relay_guest_u16(struct npa_mdev *nm, u64 gpa, u16 *val,
			    bool write)
{
	__le16 *p;

	if (!IS_ALIGNED(gpa, 2) || !npa_mem_covers(nm, gpa, 2))
		return false;
	p = kmap_local_page(npa_mem_page(nm, gpa));
	p += offset_in_page(gpa) / 2;
	if (write)
		WRITE_ONCE(*p, cpu_to_le16(*val));
	else
		*val = le16_to_cpu(READ_ONCE(*p));
	kunmap_local(p);
	return true;
}

static bool relay_logging(struct npa_mdev *nm)
{
	return nm->log_base && (nm->features & BIT_ULL(VHOST_F_LOG_ALL));
}

/* Let go of the log page relay_log_get() pinned, marking it dirty. */
static void relay_log_put(struct npa_relay *r)
{
	if (!r->log_page)
		return;
	unpin_user_pages_dirty_lock(&r->log_page, 1, true);
	r->log_page = NULL;
}

/*
 * Pin the log page at @uaddr for the rest of this pass, unless it is the
 * one pinned already: a pass marks its pages one log page (128 MiB of
 * guest memory) at a time, from a kworker without the owner's mm.
 */
static int relay_log_get(struct npa_mdev *nm, struct npa_relay *r,
			 unsigned long uaddr)
{
	struct mm_struct *mm = nm->mm;
	long n;

	if (r->log_page && r->log_uaddr == uaddr)
		return 0;
	relay_log_put(r);
	if (!mmget_not_zero(mm))
		return -ESRCH;
	mmap_read_lock(mm);
	n = pin_user_pages_remote(mm, uaddr, 1, FOLL_WRITE, &r->log_page,
				  NULL);
	mmap_read_unlock(mm);
	mmput(mm);
	if (n != 1) {
		r->log_page = NULL;
		return n < 0 ? n : -EFAULT;
	}
	r->log_uaddr = uaddr;
	return 0;
}

/*
 * Set the bits of guest pages @first to @last in the owner's log, a log
 * page at a time, in the page relay_log_get() keeps pinned for the pass;
 * each bit as vhost's set_bit_to_user() sets it.
 */
static int relay_set_bits(struct npa_mdev *nm, struct npa_relay *r,
			  u64 first, u64 last)
{
	unsigned long log_page;
	u64 bit, end;
	int ret;
	u8 *p;

	for (; first <= last; first = end + 1) {
		log_page = (nm->log_base + first / 8) & PAGE_MASK;
		/* The last guest page whose bit is in this log page. */
		end = min(last, (log_page + PAGE_SIZE - nm->log_base) * 8 - 1);
		ret = relay_log_get(nm, r, log_page);
		if (ret)
			return ret;
		p = kmap_local_page(r->log_page);
		for (bit = first; bit <= end; bit++)
			set_bit((nm->log_base + bit / 8 - log_page) * 8 + bit % 8,
				(unsigned long *)p);
		kunmap_local(p);
	}
	return 0;
}

/* Mark guest pages [@gpa, @gpa + @len) dirty, if logging. */
static void relay_log(struct npa_mdev_vq *vq, struct npa_relay *r, u64 gpa,
		      u64 len)
{
	struct npa_mdev *nm = vq->nm;
	int ret;

	if (!len || !relay_logging(nm) || r->broken)
		return;
	ret = relay_set_bits(nm, r, gpa / NPA_LOG_PAGE,
			     (gpa + len - 1) / NPA_LOG_PAGE);
	/* -ESRCH: the owner is gone, no one reads the log. */
	if (!ret || ret == -ESRCH)
		return;
	dev_warn_ratelimited(nm->vdev.dev,
			     "queue %u: the dirty log at 0x%llx is not writable (%d): the queue stops\n",
			     relay_vq_index(vq), nm->log_base, ret);
	r->broken = true;
}

/* Mark what npa wrote at @offset of the guest's used ring (vhost's log_used). */
static void relay_log_used(struct npa_mdev_vq *vq, struct npa_relay *r,
			   u64 offset, u64 len)
{
	if (vq->log_used)
		relay_log(vq, r, vq->log_addr + offset, len);
}

static void relay_broken(struct npa_mdev_vq *vq, struct npa_relay *r,
			 const char *what, u64 val)
{
	dev_warn_ratelimited(vq->nm->vdev.dev,
			     "queue %u: %s (0x%llx): the relay stops\n",
			     relay_vq_index(vq), what, val);
	r->broken = true;
}

static bool relay_has(struct npa_mdev *nm, unsigned int feature)
{
	return nm->features & BIT_ULL(feature);
}

/*
 * Read the guest's chain at avail @head into r->chain: every buffer inside
 * the memory table, at most one indirect table (not nested, not chained),
 * at most r->num descriptors in all (a loop ends there).  Returns the
 * number of descriptors, or -EINVAL.
 */
static int relay_read_chain(struct npa_mdev_vq *vq, struct npa_relay *r,
			    u16 head)
{
	struct npa_mdev *nm = vq->nm;
	u64 table = vq->desc, addr;
	u32 size = r->num, i = head, len;
	bool indirect = false;
	struct vring_desc d;
	int count = 0;
	u16 flags;

	for (;;) {
		if (i >= size) {
			relay_broken(vq, r, "descriptor index out of its table", i);
			return -EINVAL;
		}
		if (!relay_guest_copy(nm, table + 16ULL * i, &d, sizeof(d),
				      false)) {
			relay_broken(vq, r, "descriptor outside memory",
				     table + 16ULL * i);
			return -EINVAL;
		}
		flags = __virtio16_to_cpu(true, d.flags);
		addr = __virtio64_to_cpu(true, d.addr);
		len = __virtio32_to_cpu(true, d.len);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (indirect || (flags & VRING_DESC_F_NEXT) ||
			    !relay_has(nm, VIRTIO_RING_F_INDIRECT_DESC) ||
			    !len || len % sizeof(d) ||
			    !npa_mem_covers(nm, addr, len)) {
				relay_broken(vq, r, "bad indirect table", addr);
				return -EINVAL;
			}
			indirect = true;
			table = addr;
			size = len / sizeof(d);
			i = 0;
			continue;
		}
		if (count == r->num) {
			relay_broken(vq, r, "descriptor loop or chain longer than the ring",
				     head);
			return -EINVAL;
		}
		if (len && !npa_mem_covers(nm, addr, len)) {
			relay_broken(vq, r, "buffer outside the memory table",
				     addr);
			return -EINVAL;
		}
		r->chain[count].addr = __cpu_to_virtio64(true, addr);
		r->chain[count].len = __cpu_to_virtio32(true, len);
		r->chain[count].flags = __cpu_to_virtio16(true, flags &
							  VRING_DESC_F_WRITE);
		count++;
		if (!(flags & VRING_DESC_F_NEXT))
			return count;
		i = __virtio16_to_cpu(true, d.next);
	}
}

/* Put r->chain's @count descriptors into the shadow table; its head. */
static u16 relay_post_chain(struct npa_relay *r, int count)
{
	struct vring_desc *desc = r->vr.desc;
	u16 head = r->free_head, i = head, next;
	int k;

	for (k = 0; k < count; k++) {
		next = __virtio16_to_cpu(true, desc[i].next);
		desc[i] = r->chain[k];
		if (k < count - 1) {
			desc[i].flags |= __cpu_to_virtio16(true, VRING_DESC_F_NEXT);
			desc[i].next = __cpu_to_virtio16(true, next);
		}
		i = next;
	}
	r->free_head = i;
	r->num_free -= count;
	return head;
}

/*
 * Guest -> device: forward the chains the guest made available, as far as
 * the shadow table has room, then kick the device.
 */
static void relay_avail(struct npa_mdev_vq *vq, struct npa_relay *r)
{
	struct npa_mdev *nm = vq->nm;
	u64 event = vq->used + 4 + 8ULL * r->num;
	u16 idx, head, shead, forwarded = 0;
	int count;

	for (;;) {
		if (!relay_guest_u16(nm, vq->avail + 2, &idx, false)) {
			relay_broken(vq, r, "avail ring outside memory", vq->avail);
			return;
		}
		if ((u16)(idx - r->last_avail) > r->num) {
			relay_broken(vq, r, "avail index moved by more than the ring size",
				     idx);
			return;
		}
		if (idx == r->last_avail)
			break;
		/* Read the entries after the index that published them. */
		smp_rmb();
		while (r->last_avail != idx) {
			if (!relay_guest_u16(nm, vq->avail + 4 +
					     2ULL * (r->last_avail & (r->num - 1)),
					     &head, false)) {
				relay_broken(vq, r, "avail ring outside memory",
					     vq->avail);
				return;
			}
			count = relay_read_chain(vq, r, head);
			if (count < 0)
				return;
			if (count > r->num_free)
				goto kick;	/* again once the device used some */
			shead = relay_post_chain(r, count);
			r->head[shead] = head;
			r->vr.avail->ring[r->avail_idx & (r->num - 1)] =
				__cpu_to_virtio16(true, shead);
			r->avail_idx++;
			r->last_avail++;
			forwarded++;
		}
		/* Ask for a kick for whatever comes next, then look again. */
		if (relay_has(nm, VIRTIO_RING_F_EVENT_IDX)) {
			if (!relay_guest_u16(nm, event, &r->last_avail, true)) {
				relay_broken(vq, r, "used ring outside memory",
					     vq->used);
				return;
			}
			relay_log_used(vq, r, 4 + 8ULL * r->num, 2);
		}
		/* The avail event store before the avail index load. */
		smp_mb();
	}
kick:
	if (!forwarded)
		return;
	/* The device reads the descriptors after the index publishing them. */
	dma_wmb();
	WRITE_ONCE(r->vr.avail->idx, __cpu_to_virtio16(true, r->avail_idx));
	/* The index store before the doorbell write. */
	mb();
	atomic64_inc(&nm->host_kicks);
	nm->vdpa->config->kick_vq(nm->vdpa, relay_vq_index(vq));
}

/*
 * Give a used shadow chain back to the free list; log the guest pages the
 * device wrote: its device-writable buffers, in order, up to @len bytes.
 */
static void relay_free_chain(struct npa_mdev_vq *vq, struct npa_relay *r,
			     u16 shead, u32 len)
{
	struct vring_desc *desc = r->vr.desc;
	u16 i = shead, last, count = 0;
	u32 n;

	do {
		last = i;
		if (desc[i].flags & __cpu_to_virtio16(true, VRING_DESC_F_WRITE)) {
			n = min(len, __virtio32_to_cpu(true, desc[i].len));
			relay_log(vq, r, __virtio64_to_cpu(true, desc[i].addr),
				  n);
			len -= n;
		}
		count++;
		i = __virtio16_to_cpu(true, desc[i].next);
	} while ((desc[last].flags & __cpu_to_virtio16(true, VRING_DESC_F_NEXT)) &&
		 count < r->num);
	desc[last].next = __cpu_to_virtio16(true, r->free_head);
	r->free_head = shead;
	r->num_free += count;
}

/*
 * Signal the guest unless it suppressed the interrupt, as vhost_notify()
 * decides: with event index, whether the guest's used event lies between
 * the used index of the last signal and the current one.  The first signal
 * after the relay started is never suppressed: the guest's used event may
 * point before the index the ring resumed at (entries published with no
 * signal when the device stopped, before a migration or a stop), and
 * would then hold back every signal until the index wrapped.
 */
static void relay_call(struct npa_mdev_vq *vq, struct npa_relay *r)
{
	struct npa_mdev *nm = vq->nm;
	u16 val, old = r->signalled_used;
	bool valid = r->signalled_used_valid;

	/* The used index store before the suppression load. */
	smp_mb();
	if (relay_has(nm, VIRTIO_RING_F_EVENT_IDX)) {
		r->signalled_used = r->used_idx;
		r->signalled_used_valid = true;
		if (valid &&
		    relay_guest_u16(nm, vq->avail + 4 + 2ULL * r->num, &val,
				    false) &&
		    !vring_need_event(val, r->used_idx, old))
			return;
	} else if (relay_guest_u16(nm, vq->avail, &val, false) &&
		   (val & VRING_AVAIL_F_NO_INTERRUPT)) {
		return;
	}
	npa_mdev_vq_call(vq);
}

/*
 * Device -> guest: copy the used entries of the shadow ring into the
 * guest's used ring, with the guest's heads, publish its index and signal
 * the guest.
 */
static void relay_used(struct npa_mdev_vq *vq, struct npa_relay *r)
{
	struct npa_mdev *nm = vq->nm;
	u16 idx, old = r->used_idx, id;
	struct vring_used_elem e;
	u64 off;
	u32 len;

	for (;;) {
		idx = __virtio16_to_cpu(true, READ_ONCE(r->vr.used->idx));
		if (idx == r->last_used) {
			/* Ask for an interrupt at the next one, then look again. */
			vring_used_event(&r->vr) =
				__cpu_to_virtio16(true, r->last_used);
			/* The used event store before the used index load. */
			mb();
			idx = __virtio16_to_cpu(true,
						READ_ONCE(r->vr.used->idx));
			if (idx == r->last_used)
				break;
		}
		if ((u16)(idx - r->last_used) > r->num) {
			relay_broken(vq, r, "the device's used index jumped", idx);
			return;
		}
		/* The entries after the index that published them. */
		dma_rmb();
		while (r->last_used != idx) {
			e = r->vr.used->ring[r->last_used & (r->num - 1)];
			id = __virtio32_to_cpu(true, e.id);
			len = __virtio32_to_cpu(true, e.len);
			if (id >= r->num || r->head[id] == NPA_RELAY_NO_HEAD) {
				relay_broken(vq, r, "the device used a descriptor it was not given",
					     id);
				return;
			}
			e.id = __cpu_to_virtio32(true, r->head[id]);
			r->head[id] = NPA_RELAY_NO_HEAD;
			relay_free_chain(vq, r, id, len);
			off = 4 + 8ULL * (r->used_idx & (r->num - 1));
			if (!relay_guest_copy(nm, vq->used + off, &e, sizeof(e),
					      true)) {
				relay_broken(vq, r, "used ring outside memory",
					     vq->used);
				return;
			}
			relay_log_used(vq, r, off, sizeof(e));
			r->used_idx++;
			r->last_used++;
		}
		/* The entries before the index that publishes them. */
		smp_wmb();
		if (!relay_guest_u16(nm, vq->used + 2, &r->used_idx, true)) {
			relay_broken(vq, r, "used ring outside memory", vq->used);
			return;
		}
		relay_log_used(vq, r, 2, 2);
	}
	if (r->used_idx != old)
		relay_call(vq, r);
}

void npa_relay_work(struct work_struct *work)
{
	struct npa_mdev_vq *vq = container_of(work, struct npa_mdev_vq,
					      relay_work);
	struct npa_mdev *nm = vq->nm;
	struct npa_relay *r;

	mutex_lock(&nm->lock);
	r = vq->relay;
	if (r && !r->broken)
		relay_used(vq, r);
	if (r && !r->broken)
		relay_avail(vq, r);
	if (r)
		relay_log_put(r);
	mutex_unlock(&nm->lock);
}

/* A kick from the guest or an interrupt from the device: move the rings. */
void npa_relay_poke(struct npa_mdev_vq *vq)
{
	queue_work(system_wq, &vq->relay_work);
}

static void relay_free(struct npa_relay *r)
{
	if (r->ring)
		free_pages_exact(r->ring, r->size);
	kfree(r->chain);
	kfree(r->head);
	kfree(r);
}

/*
 * Put queue @vq, about to start, in relay mode from avail index vq->base:
 * the shadow ring's addresses for the device are in @desc, @avail, @used.
 * A doorbell page of the queue mapped in the owner is revoked: a store
 * there faults until the relay stops; kicks reach npa through the kick
 * eventfd or a doorbell region write.
 */
int npa_relay_start(struct npa_mdev_vq *vq, u64 *desc, u64 *avail, u64 *used)
{
	struct npa_mdev *nm = vq->nm;
	struct npa_mdev_parent *np = nm->np;
	u16 idx = relay_vq_index(vq), zero = 0;
	struct npa_relay *r;
	int ret = -ENOMEM;
	u16 i;

	if (!np->relay_iova)
		return -EOPNOTSUPP;
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->num = vq->num;
	r->size = PAGE_ALIGN(vring_size(r->num, PAGE_SIZE));
	r->head = kmalloc_array(r->num, sizeof(*r->head), GFP_KERNEL);
	r->chain = kmalloc_array(r->num, sizeof(*r->chain), GFP_KERNEL);
	if (r->size <= np->relay_slot)
		r->ring = alloc_pages_exact(r->size, GFP_KERNEL | __GFP_ZERO);
	if (!r->head || !r->chain || !r->ring)
		goto err;
	vring_init(&r->vr, r->num, r->ring, PAGE_SIZE);
	for (i = 0; i < r->num; i++) {
		r->vr.desc[i].next = __cpu_to_virtio16(true, i + 1);
		r->head[i] = NPA_RELAY_NO_HEAD;
	}
	r->num_free = r->num;
	r->last_avail = vq->base;
	r->used_idx = vq->base;
	r->iova = np->relay_iova + idx * np->relay_slot;
	ret = npa_mem_map_host(nm, r->iova, virt_to_phys(r->ring), r->size);
	if (ret)
		goto err;
	/* Never suppress the guest's kicks (the avail event comes later). */
	if (!relay_guest_u16(nm, vq->used, &zero, true)) {
		npa_mem_unmap_host(nm, r->iova, r->size);
		ret = -EINVAL;
		goto err;
	}
	relay_log_used(vq, r, 0, 2);
	relay_log_put(r);

	*desc = r->iova;
	*avail = r->iova + ((void *)r->vr.avail - r->ring);
	*used = r->iova + ((void *)r->vr.used - r->ring);
	down_write(&nm->doorbell_lock);
	vq->relay = r;
	unmap_mapping_range(nm->vdev.inode->i_mapping,
			    (loff_t)idx << PAGE_SHIFT, PAGE_SIZE, true);
	up_write(&nm->doorbell_lock);
	return 0;

err:
	relay_free(r);
	return ret;
}

/*
 * The device was reset: copy back what it used before it stopped, with a
 * signal as any used entry gets (a stopped VM finds it pending when it
 * runs again, here or on a migration's destination), keep the index to
 * resume from in vq->base and let go of the shadow ring.
 */
void npa_relay_stop(struct npa_mdev_vq *vq)
{
	struct npa_mdev *nm = vq->nm;
	struct npa_relay *r = vq->relay;

	if (!r)
		return;
	if (!r->broken)
		relay_used(vq, r);
	relay_log_put(r);
	vq->base = r->used_idx;
	down_write(&nm->doorbell_lock);
	vq->relay = NULL;
	up_write(&nm->doorbell_lock);
	npa_mem_unmap_host(nm, r->iova, r->size);
	relay_free(r);
}

/* Where a relaying queue stands: the guest used index npa reached. */
u16 npa_relay_index(struct npa_mdev_vq *vq)
{
	return vq->relay->used_idx;
}

/*
 * VHOST_SET_LOG_BASE: the log must be u64-aligned, as vhost's users lay it
 * out, and writable over the bits of the whole memory table; 0 means none.
 */
long npa_relay_set_log_base(struct npa_mdev *nm, u64 __user *arg)
{
	struct vhost_iotlb_map *map;
	u64 base, bytes = 0;

	if (copy_from_user(&base, arg, sizeof(base)))
		return -EFAULT;
	if (!IS_ALIGNED(base, sizeof(u64))) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "dirty log base 0x%llx is not 8-byte aligned\n",
				     base);
		return -EINVAL;
	}
	for (map = vhost_iotlb_itree_first(nm->iotlb, 0, U64_MAX); map;
	     map = vhost_iotlb_itree_next(map, 0, U64_MAX))
		bytes = max(bytes, map->last / NPA_LOG_PAGE / 8 + 1);
	if (base && (base + bytes < base ||
		     !access_ok(u64_to_user_ptr(base), bytes) ||
		     fault_in_safe_writeable((const char __user *)u64_to_user_ptr(base),
					     bytes))) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "dirty log 0x%llx+0x%llx is not writable memory\n",
				     base, bytes);
		return -EFAULT;
	}
	nm->log_base = base;
	return 0;
}
