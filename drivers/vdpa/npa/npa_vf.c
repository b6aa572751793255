// SPDX-License-Identifier: GPL-2.0
/*
 * npa_vf - a vdpa parent for VRING-capable virtio 1.x network functions
 *
 * Modelled on vp_vdpa: the function is driven through the kernel's
 * virtio-pci modern helpers and shows up on the vdpa bus as a management
 * device ("pci/<BDF>"); "vdpa dev add" creates its vdpa device, whose
 * config space carries the MAC and MTU the admin provisioned.  DMA goes
 * through the platform IOMMU: the vdpa bus driver puts the function in an
 * IOMMU domain of its own (vdpa_get_dma_dev()).
 *
 * The driver has no ID table: like vfio-pci and vp_vdpa, it takes a
 * function only when the admin hands it over (driver_override), never the
 * host's own NICs, and it refuses, with the reason in the log, a function
 * whose DMA the IOMMU cannot confine.
 */
#include <linux/etherdevice.h>
#include <linux/interrupt.h>
#include <linux/iommu.h>
#include <linux/iopoll.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vdpa.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_pci_modern.h>
#include <uapi/linux/vdpa.h>

/* How long a reset may take before the function is given up on. */
#define NPA_VF_RESET_TIMEOUT_US		USEC_PER_SEC

/* The virtio-net config fields the parent serves when provisioned. */
#define NPA_VF_SERVED	(BIT_ULL(VIRTIO_NET_F_MAC) | BIT_ULL(VIRTIO_NET_F_MTU))

/**
 * struct npa_vf_vq - a virtqueue of the function
 * @notify: the mapped doorbell
 * @notify_pa: its physical address
 * @notify_size: the notification area reported: PAGE_SIZE when the
 *	doorbell's page holds nothing else, so it may be mapped into a guest
 * @irq: the Linux IRQ of the queue's own MSI-X vector
 * @cb: what the interrupt calls; changed with the IRQ disabled
 * @num_max: the largest ring size the queue accepts
 */
struct npa_vf_vq {
	void __iomem *notify;
	resource_size_t notify_pa;
	resource_size_t notify_size;
	int irq;
	struct vdpa_callback cb;
	u16 num_max;
};

struct npa_vf_dev;

/**
 * struct npa_vf - one function handed to npa: a vdpa management device
 * @mgtdev: the management device, "pci/<BDF>"
 * @id_table: what it creates: VIRTIO_ID_NET, then the terminator
 * @mdev: the virtio-pci modern device
 * @nd: its vdpa device, NULL while there is none; only changed by
 *	dev_add and dev_del, which the vdpa core serialises (vdpa_dev_lock)
 * @features: the feature bits the function offers
 * @num_max: the largest ring size a queue accepts (the control queue's
 *	may be smaller: get_vq_size tells each queue's)
 * @config_irq: the Linux IRQ of the config change vector
 * @config_cb: what the config change interrupt calls
 * @nvqs: number of virtqueues
 * @vqs: the virtqueues
 *
 * MSI-X vector i serves queue i; vector @nvqs serves config changes.
 */
struct npa_vf {
	struct vdpa_mgmt_dev mgtdev;
	struct virtio_device_id id_table[2];
	struct virtio_pci_modern_device mdev;
	struct npa_vf_dev *nd;
	u64 features;
	u16 num_max;
	int config_irq;
	struct vdpa_callback config_cb;
	u16 nvqs;
	struct npa_vf_vq *vqs;
};

/**
 * struct npa_vf_dev - the vdpa device of a function
 * @vdpa: the vdpa device; first, as vdpa_alloc_device() requires
 * @vf: its function
 * @device_features: what the device offers: the function's features,
 *	plus VIRTIO_NET_F_MAC and VIRTIO_NET_F_MTU when provisioned
 * @driver_features: what the driver set; written with the vdpa core's
 *	cf_lock held for writing
 * @served: the NPA_VF_SERVED bits the admin provisioned: the parent
 *	answers those config fields itself
 * @cfg: the provisioned MAC and MTU (little endian: virtio 1.x)
 */
struct npa_vf_dev {
	struct vdpa_device vdpa;
	struct npa_vf *vf;
	u64 device_features;
	u64 driver_features;
	u64 served;
	struct virtio_net_config cfg;
};

static struct npa_vf_dev *vdpa_to_nd(struct vdpa_device *vdpa)
{
	return container_of(vdpa, struct npa_vf_dev, vdpa);
}

static struct npa_vf *vdpa_to_vf(struct vdpa_device *vdpa)
{
	return vdpa_to_nd(vdpa)->vf;
}

static struct virtio_pci_modern_device *vdpa_to_mdev(struct vdpa_device *vdpa)
{
	return &vdpa_to_vf(vdpa)->mdev;
}

/* Write status 0 and wait, as the spec asks, until the device reads 0. */
static int npa_vf_reset_wait(struct npa_vf *vf)
{
	struct virtio_pci_modern_device *mdev = &vf->mdev;
	u8 status;
	int ret;

	vp_modern_set_status(mdev, 0);
	ret = read_poll_timeout(vp_modern_get_status, status, !status,
				USEC_PER_MSEC, NPA_VF_RESET_TIMEOUT_US, false,
				mdev);
	if (ret)
		dev_err(&mdev->pci_dev->dev,
			"device did not finish its reset (status 0x%x)\n",
			status);
	return ret;
}

static u64 npa_vf_get_device_features(struct vdpa_device *vdpa)
{
	return vdpa_to_nd(vdpa)->device_features;
}

static int npa_vf_set_driver_features(struct vdpa_device *vdpa, u64 features)
{
	struct npa_vf_dev *nd = vdpa_to_nd(vdpa);

	nd->driver_features = features;
	/* The device never sees the bits the parent serves for it. */
	vp_modern_set_features(&nd->vf->mdev, features & nd->vf->features);
	return 0;
}

static u64 npa_vf_get_driver_features(struct vdpa_device *vdpa)
{
	return vdpa_to_nd(vdpa)->driver_features;
}

static u8 npa_vf_get_status(struct vdpa_device *vdpa)
{
	return vp_modern_get_status(vdpa_to_mdev(vdpa));
}

static void npa_vf_set_status(struct vdpa_device *vdpa, u8 status)
{
	struct npa_vf *vf = vdpa_to_vf(vdpa);
	struct device *dev = &vf->mdev.pci_dev->dev;
	u8 old = vp_modern_get_status(&vf->mdev);

	if ((status & ~old & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    vp_modern_config_vector(&vf->mdev, vf->nvqs) != vf->nvqs)
		dev_warn(dev, "device refused the config change vector\n");
	vp_modern_set_status(&vf->mdev, status);
	if ((status & ~old & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !(vp_modern_get_status(&vf->mdev) & VIRTIO_CONFIG_S_FEATURES_OK))
		dev_warn(dev, "device did not accept features 0x%llx\n",
			 vp_modern_get_driver_features(&vf->mdev));
}

static int npa_vf_reset(struct vdpa_device *vdpa)
{
	struct npa_vf_dev *nd = vdpa_to_nd(vdpa);
	struct npa_vf *vf = nd->vf;
	int i, ret;

	ret = npa_vf_reset_wait(vf);
	for (i = 0; i < vf->nvqs; i++)
		synchronize_irq(vf->vqs[i].irq);
	synchronize_irq(vf->config_irq);
	nd->driver_features = 0;
	return ret;
}

static u16 npa_vf_get_vq_num_max(struct vdpa_device *vdpa)
{
	return vdpa_to_vf(vdpa)->num_max;
}

static u16 npa_vf_get_vq_size(struct vdpa_device *vdpa, u16 qid)
{
	return vdpa_to_vf(vdpa)->vqs[qid].num_max;
}

static int npa_vf_get_vq_state(struct vdpa_device *vdpa, u16 qid,
			       struct vdpa_vq_state *state)
{
	/* A virtio 1.x function has no register for it (as vp_vdpa). */
	return -EOPNOTSUPP;
}

/* Only the state a queue starts in: there is no register to set another. */
static int npa_vf_set_vq_state(struct vdpa_device *vdpa, u16 qid,
			       const struct vdpa_vq_state *state)
{
	struct npa_vf_dev *nd = vdpa_to_nd(vdpa);
	const struct vdpa_vq_state_packed *packed = &state->packed;

	if ((vp_modern_get_status(&nd->vf->mdev) & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    !vp_modern_get_queue_enable(&nd->vf->mdev, qid)) {
		if (!(nd->driver_features & BIT_ULL(VIRTIO_F_RING_PACKED)))
			return state->split.avail_index ? -EOPNOTSUPP : 0;
		if (packed->last_avail_counter == 1 &&
		    !packed->last_avail_idx &&
		    packed->last_used_counter == 1 && !packed->last_used_idx)
			return 0;
	}
	return -EOPNOTSUPP;
}

static void npa_vf_set_vq_cb(struct vdpa_device *vdpa, u16 qid,
			     struct vdpa_callback *cb)
{
	struct npa_vf_vq *vq = &vdpa_to_vf(vdpa)->vqs[qid];

	disable_irq(vq->irq);
	vq->cb = *cb;
	enable_irq(vq->irq);
}

/*
 * A virtio 1.x queue is only disabled by a reset (the spec forbids writing
 * 0 to queue_enable), so "not ready" is a no-op until then.
 */
static void npa_vf_set_vq_ready(struct vdpa_device *vdpa, u16 qid, bool ready)
{
	struct npa_vf *vf = vdpa_to_vf(vdpa);

	if (!ready)
		return;
	if (vp_modern_queue_vector(&vf->mdev, qid, qid) != qid)
		dev_warn(&vf->mdev.pci_dev->dev,
			 "queue %u: device refused MSI-X vector %u\n", qid, qid);
	vp_modern_set_queue_enable(&vf->mdev, qid, true);
}

static bool npa_vf_get_vq_ready(struct vdpa_device *vdpa, u16 qid)
{
	return vp_modern_get_queue_enable(vdpa_to_mdev(vdpa), qid);
}

static void npa_vf_set_vq_num(struct vdpa_device *vdpa, u16 qid, u32 num)
{
	vp_modern_set_queue_size(vdpa_to_mdev(vdpa), qid, num);
}

static int npa_vf_set_vq_address(struct vdpa_device *vdpa, u16 qid,
				 u64 desc_area, u64 driver_area,
				 u64 device_area)
{
	vp_modern_queue_address(vdpa_to_mdev(vdpa), qid, desc_area,
				driver_area, device_area);
	return 0;
}

static void npa_vf_kick_vq(struct vdpa_device *vdpa, u16 qid)
{
	vp_iowrite16(qid, vdpa_to_vf(vdpa)->vqs[qid].notify);
}

static struct vdpa_notification_area
npa_vf_get_vq_notification(struct vdpa_device *vdpa, u16 qid)
{
	struct npa_vf *vf = vdpa_to_vf(vdpa);
	struct vdpa_notification_area area = {
		.addr = vf->vqs[qid].notify_pa,
		.size = vf->vqs[qid].notify_size,
	};

	return area;
}

static int npa_vf_get_vq_irq(struct vdpa_device *vdpa, u16 qid)
{
	return vdpa_to_vf(vdpa)->vqs[qid].irq;
}

static u32 npa_vf_get_generation(struct vdpa_device *vdpa)
{
	return vp_modern_generation(vdpa_to_mdev(vdpa));
}

static u32 npa_vf_get_device_id(struct vdpa_device *vdpa)
{
	return vdpa_to_mdev(vdpa)->id.device;
}

static u32 npa_vf_get_vendor_id(struct vdpa_device *vdpa)
{
	return vdpa_to_mdev(vdpa)->id.vendor;
}

static u32 npa_vf_get_vq_align(struct vdpa_device *vdpa)
{
	return PAGE_SIZE;
}

/* The function's config space, at least up to the fields the parent serves. */
static size_t npa_vf_get_config_size(struct vdpa_device *vdpa)
{
	struct npa_vf_dev *nd = vdpa_to_nd(vdpa);
	size_t size = nd->vf->mdev.device_len;

	if (nd->served & BIT_ULL(VIRTIO_NET_F_MTU))
		size = max(size, offsetofend(struct virtio_net_config, mtu));
	return max(size, offsetofend(struct virtio_net_config, mac));
}

/* Copy what of @field falls in [@offset, @offset + @len) to @buf. */
static void npa_vf_overlay(u8 *buf, unsigned int offset, unsigned int len,
			   unsigned int field_off, const void *field,
			   unsigned int field_len)
{
	unsigned int start = max(offset, field_off);
	unsigned int end = min(offset + len, field_off + field_len);

	if (start < end)
		memcpy(buf + start - offset, field + start - field_off,
		       end - start);
}

static void npa_vf_get_config(struct vdpa_device *vdpa, unsigned int offset,
			      void *buf, unsigned int len)
{
	struct npa_vf_dev *nd = vdpa_to_nd(vdpa);
	struct virtio_pci_modern_device *mdev = &nd->vf->mdev;
	u8 *p = buf;
	unsigned int i;
	u32 gen;

	/* Retry until the device did not change the space under us. */
	do {
		gen = vp_modern_generation(mdev);
		for (i = 0; i < len; i++)
			p[i] = offset + i < mdev->device_len ?
			       vp_ioread8(mdev->device + offset + i) : 0;
	} while (gen != vp_modern_generation(mdev));

	/* The admin's MAC and MTU, whatever the function says. */
	if (nd->served & BIT_ULL(VIRTIO_NET_F_MAC))
		npa_vf_overlay(p, offset, len,
			       offsetof(struct virtio_net_config, mac),
			       nd->cfg.mac, sizeof(nd->cfg.mac));
	if (nd->served & BIT_ULL(VIRTIO_NET_F_MTU))
		npa_vf_overlay(p, offset, len,
			       offsetof(struct virtio_net_config, mtu),
			       &nd->cfg.mtu, sizeof(nd->cfg.mtu));
}

static void npa_vf_set_config(struct vdpa_device *vdpa, unsigned int offset,
			      const void *buf, unsigned int len)
{
	dev_warn_ratelimited(&vdpa->dev,
			     "config write of %u bytes at %u refused: MAC and MTU are the host admin's\n",
			     len, offset);
}

static void npa_vf_set_config_cb(struct vdpa_device *vdpa,
				 struct vdpa_callback *cb)
{
	struct npa_vf *vf = vdpa_to_vf(vdpa);

	disable_irq(vf->config_irq);
	vf->config_cb = *cb;
	enable_irq(vf->config_irq);
}

static const struct vdpa_config_ops npa_vf_vdpa_ops = {
	.get_device_features	= npa_vf_get_device_features,
	.set_driver_features	= npa_vf_set_driver_features,
	.get_driver_features	= npa_vf_get_driver_features,
	.get_status		= npa_vf_get_status,
	.set_status		= npa_vf_set_status,
	.reset			= npa_vf_reset,
	.get_vq_num_max		= npa_vf_get_vq_num_max,
	.get_vq_size		= npa_vf_get_vq_size,
	.get_vq_state		= npa_vf_get_vq_state,
	.set_vq_state		= npa_vf_set_vq_state,
	.get_vq_notification	= npa_vf_get_vq_notification,
	.get_vq_irq		= npa_vf_get_vq_irq,
	.set_vq_cb		= npa_vf_set_vq_cb,
	.set_vq_ready		= npa_vf_set_vq_ready,
	.get_vq_ready		= npa_vf_get_vq_ready,
	.set_vq_num		= npa_vf_set_vq_num,
	.set_vq_address		= npa_vf_set_vq_address,
	.kick_vq		= npa_vf_kick_vq,
	.get_generation		= npa_vf_get_generation,
	.get_device_id		= npa_vf_get_device_id,
	.get_vendor_id		= npa_vf_get_vendor_id,
	.get_vq_align		= npa_vf_get_vq_align,
	.get_config_size	= npa_vf_get_config_size,
	.get_config		= npa_vf_get_config,
	.set_config		= npa_vf_set_config,
	.set_config_cb		= npa_vf_set_config_cb,
};

/* The function's own MTU, when it offers VIRTIO_NET_F_MTU. */
static u16 npa_vf_device_mtu(struct npa_vf *vf)
{
	struct virtio_pci_modern_device *mdev = &vf->mdev;

	if (!(vf->features & BIT_ULL(VIRTIO_NET_F_MTU)) ||
	    mdev->device_len < offsetofend(struct virtio_net_config, mtu))
		return U16_MAX;
	return vp_ioread16(mdev->device +
			   offsetof(struct virtio_net_config, mtu));
}

static int npa_vf_dev_add(struct vdpa_mgmt_dev *mgtdev, const char *name,
			  const struct vdpa_dev_set_config *config)
{
	struct npa_vf *vf = container_of(mgtdev, struct npa_vf, mgtdev);
	struct device *dev = &vf->mdev.pci_dev->dev;
	struct npa_vf_dev *nd;
	int ret;

	if (vf->nd) {
		dev_err(dev, "already has vdpa device %s: one per function\n",
			dev_name(&vf->nd->vdpa.dev));
		return -EBUSY;
	}
	if ((config->mask & BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU)) &&
	    config->net.mtu > npa_vf_device_mtu(vf)) {
		dev_err(dev, "MTU %u is above the device's %u\n",
			config->net.mtu, npa_vf_device_mtu(vf));
		return -EINVAL;
	}

	nd = vdpa_alloc_device(struct npa_vf_dev, vdpa, dev, &npa_vf_vdpa_ops,
			       1, 1, name, false);
	if (IS_ERR(nd))
		return PTR_ERR(nd);
	nd->vf = vf;
	nd->vdpa.dma_dev = dev;
	nd->vdpa.mdev = mgtdev;
	if (config->mask & BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR)) {
		ether_addr_copy(nd->cfg.mac, config->net.mac);
		nd->served |= BIT_ULL(VIRTIO_NET_F_MAC);
	}
	if (config->mask & BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU)) {
		nd->cfg.mtu = __cpu_to_virtio16(true, config->net.mtu);
		nd->served |= BIT_ULL(VIRTIO_NET_F_MTU);
	}
	nd->device_features = vf->features | nd->served;

	ret = _vdpa_register_device(&nd->vdpa, vf->nvqs);
	if (ret) {
		put_device(&nd->vdpa.dev);
		return dev_err_probe(dev, ret, "cannot register vdpa device %s\n",
				     name);
	}
	vf->nd = nd;
	return 0;
}

static void npa_vf_dev_del(struct vdpa_mgmt_dev *mgtdev,
			   struct vdpa_device *vdpa)
{
	struct npa_vf *vf = container_of(mgtdev, struct npa_vf, mgtdev);

	/* The bus driver's remove has reset the device and let go of it. */
	_vdpa_unregister_device(vdpa);
	vf->nd = NULL;
}

static const struct vdpa_mgmtdev_ops npa_vf_mgmtdev_ops = {
	.dev_add = npa_vf_dev_add,
	.dev_del = npa_vf_dev_del,
};

static irqreturn_t npa_vf_vq_irq(int irq, void *data)
{
	struct npa_vf_vq *vq = data;

	if (vq->cb.callback)
		return vq->cb.callback(vq->cb.private);
	return IRQ_HANDLED;
}

static irqreturn_t npa_vf_config_irq(int irq, void *data)
{
	struct npa_vf *vf = data;

	if (vf->config_cb.callback)
		return vf->config_cb.callback(vf->config_cb.private);
	return IRQ_HANDLED;
}

static void npa_vf_modern_remove(void *data)
{
	vp_modern_remove(data);
}

static void npa_vf_free_vectors(void *data)
{
	pci_free_irq_vectors(data);
}

static void npa_vf_unmap_notify(void *data)
{
	struct npa_vf *vf = data;
	int i;

	/* vp_modern_map_vq_notify() mapped each doorbell on its own. */
	if (vf->mdev.notify_base)
		return;
	for (i = 0; i < vf->nvqs; i++)
		if (vf->vqs[i].notify)
			pci_iounmap(vf->mdev.pci_dev, vf->vqs[i].notify);
}

/* One MSI-X vector per queue and one for config changes. */
static int npa_vf_setup_irqs(struct npa_vf *vf)
{
	struct pci_dev *pdev = vf->mdev.pci_dev;
	struct device *dev = &pdev->dev;
	int i, ret, nvec = vf->nvqs + 1;
	const char *name;

	ret = pci_alloc_irq_vectors(pdev, nvec, nvec, PCI_IRQ_MSIX);
	if (ret < 0)
		return dev_err_probe(dev, ret, "cannot get %d MSI-X vectors\n",
				     nvec);
	ret = devm_add_action_or_reset(dev, npa_vf_free_vectors, pdev);
	if (ret)
		return ret;

	/* The names are what /proc/interrupts shows: a probe needs them. */
	for (i = 0; i < vf->nvqs; i++) {
		name = devm_kasprintf(dev, GFP_KERNEL, "npa[%s]-%d",
				      pci_name(pdev), i);
		if (!name)
			return -ENOMEM;
		vf->vqs[i].irq = pci_irq_vector(pdev, i);
		ret = devm_request_irq(dev, vf->vqs[i].irq, npa_vf_vq_irq, 0,
				       name, &vf->vqs[i]);
		if (ret)
			return ret;
	}
	name = devm_kasprintf(dev, GFP_KERNEL, "npa[%s]-config",
			      pci_name(pdev));
	if (!name)
		return -ENOMEM;
	vf->config_irq = pci_irq_vector(pdev, vf->nvqs);
	return devm_request_irq(dev, vf->config_irq, npa_vf_config_irq, 0,
				name, vf);
}

/* Do @len bytes at @off in BAR @bar meet the page at @page? */
static bool npa_vf_in_page(struct pci_dev *pdev, u8 bar, u64 off, u64 len,
			   resource_size_t page)
{
	resource_size_t start;

	if (bar >= PCI_STD_NUM_BARS || !len ||
	    !(pci_resource_flags(pdev, bar) & IORESOURCE_MEM))
		return false;
	start = pci_resource_start(pdev, bar) + off;
	return start < page + PAGE_SIZE && page < start + len;
}

/* Does a virtio capability structure other than the doorbells meet @page? */
static bool npa_vf_cap_in_page(struct pci_dev *pdev, resource_size_t page)
{
	u32 off, len, off_hi = 0, len_hi = 0;
	u8 pos, type, bar;

	for (pos = pci_find_capability(pdev, PCI_CAP_ID_VNDR); pos;
	     pos = pci_find_next_capability(pdev, pos, PCI_CAP_ID_VNDR)) {
		pci_read_config_byte(pdev, pos +
				     offsetof(struct virtio_pci_cap, cfg_type),
				     &type);
		if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
			continue;
		pci_read_config_byte(pdev, pos +
				     offsetof(struct virtio_pci_cap, bar), &bar);
		pci_read_config_dword(pdev, pos +
				      offsetof(struct virtio_pci_cap, offset),
				      &off);
		pci_read_config_dword(pdev, pos +
				      offsetof(struct virtio_pci_cap, length),
				      &len);
		if (type == VIRTIO_PCI_CAP_SHARED_MEMORY_CFG) {
			pci_read_config_dword(pdev, pos +
					      offsetof(struct virtio_pci_cap64,
						       offset_hi), &off_hi);
			pci_read_config_dword(pdev, pos +
					      offsetof(struct virtio_pci_cap64,
						       length_hi), &len_hi);
		}
		if (npa_vf_in_page(pdev, bar, (u64)off_hi << 32 | off,
				   (u64)len_hi << 32 | len, page))
			return true;
	}
	return false;
}

/* Does the MSI-X table or PBA meet @page? */
static bool npa_vf_msix_in_page(struct pci_dev *pdev, resource_size_t page)
{
	int nvec = pci_msix_vec_count(pdev);
	u32 table, pba;

	if (nvec <= 0)
		return false;
	pci_read_config_dword(pdev, pdev->msix_cap + PCI_MSIX_TABLE, &table);
	pci_read_config_dword(pdev, pdev->msix_cap + PCI_MSIX_PBA, &pba);
	return npa_vf_in_page(pdev, table & PCI_MSIX_TABLE_BIR,
			      table & PCI_MSIX_TABLE_OFFSET,
			      nvec * PCI_MSIX_ENTRY_SIZE, page) ||
	       npa_vf_in_page(pdev, pba & PCI_MSIX_PBA_BIR,
			      pba & PCI_MSIX_PBA_OFFSET,
			      BITS_TO_LONGS(nvec) * sizeof(long), page);
}

/*
 * May queue @qid's doorbell page be mapped into a guest?  Only if the
 * doorbell starts a page of a memory BAR that holds nothing else of the
 * function's: no other queue's doorbell, no other virtio structure
 * (common, ISR, device config...), no MSI-X table or PBA.  Otherwise a
 * guest store to the page could reach what only the host may touch.
 */
static bool npa_vf_doorbell_alone(struct npa_vf *vf, u16 qid)
{
	struct pci_dev *pdev = vf->mdev.pci_dev;
	resource_size_t page = vf->vqs[qid].notify_pa;
	int i;

	if (!PAGE_ALIGNED(page))
		return false;
	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if ((pci_resource_flags(pdev, i) & IORESOURCE_MEM) &&
		    page >= pci_resource_start(pdev, i) &&
		    page + PAGE_SIZE - 1 <= pci_resource_end(pdev, i))
			break;
	if (i == PCI_STD_NUM_BARS)
		return false;
	for (i = 0; i < vf->nvqs; i++)
		if (i != qid &&
		    ALIGN_DOWN(vf->vqs[i].notify_pa, PAGE_SIZE) == page)
			return false;
	return !npa_vf_cap_in_page(pdev, page) &&
	       !npa_vf_msix_in_page(pdev, page);
}

static int npa_vf_setup_vqs(struct npa_vf *vf)
{
	struct device *dev = &vf->mdev.pci_dev->dev;
	u16 num;
	int i;

	for (i = 0; i < vf->nvqs; i++) {
		/* queue_size holds the maximum until a driver writes it. */
		num = vp_modern_get_queue_size(&vf->mdev, i);
		if (!num)
			return dev_err_probe(dev, -ENODEV,
					     "queue %d has no ring size\n", i);
		vf->vqs[i].num_max = num;
		vf->num_max = max(vf->num_max, num);
		vf->vqs[i].notify = vp_modern_map_vq_notify(&vf->mdev, i,
							    &vf->vqs[i].notify_pa);
		if (!vf->vqs[i].notify)
			return dev_err_probe(dev, -EIO,
					     "cannot map the doorbell of queue %d\n",
					     i);
	}
	/* Every doorbell is known now: check each page against them all. */
	for (i = 0; i < vf->nvqs; i++)
		vf->vqs[i].notify_size = npa_vf_doorbell_alone(vf, i) ?
					 PAGE_SIZE : sizeof(u16);
	return 0;
}

/* Refuse a function whose DMA the IOMMU cannot confine, or not a NIC. */
static int npa_vf_check(struct npa_vf *vf)
{
	struct device *dev = &vf->mdev.pci_dev->dev;
	u64 features = vf->features;

	if (vf->mdev.id.device != VIRTIO_ID_NET)
		return dev_err_probe(dev, -ENODEV,
				     "virtio device id %u is not a network device\n",
				     vf->mdev.id.device);
	if (!(features & BIT_ULL(VIRTIO_F_VERSION_1)))
		return dev_err_probe(dev, -ENODEV,
				     "device does not offer VIRTIO_F_VERSION_1\n");
	if (!(features & BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)))
		return dev_err_probe(dev, -ENODEV,
				     "device bypasses the IOMMU (no VIRTIO_F_ACCESS_PLATFORM)\n");
	if (vf->nvqs < 2)
		return dev_err_probe(dev, -ENODEV,
				     "device reports %u virtqueues: a NIC needs a receive and a transmit queue\n",
				     vf->nvqs);
	return 0;
}

static int npa_vf_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct npa_vf *vf;
	int ret;

	if (!device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY))
		return dev_err_probe(dev, -ENODEV,
				     "no cache-coherent IOMMU translates this function's DMA\n");

	vf = devm_kzalloc(dev, sizeof(*vf), GFP_KERNEL);
	if (!vf)
		return -ENOMEM;

	ret = pcim_enable_device(pdev);
	if (ret)
		return dev_err_probe(dev, ret, "cannot enable the function\n");

	vf->mdev.pci_dev = pdev;
	ret = vp_modern_probe(&vf->mdev);
	if (ret)
		return dev_err_probe(dev, ret,
				     "not a virtio 1.x (modern) PCI function\n");
	ret = devm_add_action_or_reset(dev, npa_vf_modern_remove, &vf->mdev);
	if (ret)
		return ret;

	vf->features = vp_modern_get_features(&vf->mdev);
	vf->nvqs = vp_modern_get_num_queues(&vf->mdev);
	ret = npa_vf_check(vf);
	if (ret)
		return ret;

	/*
	 * Start from a reset device: the previous driver may have left it
	 * live.  A reset function does no DMA until a driver sets it up, and
	 * the vdpa bus driver moves it to an IOMMU domain of its own before
	 * that: only then may it master the bus for real (as vp_vdpa).
	 */
	ret = npa_vf_reset_wait(vf);
	if (ret)
		return ret;
	pci_set_master(pdev);

	vf->vqs = devm_kcalloc(dev, vf->nvqs, sizeof(*vf->vqs), GFP_KERNEL);
	if (!vf->vqs)
		return -ENOMEM;
	ret = devm_add_action_or_reset(dev, npa_vf_unmap_notify, vf);
	if (ret)
		return ret;
	ret = npa_vf_setup_vqs(vf);
	if (ret)
		return ret;
	ret = npa_vf_setup_irqs(vf);
	if (ret)
		return ret;

	vf->id_table[0].device = VIRTIO_ID_NET;
	vf->id_table[0].vendor = VIRTIO_DEV_ANY_ID;
	vf->mgtdev.device = dev;
	vf->mgtdev.ops = &npa_vf_mgmtdev_ops;
	vf->mgtdev.id_table = vf->id_table;
	vf->mgtdev.config_attr_mask = BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MACADDR) |
				      BIT_ULL(VDPA_ATTR_DEV_NET_CFG_MTU);
	vf->mgtdev.supported_features = vf->features | NPA_VF_SERVED;
	vf->mgtdev.max_supported_vqs = vf->nvqs;
	pci_set_drvdata(pdev, vf);
	ret = vdpa_mgmtdev_register(&vf->mgtdev);
	if (ret)
		return dev_err_probe(dev, ret,
				     "cannot register the vdpa management device\n");

	dev_info(dev, "vdpa management device pci/%s: %u virtqueues of up to %u entries, features 0x%llx\n",
		 pci_name(pdev), vf->nvqs, vf->num_max, vf->features);
	return 0;
}

static void npa_vf_remove(struct pci_dev *pdev)
{
	struct npa_vf *vf = pci_get_drvdata(pdev);

	/* Deletes the vdpa device: its bus driver's remove waits for users. */
	vdpa_mgmtdev_unregister(&vf->mgtdev);
	npa_vf_reset_wait(vf);
}

static struct pci_driver npa_vf_driver = {
	.name		= "npa",
	.id_table	= NULL,	/* only handed-over functions */
	.probe		= npa_vf_probe,
	.remove		= npa_vf_remove,
};

module_pci_driver(npa_vf_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("npa: vdpa parent for VRING-capable virtio 1.x network functions");
