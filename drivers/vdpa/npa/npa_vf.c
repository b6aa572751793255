// SPDX-License-Identifier: GPL-2.0
/*
 * npa_vf - the VF layer of npa: VRING-capable PCI functions
 *
 * The baseline family is any virtio 1.x network function, driven through
 * the kernel's virtio-pci modern helpers.  The driver has no ID table:
 * like vfio-pci and vp_vdpa, it takes a function only when the admin hands
 * it over (driver_override or new_id), never the host's own NICs.
 */
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci_modern.h>
#include <npa/npa.h>

/**
 * struct npa_vf_vq - a virtqueue of a virtio 1.x function
 * @notify: the mapped doorbell
 * @notify_pa: its physical address
 * @irq: the Linux IRQ of the queue's MSI-X vector
 * @cb: what the interrupt calls
 * @num_max: the queue's largest size, read before the queue was programmed
 */
struct npa_vf_vq {
	void __iomem *notify;
	resource_size_t notify_pa;
	int irq;
	struct npa_vf_cb cb;
	u16 num_max;
};

/**
 * struct npa_vf_virtio - a virtio 1.x PCI function
 * @vf: what the mdev layer sees
 * @mdev: the virtio-pci modern device
 * @domain: the function's own IOMMU domain, attached while npa has it
 * @parent: the mdev parent registered for @vf
 * @config_irq: the Linux IRQ of the config change vector
 * @config_cb: what the config change interrupt calls
 * @nvqs: number of virtqueues
 * @vqs: the virtqueues
 *
 * MSI-X vector i serves queue i; vector @nvqs serves config changes.
 */
struct npa_vf_virtio {
	struct npa_vf vf;
	struct virtio_pci_modern_device mdev;
	struct iommu_domain *domain;
	struct npa_mdev_parent *parent;
	int config_irq;
	struct npa_vf_cb config_cb;
	u16 nvqs;
	struct npa_vf_vq *vqs;
};

static struct npa_vf_virtio *vf_to_nv(struct npa_vf *vf)
{
	return container_of(vf, struct npa_vf_virtio, vf);
}

static struct virtio_pci_modern_device *vf_to_mdev(struct npa_vf *vf)
{
	return &vf_to_nv(vf)->mdev;
}

static u64 npa_vf_get_device_features(struct npa_vf *vf)
{
	return vp_modern_get_features(vf_to_mdev(vf));
}

static void npa_vf_set_driver_features(struct npa_vf *vf, u64 features)
{
	vp_modern_set_features(vf_to_mdev(vf), features);
}

static u8 npa_vf_get_status(struct npa_vf *vf)
{
	return vp_modern_get_status(vf_to_mdev(vf));
}

static void npa_vf_set_status(struct npa_vf *vf, u8 status)
{
	struct npa_vf_virtio *nv = vf_to_nv(vf);

	if (status & VIRTIO_CONFIG_S_DRIVER_OK)
		vp_modern_config_vector(&nv->mdev, nv->nvqs);
	vp_modern_set_status(&nv->mdev, status);
}

static void npa_vf_reset(struct npa_vf *vf)
{
	struct npa_vf_virtio *nv = vf_to_nv(vf);
	int i;

	vp_modern_set_status(&nv->mdev, 0);
	/* The spec has the driver wait until the reset is done. */
	for (i = 0; i < 1000 && vp_modern_get_status(&nv->mdev); i++)
		usleep_range(1000, 2000);
	if (i == 1000)
		dev_warn(vf->dev, "device did not finish its reset\n");
	for (i = 0; i < nv->nvqs; i++)
		synchronize_irq(nv->vqs[i].irq);
	synchronize_irq(nv->config_irq);
}

static u16 npa_vf_get_vq_num(struct npa_vf *vf)
{
	return vf_to_nv(vf)->nvqs;
}

static u16 npa_vf_get_vq_num_max(struct npa_vf *vf, u16 qid)
{
	return vf_to_nv(vf)->vqs[qid].num_max;
}

static void npa_vf_set_vq(struct npa_vf *vf, u16 qid, u16 num, u64 desc,
			  u64 driver, u64 device)
{
	struct virtio_pci_modern_device *mdev = vf_to_mdev(vf);

	vp_modern_set_queue_size(mdev, qid, num);
	vp_modern_queue_address(mdev, qid, desc, driver, device);
	vp_modern_queue_vector(mdev, qid, qid);
	vp_modern_set_queue_enable(mdev, qid, true);
}

static void npa_vf_kick_vq(struct npa_vf *vf, u16 qid)
{
	vp_iowrite16(qid, vf_to_nv(vf)->vqs[qid].notify);
}

static phys_addr_t npa_vf_get_vq_notify(struct npa_vf *vf, u16 qid)
{
	struct npa_vf_virtio *nv = vf_to_nv(vf);
	resource_size_t pa = nv->vqs[qid].notify_pa;

	if (nv->mdev.notify_offset_multiplier < PAGE_SIZE ||
	    !PAGE_ALIGNED(pa))
		return 0;
	return pa;
}

static int npa_vf_get_vq_irq(struct npa_vf *vf, u16 qid)
{
	return vf_to_nv(vf)->vqs[qid].irq;
}

static void npa_vf_set_vq_cb(struct npa_vf *vf, u16 qid,
			     const struct npa_vf_cb *cb)
{
	struct npa_vf_vq *vq = &vf_to_nv(vf)->vqs[qid];

	disable_irq(vq->irq);
	vq->cb = *cb;
	enable_irq(vq->irq);
}

static void npa_vf_set_config_cb(struct npa_vf *vf,
				 const struct npa_vf_cb *cb)
{
	struct npa_vf_virtio *nv = vf_to_nv(vf);

	disable_irq(nv->config_irq);
	nv->config_cb = *cb;
	enable_irq(nv->config_irq);
}

static u32 npa_vf_get_config_size(struct npa_vf *vf)
{
	return vf_to_mdev(vf)->device_len;
}

static void npa_vf_get_config(struct npa_vf *vf, unsigned int offset,
			      void *buf, unsigned int len)
{
	struct virtio_pci_modern_device *mdev = vf_to_mdev(vf);
	u8 *p = buf;
	u32 gen;
	int i;

	/* Retry until the device did not change the space under us. */
	do {
		gen = vp_modern_generation(mdev);
		for (i = 0; i < len; i++)
			p[i] = ioread8(mdev->device + offset + i);
	} while (gen != vp_modern_generation(mdev));
}

static int npa_vf_dma_map(struct npa_vf *vf, u64 iova, phys_addr_t pa,
			  size_t size, int prot)
{
	return iommu_map(vf_to_nv(vf)->domain, iova, pa, size, prot,
			 GFP_KERNEL_ACCOUNT);
}

static void npa_vf_dma_unmap(struct npa_vf *vf, u64 iova, size_t size)
{
	iommu_unmap(vf_to_nv(vf)->domain, iova, size);
}

static const struct npa_vf_ops npa_vf_virtio_ops = {
	.get_device_features	= npa_vf_get_device_features,
	.set_driver_features	= npa_vf_set_driver_features,
	.get_status		= npa_vf_get_status,
	.set_status		= npa_vf_set_status,
	.reset			= npa_vf_reset,
	.get_vq_num		= npa_vf_get_vq_num,
	.get_vq_num_max		= npa_vf_get_vq_num_max,
	.set_vq			= npa_vf_set_vq,
	.kick_vq		= npa_vf_kick_vq,
	.get_vq_notify		= npa_vf_get_vq_notify,
	.get_vq_irq		= npa_vf_get_vq_irq,
	.set_vq_cb		= npa_vf_set_vq_cb,
	.set_config_cb		= npa_vf_set_config_cb,
	.get_config_size	= npa_vf_get_config_size,
	.get_config		= npa_vf_get_config,
	.dma_map		= npa_vf_dma_map,
	.dma_unmap		= npa_vf_dma_unmap,
};

static irqreturn_t npa_vf_vq_irq(int irq, void *data)
{
	struct npa_vf_vq *vq = data;

	if (vq->cb.callback)
		vq->cb.callback(vq->cb.priv);
	return IRQ_HANDLED;
}

static irqreturn_t npa_vf_config_irq(int irq, void *data)
{
	struct npa_vf_virtio *nv = data;

	if (nv->config_cb.callback)
		nv->config_cb.callback(nv->config_cb.priv);
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
	struct npa_vf_virtio *nv = data;
	int i;

	/* vp_modern_map_vq_notify() mapped each doorbell on its own. */
	if (nv->mdev.notify_base)
		return;
	for (i = 0; i < nv->nvqs; i++)
		if (nv->vqs[i].notify)
			pci_iounmap(nv->mdev.pci_dev, nv->vqs[i].notify);
}

static void npa_vf_free_domain(void *data)
{
	struct npa_vf_virtio *nv = data;

	iommu_detach_device(nv->domain, nv->vf.dev);
	iommu_domain_free(nv->domain);
}

/* One MSI-X vector per queue and one for config changes. */
static int npa_vf_setup_irqs(struct npa_vf_virtio *nv)
{
	struct pci_dev *pdev = nv->mdev.pci_dev;
	struct device *dev = &pdev->dev;
	int i, ret, nvec = nv->nvqs + 1;

	ret = pci_alloc_irq_vectors(pdev, nvec, nvec, PCI_IRQ_MSIX);
	if (ret < 0)
		return dev_err_probe(dev, ret, "cannot get %d MSI-X vectors\n",
				     nvec);
	ret = devm_add_action_or_reset(dev, npa_vf_free_vectors, pdev);
	if (ret)
		return ret;

	for (i = 0; i < nv->nvqs; i++) {
		nv->vqs[i].irq = pci_irq_vector(pdev, i);
		ret = devm_request_irq(dev, nv->vqs[i].irq, npa_vf_vq_irq, 0,
				       devm_kasprintf(dev, GFP_KERNEL,
						      "npa[%s]-%d",
						      pci_name(pdev), i),
				       &nv->vqs[i]);
		if (ret)
			return ret;
	}
	nv->config_irq = pci_irq_vector(pdev, nv->nvqs);
	return devm_request_irq(dev, nv->config_irq, npa_vf_config_irq, 0,
				devm_kasprintf(dev, GFP_KERNEL, "npa[%s]-config",
					       pci_name(pdev)),
				nv);
}

static int npa_vf_setup_notify(struct npa_vf_virtio *nv)
{
	struct device *dev = nv->vf.dev;
	int i;

	for (i = 0; i < nv->nvqs; i++) {
		/* queue_size holds the maximum until a driver writes it. */
		nv->vqs[i].num_max = vp_modern_get_queue_size(&nv->mdev, i);
		nv->vqs[i].notify = vp_modern_map_vq_notify(&nv->mdev, i,
							    &nv->vqs[i].notify_pa);
		if (!nv->vqs[i].notify)
			return dev_err_probe(dev, -EIO,
					     "cannot map the doorbell of queue %d\n",
					     i);
	}
	return 0;
}

static int npa_vf_setup_domain(struct npa_vf_virtio *nv)
{
	struct device *dev = nv->vf.dev;
	int ret;

	nv->domain = iommu_paging_domain_alloc(dev);
	if (IS_ERR(nv->domain))
		return dev_err_probe(dev, PTR_ERR(nv->domain),
				     "cannot allocate an IOMMU domain\n");
	ret = iommu_attach_device(nv->domain, dev);
	if (ret) {
		iommu_domain_free(nv->domain);
		return dev_err_probe(dev, ret,
				     "cannot attach the function to its own IOMMU domain (is it alone in its IOMMU group?)\n");
	}
	return devm_add_action_or_reset(dev, npa_vf_free_domain, nv);
}

/* Refuse a function whose DMA the IOMMU cannot confine to the guest. */
static int npa_vf_check(struct pci_dev *pdev,
			struct virtio_pci_modern_device *mdev)
{
	u64 features = vp_modern_get_features(mdev);

	if (mdev->id.device != VIRTIO_ID_NET)
		return dev_err_probe(&pdev->dev, -ENODEV,
				     "virtio device id %u is not a network device\n",
				     mdev->id.device);
	if (!(features & BIT_ULL(VIRTIO_F_VERSION_1)))
		return dev_err_probe(&pdev->dev, -ENODEV,
				     "device does not offer VIRTIO_F_VERSION_1\n");
	if (!(features & BIT_ULL(VIRTIO_F_ACCESS_PLATFORM)))
		return dev_err_probe(&pdev->dev, -ENODEV,
				     "device bypasses the IOMMU (no VIRTIO_F_ACCESS_PLATFORM)\n");
	return 0;
}

static int npa_vf_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct npa_vf_virtio *nv;
	int ret;

	if (!device_iommu_capable(dev, IOMMU_CAP_CACHE_COHERENCY))
		return dev_err_probe(dev, -ENODEV,
				     "no cache-coherent IOMMU translates this function's DMA\n");

	nv = devm_kzalloc(dev, sizeof(*nv), GFP_KERNEL);
	if (!nv)
		return -ENOMEM;

	ret = pcim_enable_device(pdev);
	if (ret)
		return dev_err_probe(dev, ret, "cannot enable the function\n");

	nv->mdev.pci_dev = pdev;
	ret = vp_modern_probe(&nv->mdev);
	if (ret)
		return dev_err_probe(dev, ret,
				     "not a virtio 1.x (modern) PCI function\n");
	ret = devm_add_action_or_reset(dev, npa_vf_modern_remove, &nv->mdev);
	if (ret)
		return ret;

	ret = npa_vf_check(pdev, &nv->mdev);
	if (ret)
		return ret;

	/* Start from a reset device: the previous driver may have left it live. */
	vp_modern_set_status(&nv->mdev, 0);
	pci_set_master(pdev);

	nv->nvqs = vp_modern_get_num_queues(&nv->mdev);
	nv->vqs = devm_kcalloc(dev, nv->nvqs, sizeof(*nv->vqs), GFP_KERNEL);
	if (!nv->vqs)
		return -ENOMEM;
	nv->vf.dev = dev;
	nv->vf.ops = &npa_vf_virtio_ops;
	ret = devm_add_action_or_reset(dev, npa_vf_unmap_notify, nv);
	if (ret)
		return ret;
	ret = npa_vf_setup_notify(nv);
	if (ret)
		return ret;
	ret = npa_vf_setup_irqs(nv);
	if (ret)
		return ret;
	ret = npa_vf_setup_domain(nv);
	if (ret)
		return ret;

	nv->parent = npa_mdev_register_vf(&nv->vf);
	if (IS_ERR(nv->parent))
		return dev_err_probe(dev, PTR_ERR(nv->parent),
				     "cannot register the mdev parent\n");

	pci_set_drvdata(pdev, nv);
	dev_info(dev, "npa VF: %u virtqueues, features 0x%llx, doorbells %s\n",
		 nv->nvqs, vp_modern_get_features(&nv->mdev),
		 npa_vf_get_vq_notify(&nv->vf, 0) ? "mmappable" : "not mmappable");
	return 0;
}

static void npa_vf_remove(struct pci_dev *pdev)
{
	struct npa_vf_virtio *nv = pci_get_drvdata(pdev);

	npa_mdev_unregister_vf(nv->parent);
	npa_vf_reset(&nv->vf);
}

static struct pci_driver npa_vf_driver = {
	.name		= "npa",
	.id_table	= NULL,	/* only handed-over functions */
	.probe		= npa_vf_probe,
	.remove		= npa_vf_remove,
};

module_pci_driver(npa_vf_driver);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("npa: VRING-capable VFs (virtio 1.x network functions)");
