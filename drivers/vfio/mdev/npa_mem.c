// SPDX-License-Identifier: GPL-2.0
/*
 * npa_mem - the guest memory of an npa mdev: its memory table
 *
 * VHOST_SET_MEM_TABLE gives guest physical ranges backed by the owner's
 * memory.  Each region's pages are pinned (FOLL_LONGTERM) a page of page
 * pointers at a time, as vhost-vdpa does; each physically contiguous run is
 * recorded in the region's own vhost_iotlb (guest physical -> physical) and
 * mapped for the device at IOVA = guest physical address: through the
 * parent's dma_map, into the table a set_map parent is given, or into
 * npa_mdev's IOMMU domain on the DMA device.  Unmapping and unpinning walk
 * the runs: what npa keeps grows with the runs pinned, not with the size
 * asked for.
 *
 * Pinned pages are charged once, to the owner's pinned_vm (VmPin), as
 * vhost-vdpa does, and held against RLIMIT_MEMLOCK unless the caller has
 * CAP_IPC_LOCK.  A region is charged whole before its first page is pinned
 * and uncharged whole when its pages are unpinned.
 *
 * A new table replaces the old one all or nothing: the new regions are
 * pinned first, then the old table's mappings are swapped for the new
 * table's, and only once the device has the new mappings are the regions
 * that left unpinned.
 *
 * Locking: every function here runs under struct npa_mdev.lock, which
 * serialises the requests, the last close and the owner's death: it
 * protects npa_mdev.iotlb, the runs of each region and the parent's
 * mappings.
 */
#include <linux/iommu.h>
#include <linux/capability.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vdpa.h>
#include <linux/vhost.h>
#include <linux/vhost_iotlb.h>
#include <linux/virtio_config.h>

#include "npa_mdev.h"

/* Pages pinned per pin_user_pages() call: a page of page pointers. */
#define NPA_MEM_BATCH	(PAGE_SIZE / sizeof(struct page *))

/*
 * The device's DMA mappings: through the parent's dma_map, or into the table
 * a set_map parent is given (npa_mem_dma_commit()), or into npa_mdev's own
 * IOMMU domain on the DMA device.
 */
static int npa_mem_dma_map(struct npa_mdev *nm, u64 iova, phys_addr_t pa,
			   u64 size)
{
	struct npa_mdev_parent *np = nm->np;
	const struct vdpa_config_ops *ops = np->vdpa->config;

	if (ops->dma_map)
		return ops->dma_map(np->vdpa, 0, iova, size, pa, VHOST_MAP_RW,
				    NULL);
	if (ops->set_map)
		return vhost_iotlb_add_range(np->dma_iotlb, iova,
					     iova + size - 1, pa, VHOST_MAP_RW);
	return iommu_map(np->domain, iova, pa, size,
			 IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE,
			 GFP_KERNEL_ACCOUNT);
}

static void npa_mem_dma_unmap(struct npa_mdev *nm, u64 iova, u64 size)
{
	struct npa_mdev_parent *np = nm->np;
	const struct vdpa_config_ops *ops = np->vdpa->config;

	if (ops->dma_map)
		ops->dma_unmap(np->vdpa, 0, iova, size);
	else if (ops->set_map)
		vhost_iotlb_del_range(np->dma_iotlb, iova, iova + size - 1);
	else
		iommu_unmap(np->domain, iova, size);
}

/* A set_map parent takes the whole table, after every change to it. */
static int npa_mem_dma_commit(struct npa_mdev *nm)
{
	struct npa_mdev_parent *np = nm->np;
	const struct vdpa_config_ops *ops = np->vdpa->config;

	if (ops->dma_map || !ops->set_map)
		return 0;
	return ops->set_map(np->vdpa, 0, np->dma_iotlb);
}

/* Walk a vhost_iotlb in address order. */
static struct vhost_iotlb_map *npa_mem_first(struct vhost_iotlb *iotlb)
{
	return vhost_iotlb_itree_first(iotlb, 0, U64_MAX);
}

static struct vhost_iotlb_map *npa_mem_next(struct vhost_iotlb_map *map)
{
	return vhost_iotlb_itree_next(map, 0, U64_MAX);
}

/* Map a region's runs at their guest physical addresses; all or none. */
static int npa_mem_map_runs(struct npa_mdev *nm, struct vhost_iotlb *runs)
{
	struct vhost_iotlb_map *run, *done;
	int ret;

	for (run = npa_mem_first(runs); run; run = npa_mem_next(run)) {
		ret = npa_mem_dma_map(nm, run->start, run->addr, run->size);
		if (ret)
			goto undo;
	}
	return 0;

undo:
	for (done = npa_mem_first(runs); done; done = npa_mem_next(done)) {
		if (done == run)
			break;
		npa_mem_dma_unmap(nm, done->start, done->size);
	}
	return ret;
}

static void npa_mem_unmap_runs(struct npa_mdev *nm, struct vhost_iotlb *runs)
{
	struct vhost_iotlb_map *run;

	for (run = npa_mem_first(runs); run; run = npa_mem_next(run))
		npa_mem_dma_unmap(nm, run->start, run->size);
}

/* Unpin a region's runs and uncharge the region, which was charged whole. */
static void npa_mem_release(struct npa_mdev *nm, struct vhost_iotlb *runs,
			    u64 size)
{
	struct vhost_iotlb_map *run;

	while ((run = npa_mem_first(runs))) {
		unpin_user_page_range_dirty_lock(pfn_to_page(PHYS_PFN(run->addr)),
						 run->size >> PAGE_SHIFT, true);
		vhost_iotlb_map_free(runs, run);
	}
	vhost_iotlb_free(runs);
	atomic64_sub(size >> PAGE_SHIFT, &nm->mm->pinned_vm);
}

/* Charge @npages to pinned_vm, within RLIMIT_MEMLOCK unless CAP_IPC_LOCK. */
static int npa_mem_charge(struct npa_mdev *nm, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	s64 pinned = atomic64_add_return(npages, &nm->mm->pinned_vm);

	if (pinned > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &nm->mm->pinned_vm);
		dev_warn_ratelimited(nm->vdev.dev,
				     "pinning %lu more pages exceeds RLIMIT_MEMLOCK\n",
				     npages);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Record @npages physically contiguous pinned pages from @pa at @gpa; if that
 * fails, unpin them: the caller's runs hold exactly what is pinned.
 */
static int npa_mem_add_run(struct vhost_iotlb *runs, u64 gpa, phys_addr_t pa,
			   unsigned long npages)
{
	int ret;

	ret = vhost_iotlb_add_range(runs, gpa, gpa + (npages << PAGE_SHIFT) - 1,
				    pa, VHOST_MAP_RW);
	if (ret)
		unpin_user_page_range_dirty_lock(pfn_to_page(PHYS_PFN(pa)),
						 npages, false);
	return ret;
}

/*
 * Pin the pages of region @r (start: guest physical, addr: user address) of
 * the caller's memory, a batch at a time, into runs of physically contiguous
 * pages.  Returns the runs, or an error with nothing pinned nor charged.
 */
static struct vhost_iotlb *npa_mem_pin(struct npa_mdev *nm,
				       const struct vhost_iotlb_map *r)
{
	unsigned long npages = r->size >> PAGE_SHIFT;
	unsigned long done = 0, count = 0, i;
	struct vhost_iotlb *runs;
	phys_addr_t run_pa = 0;
	struct page **pages;
	u64 run_gpa = 0;
	long n;
	int ret;

	ret = npa_mem_charge(nm, npages);
	if (ret)
		return ERR_PTR(ret);
	runs = vhost_iotlb_alloc(0, 0);
	pages = (struct page **)__get_free_page(GFP_KERNEL);
	if (!runs || !pages) {
		free_page((unsigned long)pages);
		if (runs)
			vhost_iotlb_free(runs);
		atomic64_sub(npages, &nm->mm->pinned_vm);
		return ERR_PTR(-ENOMEM);
	}

	mmap_read_lock(current->mm);
	while (done < npages && !ret) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		n = pin_user_pages(r->addr + (done << PAGE_SHIFT),
				   min(npages - done, NPA_MEM_BATCH),
				   FOLL_LONGTERM | FOLL_WRITE, pages);
		if (n <= 0) {
			ret = n ? n : -EFAULT;
			break;
		}
		for (i = 0; i < n; i++) {
			phys_addr_t pa = page_to_phys(pages[i]);

			if (count && pa == run_pa + (count << PAGE_SHIFT)) {
				count++;
				continue;
			}
			if (count) {
				ret = npa_mem_add_run(runs, run_gpa, run_pa,
						      count);
				if (ret) {
					unpin_user_pages(pages + i, n - i);
					count = 0;
					break;
				}
			}
			run_gpa = r->start + ((done + i) << PAGE_SHIFT);
			run_pa = pa;
			count = 1;
		}
		done += n;
	}
	mmap_read_unlock(current->mm);
	free_page((unsigned long)pages);
	if (count) {
		n = npa_mem_add_run(runs, run_gpa, run_pa, count);
		if (!ret)
			ret = n;
	}
	if (ret) {
		npa_mem_release(nm, runs, r->size);
		return ERR_PTR(ret);
	}
	return runs;
}

/* Does @table hold @map's region, pinned by the same runs? */
static bool npa_mem_holds(struct vhost_iotlb *table,
			  const struct vhost_iotlb_map *map)
{
	struct vhost_iotlb_map *m;

	m = vhost_iotlb_itree_first(table, map->start, map->start);
	return m && m->opaque == map->opaque;
}

static int npa_mem_check_region(struct npa_mdev *nm, struct list_head *resv,
				const struct vhost_memory_region *r)
{
	u64 last = r->guest_phys_addr + r->memory_size - 1;
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	u64 npages = r->memory_size >> PAGE_SHIFT;
	struct iommu_resv_region *rv;

	if (!r->memory_size || !PAGE_ALIGNED(r->guest_phys_addr) ||
	    !PAGE_ALIGNED(r->memory_size) || !PAGE_ALIGNED(r->userspace_addr) ||
	    last < r->guest_phys_addr ||
	    r->userspace_addr + r->memory_size < r->userspace_addr) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "memory region 0x%llx+0x%llx at 0x%llx: empty, unaligned or wrapping\n",
				     r->guest_phys_addr, r->memory_size,
				     r->userspace_addr);
		return -EINVAL;
	}
	if (r->guest_phys_addr < nm->np->range.first ||
	    last > nm->np->range.last) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "memory region 0x%llx+0x%llx is outside the device's IOVA range [0x%llx, 0x%llx]\n",
				     r->guest_phys_addr, r->memory_size,
				     nm->np->range.first, nm->np->range.last);
		return -EINVAL;
	}
	list_for_each_entry(rv, resv, list) {
		if (r->guest_phys_addr > rv->start + rv->length - 1 ||
		    last < rv->start)
			continue;
		dev_warn_ratelimited(nm->vdev.dev,
				     "memory region 0x%llx+0x%llx overlaps the reserved IOVAs 0x%llx+0x%zx\n",
				     r->guest_phys_addr, r->memory_size,
				     (u64)rv->start, rv->length);
		return -EINVAL;
	}
	/* Refused before anything is allocated or pinned for it. */
	if (npages > totalram_pages() ||
	    (npages > limit && !capable(CAP_IPC_LOCK))) {
		dev_warn_ratelimited(nm->vdev.dev,
				     "memory region 0x%llx+0x%llx is larger than the caller can pin\n",
				     r->guest_phys_addr, r->memory_size);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Build the new table: each region checked, and given the runs of the same
 * region in the old table (kept as it is) or none yet (to pin).
 */
static int npa_mem_build(struct npa_mdev *nm, struct vhost_iotlb *table,
			 const struct vhost_memory_region *regions, u32 n)
{
	struct device *dma_dev = vdpa_get_dma_dev(nm->vdpa);
	const struct vhost_memory_region *r;
	struct vhost_iotlb_map *old;
	LIST_HEAD(resv);
	int ret = 0;
	u64 last;
	u32 i;

	/*
	 * The IOVAs the IOMMU behind the DMA device reserves; none when no
	 * IOMMU translates it (vdpa_sim, whose dma_dev is its vdpa device),
	 * which iommu_get_resv_regions() must not be asked about.
	 */
	if (device_iommu_mapped(dma_dev))
		iommu_get_resv_regions(dma_dev, &resv);
	for (i = 0; i < n && !ret; i++) {
		r = &regions[i];
		ret = npa_mem_check_region(nm, &resv, r);
		if (ret)
			break;
		last = r->guest_phys_addr + r->memory_size - 1;
		if (vhost_iotlb_itree_first(table, r->guest_phys_addr, last)) {
			dev_warn_ratelimited(nm->vdev.dev,
					     "memory region 0x%llx+0x%llx overlaps another\n",
					     r->guest_phys_addr,
					     r->memory_size);
			ret = -EINVAL;
			break;
		}
		old = vhost_iotlb_itree_first(nm->iotlb, r->guest_phys_addr,
					      r->guest_phys_addr);
		if (old && (old->start != r->guest_phys_addr ||
			    old->size != r->memory_size ||
			    old->addr != r->userspace_addr))
			old = NULL;
		ret = vhost_iotlb_add_range_ctx(table, r->guest_phys_addr, last,
						r->userspace_addr, VHOST_MAP_RW,
						old ? old->opaque : NULL);
	}
	iommu_put_resv_regions(dma_dev, &resv);
	return ret;
}

/* Unmap the new regions of @table mapped before @stop (NULL: all). */
static void npa_mem_unmap_new(struct npa_mdev *nm, struct vhost_iotlb *table,
			      struct vhost_iotlb_map *stop)
{
	struct vhost_iotlb_map *map;

	for (map = npa_mem_first(table); map; map = npa_mem_next(map)) {
		if (map == stop)
			break;
		if (!npa_mem_holds(nm->iotlb, map))
			npa_mem_unmap_runs(nm, map->opaque);
	}
}

/*
 * Put the device on @table's mappings: unmap the old regions that are not
 * in it, map its new ones.  On failure the old table's mappings are back.
 */
static int npa_mem_switch(struct npa_mdev *nm, struct vhost_iotlb *table)
{
	struct vhost_iotlb_map *map;
	int ret = 0;

	for (map = npa_mem_first(nm->iotlb); map; map = npa_mem_next(map))
		if (!npa_mem_holds(table, map))
			npa_mem_unmap_runs(nm, map->opaque);
	for (map = npa_mem_first(table); map; map = npa_mem_next(map)) {
		if (npa_mem_holds(nm->iotlb, map))
			continue;
		ret = npa_mem_map_runs(nm, map->opaque);
		if (ret)
			break;
	}
	if (!ret) {
		ret = npa_mem_dma_commit(nm);
		if (!ret)
			return 0;
		map = NULL;
	}

	npa_mem_unmap_new(nm, table, map);
	for (map = npa_mem_first(nm->iotlb); map; map = npa_mem_next(map))
		if (!npa_mem_holds(table, map) &&
		    npa_mem_map_runs(nm, map->opaque))
			dev_err(nm->vdev.dev,
				"memory region 0x%llx+0x%llx could not be mapped again\n",
				map->start, map->size);
	if (npa_mem_dma_commit(nm))
		dev_err(nm->vdev.dev, "the parent refused the old mappings\n");
	return ret;
}

/*
 * VHOST_SET_MEM_TABLE, all or nothing: regions in both the old and the new
 * table stay mapped (the device may be using them); the new ones are pinned
 * and mapped, the old ones unmapped and unpinned, or, on any failure, the old
 * table stands as it was and nothing new stays pinned or mapped.  While the
 * device runs (DRIVER_OK) a region may be added, not removed or replaced.
 */
long npa_mem_set_table(struct npa_mdev *nm, void __user *arg)
{
	struct vhost_memory_region *regions;
	struct vhost_iotlb *table, *runs;
	struct vhost_iotlb_map *map;
	struct vhost_memory hdr;
	long ret;

	if (copy_from_user(&hdr, arg, sizeof(hdr)))
		return -EFAULT;
	if (hdr.padding)
		return -EOPNOTSUPP;
	if (hdr.nregions > NPA_MDEV_MAX_MEM_REGIONS)
		return -E2BIG;
	regions = memdup_array_user(arg + sizeof(hdr), hdr.nregions,
				    sizeof(*regions));
	if (IS_ERR(regions))
		return PTR_ERR(regions);
	table = vhost_iotlb_alloc(NPA_MDEV_MAX_MEM_REGIONS, 0);
	if (!table) {
		kfree(regions);
		return -ENOMEM;
	}
	ret = npa_mem_build(nm, table, regions, hdr.nregions);
	kfree(regions);
	if (ret)
		goto out;

	if (nm->status & VIRTIO_CONFIG_S_DRIVER_OK) {
		for (map = npa_mem_first(nm->iotlb); map; map = npa_mem_next(map)) {
			if (npa_mem_holds(table, map))
				continue;
			dev_warn_ratelimited(nm->vdev.dev,
					     "memory region 0x%llx+0x%llx is in use by the running device\n",
					     map->start, map->size);
			ret = -EBUSY;
			goto out;
		}
	}

	for (map = npa_mem_first(table); map; map = npa_mem_next(map)) {
		if (map->opaque)
			continue;
		runs = npa_mem_pin(nm, map);
		if (IS_ERR(runs)) {
			ret = PTR_ERR(runs);
			goto out;
		}
		map->opaque = runs;
	}

	ret = npa_mem_switch(nm, table);
	if (ret)
		goto out;
	swap(nm->iotlb, table);

out:
	/* @table is the table that lost: release what it alone pinned. */
	for (map = npa_mem_first(table); map; map = npa_mem_next(map))
		if (map->opaque && !npa_mem_holds(nm->iotlb, map))
			npa_mem_release(nm, map->opaque, map->size);
	vhost_iotlb_free(table);
	return ret;
}

/* Last close: unmap and unpin everything. */
void npa_mem_clear(struct npa_mdev *nm)
{
	struct vhost_iotlb_map *map;

	for (map = npa_mem_first(nm->iotlb); map; map = npa_mem_next(map))
		npa_mem_unmap_runs(nm, map->opaque);
	npa_mem_dma_commit(nm);
	while ((map = npa_mem_first(nm->iotlb))) {
		npa_mem_release(nm, map->opaque, map->size);
		vhost_iotlb_map_free(nm->iotlb, map);
	}
}

/* Is [@gpa, @gpa + @len) inside one region of the memory table? */
bool npa_mem_covers(struct npa_mdev *nm, u64 gpa, u64 len)
{
	struct vhost_iotlb_map *map;

	if (gpa + len - 1 < gpa)
		return false;
	map = vhost_iotlb_itree_first(nm->iotlb, gpa, gpa + len - 1);
	return map && map->start <= gpa && map->last >= gpa + len - 1;
}

/* The pinned page behind guest physical address @gpa, or NULL. */
struct page *npa_mem_page(struct npa_mdev *nm, u64 gpa)
{
	struct vhost_iotlb_map *map, *run;

	map = vhost_iotlb_itree_first(nm->iotlb, gpa, gpa);
	if (!map)
		return NULL;
	run = vhost_iotlb_itree_first(map->opaque, gpa, gpa);
	return pfn_to_page(PHYS_PFN(run->addr + gpa - run->start));
}

/*
 * Map host memory npa owns (the relay's shadow rings) for the device at
 * @iova, outside the memory table, through the same path as guest memory.
 */
int npa_mem_map_host(struct npa_mdev *nm, u64 iova, phys_addr_t pa, u64 size)
{
	int ret;

	ret = npa_mem_dma_map(nm, iova, pa, size);
	if (ret)
		return ret;
	ret = npa_mem_dma_commit(nm);
	if (ret) {
		npa_mem_dma_unmap(nm, iova, size);
		npa_mem_dma_commit(nm);
	}
	return ret;
}

void npa_mem_unmap_host(struct npa_mdev *nm, u64 iova, u64 size)
{
	npa_mem_dma_unmap(nm, iova, size);
	if (npa_mem_dma_commit(nm))
		dev_err(nm->vdev.dev, "the parent refused to unmap 0x%llx+0x%llx\n",
			iova, size);
}
