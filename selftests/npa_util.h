/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What npa_test and npa_fault share: sysfs attributes, the lab's VFs, the
 * host's health and its count of pinned pages.
 */
#ifndef NPA_UTIL_H
#define NPA_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#define NPACTL "tools/npactl"
#define MDEV_DEVICES "/sys/bus/mdev/devices"
/* The mdev type: "<vdpa driver>-<type>", as the mdev core names it. */
#define NPA_TYPE "npa-net"

int read_attr(const char *path, char *buf, size_t len);
int write_attr(const char *path, const char *val);
bool exists(const char *fmt, const char *arg);
bool host_healthy(void);
int vf_bdf(int idx, char *bdf);
long pinned_pages(void);

#endif
