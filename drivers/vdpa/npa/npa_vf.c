// SPDX-License-Identifier: GPL-2.0
/*
 * npa_vf - the VF layer of npa: VRING-capable PCI functions
 *
 * The baseline family is any virtio 1.x network function, driven through
 * the kernel's virtio-pci modern helpers.  The driver has no ID table:
 * like vfio-pci and vp_vdpa, it takes a function only when the admin hands
 * it over (driver_override or new_id), never the host's own NICs.
 */
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_pci_modern.h>
#include <npa/npa.h>

/**
 * struct npa_vf_virtio - a virtio 1.x PCI function
 * @vf: what the mdev layer sees
 * @mdev: the virtio-pci modern device
 * @parent: the mdev parent registered for @vf
 */
struct npa_vf_virtio {
	struct npa_vf vf;
	struct virtio_pci_modern_device mdev;
	struct npa_mdev_parent *parent;
};

static struct virtio_pci_modern_device *vf_to_mdev(struct npa_vf *vf)
{
	return &container_of(vf, struct npa_vf_virtio, vf)->mdev;
}

static u64 npa_vf_get_device_features(struct npa_vf *vf)
{
	return vp_modern_get_features(vf_to_mdev(vf));
}

static u16 npa_vf_get_vq_num(struct npa_vf *vf)
{
	return vp_modern_get_num_queues(vf_to_mdev(vf));
}

static const struct npa_vf_ops npa_vf_virtio_ops = {
	.get_device_features	= npa_vf_get_device_features,
	.get_vq_num		= npa_vf_get_vq_num,
};

static void npa_vf_modern_remove(void *data)
{
	vp_modern_remove(data);
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

	nv->vf.dev = dev;
	nv->vf.ops = &npa_vf_virtio_ops;
	nv->parent = npa_mdev_register_vf(&nv->vf);
	if (IS_ERR(nv->parent))
		return dev_err_probe(dev, PTR_ERR(nv->parent),
				     "cannot register the mdev parent\n");

	pci_set_drvdata(pdev, nv);
	dev_info(dev, "npa VF: %u virtqueues, features 0x%llx\n",
		 vp_modern_get_num_queues(&nv->mdev),
		 vp_modern_get_features(&nv->mdev));
	return 0;
}

static void npa_vf_remove(struct pci_dev *pdev)
{
	struct npa_vf_virtio *nv = pci_get_drvdata(pdev);

	npa_mdev_unregister_vf(nv->parent);
	vp_modern_set_status(&nv->mdev, 0);
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
