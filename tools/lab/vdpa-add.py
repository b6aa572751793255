#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Add a vdpa device with some of its management device's features left
out: what `vdpa dev add ... device_features` does in iproute2 6.2 and later
(Debian 12 has 6.1), by generic netlink.

  vdpa-add.py NAME pci/BDF MASK_OFF

MASK_OFF: the feature bits (an integer, 0x... allowed) the device must not
offer.  Prints the features provisioned.  bench-migrate-host.sh uses it to
take VIRTIO_NET_F_GUEST_ANNOUNCE from vp_vdpa devices, which QEMU's shadow
virtqueue (x-svq=on) refuses.
"""
import os
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
# include/uapi/linux/vdpa.h
VDPA_CMD_MGMTDEV_GET = 2
VDPA_CMD_DEV_NEW = 3
VDPA_ATTR_MGMTDEV_BUS_NAME = 1
VDPA_ATTR_MGMTDEV_DEV_NAME = 2
VDPA_ATTR_DEV_NAME = 4
VDPA_ATTR_DEV_SUPPORTED_FEATURES = 16
VDPA_ATTR_DEV_FEATURES = 20


def attr(kind, data):
    if isinstance(data, str):
        data = data.encode() + b"\0"
    n = 4 + len(data)
    return struct.pack("HH", n, kind) + data + b"\0" * ((4 - n % 4) % 4)


def attrs(buf):
    out = {}
    while len(buf) >= 4:
        n, kind = struct.unpack("HH", buf[:4])
        if n < 4:
            break
        out[kind & 0x3fff] = buf[4:n]
        buf = buf[(n + 3) & ~3:]
    return out


def request(s, family, cmd, payload, flags=NLM_F_REQUEST | NLM_F_ACK):
    body = struct.pack("BBH", cmd, 1, 0) + payload
    s.send(struct.pack("IHHII", 16 + len(body), family, flags, 1,
                       os.getpid()) + body)
    reply = None
    while True:
        data = s.recv(65536)
        while data:
            n, kind = struct.unpack("IH", data[:6])
            msg = data[16:n]
            if kind == NLMSG_ERROR:
                err = struct.unpack("i", msg[:4])[0]
                if err:
                    raise OSError(-err, os.strerror(-err))
                return reply
            reply = attrs(msg[4:])
            data = data[(n + 3) & ~3:]


def main():
    if len(sys.argv) != 4 or "/" not in sys.argv[2]:
        sys.exit(__doc__)
    name, mgmt, off = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
    bus, dev = mgmt.split("/", 1)
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    fam = request(s, GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
                  attr(CTRL_ATTR_FAMILY_NAME, "vdpa"))
    family = struct.unpack("H", fam[CTRL_ATTR_FAMILY_ID][:2])[0]
    where = attr(VDPA_ATTR_MGMTDEV_BUS_NAME, bus) + \
        attr(VDPA_ATTR_MGMTDEV_DEV_NAME, dev)
    mg = request(s, family, VDPA_CMD_MGMTDEV_GET, where)
    supported = struct.unpack("Q", mg[VDPA_ATTR_DEV_SUPPORTED_FEATURES])[0]
    features = supported & ~off
    request(s, family, VDPA_CMD_DEV_NEW, where + attr(VDPA_ATTR_DEV_NAME, name)
            + attr(VDPA_ATTR_DEV_FEATURES, struct.pack("Q", features)))
    print("vdpa-add: %s on %s: features 0x%x (of 0x%x)" % (
        name, mgmt, features, supported))


if __name__ == "__main__":
    main()
