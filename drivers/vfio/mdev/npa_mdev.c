// SPDX-License-Identifier: GPL-2.0
/*
 * npa_mdev - VFIO mdev parent for npa VFs
 *
 * Every VF handed to npa becomes an mdev parent with one type, "net", and
 * one instance.  An mdev of that type is a vfio_device that serves vhost
 * requests for the VF's virtqueues (include/uapi/linux/vhost_npa.h).
 */
#include <linux/eventfd.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vhost_npa.h>
#include <npa/npa.h>

/**
 * struct npa_mdev_parent - the mdev side of one VF
 * @parent: the mdev core's parent, registered on the VF's device
 * @type: the single mdev type, "net"
 * @types: the type list handed to the mdev core
 * @vf: the VF, owned by the VF layer
 */
struct npa_mdev_parent {
	struct mdev_parent parent;
	struct mdev_type type;
	struct mdev_type *types[1];
	struct npa_vf *vf;
};

/**
 * struct npa_mdev - one mdev: a vfio_device on a VF
 * @vdev: the VFIO device; first, as vfio_alloc_device() requires
 * @vf: the VF whose queues this device drives
 * @lock: serialises @req_trigger between SET_IRQS, close and request
 * @req_trigger: eventfd signalled when the kernel wants the device back
 */
struct npa_mdev {
	struct vfio_device vdev;
	struct npa_vf *vf;
	struct mutex lock;	/* protects req_trigger */
	struct eventfd_ctx *req_trigger;
};

static struct npa_mdev *vdev_to_nm(struct vfio_device *vdev)
{
	return container_of(vdev, struct npa_mdev, vdev);
}

static struct npa_mdev_parent *mtype_to_np(struct mdev_type *mtype)
{
	return container_of(mtype->parent, struct npa_mdev_parent, parent);
}

static int npa_mdev_init_dev(struct vfio_device *vdev)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);

	nm->vf = mtype_to_np(mdev->type)->vf;
	mutex_init(&nm->lock);
	return 0;
}

static void npa_mdev_release_dev(struct vfio_device *vdev)
{
	mutex_destroy(&vdev_to_nm(vdev)->lock);
}

/* Replace the request eventfd; @ctx may be NULL.  Called with nm->lock. */
static void npa_mdev_set_req_trigger(struct npa_mdev *nm,
				     struct eventfd_ctx *ctx)
{
	if (nm->req_trigger)
		eventfd_ctx_put(nm->req_trigger);
	nm->req_trigger = ctx;
}

static void npa_mdev_close_device(struct vfio_device *vdev)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);

	mutex_lock(&nm->lock);
	npa_mdev_set_req_trigger(nm, NULL);
	mutex_unlock(&nm->lock);
}

/*
 * vfio_unregister_group_dev() calls this, then again every 10 seconds,
 * until the user closes the device.
 */
static void npa_mdev_request(struct vfio_device *vdev, unsigned int count)
{
	struct npa_mdev *nm = vdev_to_nm(vdev);

	mutex_lock(&nm->lock);
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
	mutex_unlock(&nm->lock);
}

static int npa_mdev_get_info(void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_device_info, num_irqs);
	struct vfio_device_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz)
		return -EINVAL;

	info.flags = 0;
	info.num_regions = 0;
	info.num_irqs = VHOST_NPA_NUM_IRQS;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

static int npa_mdev_get_irq_info(void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_info, count);
	struct vfio_irq_info info;

	if (copy_from_user(&info, arg, minsz))
		return -EFAULT;
	if (info.argsz < minsz || info.index >= VHOST_NPA_NUM_IRQS)
		return -EINVAL;

	info.flags = VFIO_IRQ_INFO_EVENTFD;
	info.count = 1;
	return copy_to_user(arg, &info, minsz) ? -EFAULT : 0;
}

/* VHOST_NPA_REQ_IRQ_INDEX is the only index, with one trigger. */
static int npa_mdev_set_irqs(struct npa_mdev *nm, void __user *arg)
{
	unsigned long minsz = offsetofend(struct vfio_irq_set, count);
	struct eventfd_ctx *ctx = NULL;
	struct vfio_irq_set hdr;
	size_t data_size;
	s32 fd;
	u8 set;
	int ret;

	if (copy_from_user(&hdr, arg, minsz))
		return -EFAULT;
	ret = vfio_set_irqs_validate_and_prepare(&hdr, 1, VHOST_NPA_NUM_IRQS,
						 &data_size);
	if (ret)
		return ret;
	if (!(hdr.flags & VFIO_IRQ_SET_ACTION_TRIGGER))
		return -EINVAL;

	switch (hdr.flags & VFIO_IRQ_SET_DATA_TYPE_MASK) {
	case VFIO_IRQ_SET_DATA_EVENTFD:
		if (copy_from_user(&fd, arg + minsz, sizeof(fd)))
			return -EFAULT;
		if (fd < -1)
			return -EINVAL;
		if (fd >= 0) {
			ctx = eventfd_ctx_fdget(fd);
			if (IS_ERR(ctx))
				return PTR_ERR(ctx);
		}
		mutex_lock(&nm->lock);
		npa_mdev_set_req_trigger(nm, ctx);
		mutex_unlock(&nm->lock);
		return 0;
	case VFIO_IRQ_SET_DATA_BOOL:
		if (copy_from_user(&set, arg + minsz, sizeof(set)))
			return -EFAULT;
		break;
	default:
		/* DATA_NONE: count 0 disables, count 1 signals. */
		set = hdr.count;
		if (!set) {
			mutex_lock(&nm->lock);
			npa_mdev_set_req_trigger(nm, NULL);
			mutex_unlock(&nm->lock);
			return 0;
		}
		break;
	}

	mutex_lock(&nm->lock);
	if (set && nm->req_trigger)
		eventfd_signal(nm->req_trigger);
	mutex_unlock(&nm->lock);
	return 0;
}

static long npa_mdev_ioctl(struct vfio_device *vdev, unsigned int cmd,
			   unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO:
		return npa_mdev_get_info(uarg);
	case VFIO_DEVICE_GET_IRQ_INFO:
		return npa_mdev_get_irq_info(uarg);
	case VFIO_DEVICE_SET_IRQS:
		return npa_mdev_set_irqs(vdev_to_nm(vdev), uarg);
	}
	return -ENOTTY;
}

static const struct vfio_device_ops npa_mdev_dev_ops = {
	.name		= "npa-mdev",
	.init		= npa_mdev_init_dev,
	.release	= npa_mdev_release_dev,
	.close_device	= npa_mdev_close_device,
	.ioctl		= npa_mdev_ioctl,
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
	struct npa_vf *vf = mtype_to_np(mtype)->vf;

	return sysfs_emit(buf, "virtio-net data path, %u virtqueues, device features 0x%llx\n",
			  vf->ops->get_vq_num(vf),
			  vf->ops->get_device_features(vf));
}

static struct mdev_driver npa_mdev_driver = {
	.device_api = VHOST_NPA_DEVICE_API_STRING,
	.max_instances = 1,
	.driver = {
		.name = "npa_mdev",
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
	.probe = npa_mdev_probe,
	.remove = npa_mdev_remove,
	.show_description = npa_mdev_show_description,
};

/**
 * npa_mdev_register_vf() - make a VF an mdev parent
 * @vf: the VF; @vf->dev must stay bound until npa_mdev_unregister_vf()
 *
 * The type directory is named "<driver of @vf->dev>-net".
 *
 * Return: the parent, to pass to npa_mdev_unregister_vf(), or an ERR_PTR.
 */
struct npa_mdev_parent *npa_mdev_register_vf(struct npa_vf *vf)
{
	struct npa_mdev_parent *np;
	int ret;

	np = kzalloc(sizeof(*np), GFP_KERNEL);
	if (!np)
		return ERR_PTR(-ENOMEM);

	np->vf = vf;
	np->type.sysfs_name = "net";
	np->type.pretty_name = "npa virtio-net";
	np->types[0] = &np->type;
	ret = mdev_register_parent(&np->parent, vf->dev, &npa_mdev_driver,
				   np->types, ARRAY_SIZE(np->types));
	if (ret) {
		kfree(np);
		return ERR_PTR(ret);
	}
	return np;
}
EXPORT_SYMBOL_GPL(npa_mdev_register_vf);

/**
 * npa_mdev_unregister_vf() - remove a VF's mdevs and its mdev parent
 * @np: what npa_mdev_register_vf() returned
 *
 * Blocks until the users of the VF's mdevs have closed them; they are
 * asked to through their request eventfd.
 */
void npa_mdev_unregister_vf(struct npa_mdev_parent *np)
{
	mdev_unregister_parent(&np->parent);
	kfree(np);
}
EXPORT_SYMBOL_GPL(npa_mdev_unregister_vf);

static int __init npa_mdev_init(void)
{
	return mdev_register_driver(&npa_mdev_driver);
}

static void __exit npa_mdev_exit(void)
{
	mdev_unregister_driver(&npa_mdev_driver);
}

module_init(npa_mdev_init);
module_exit(npa_mdev_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("npa: vhost data path on VRING-capable VFs, as VFIO mdevs");
