// SPDX-License-Identifier: GPL-2.0
/*
 * What npa_test and npa_fault share (npa_util.h).  Run as root inside the
 * lab's test host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npa_util.h"

/* Taint bits that mean the host is hurt: bad page, died (oops), warning. */
#define TAINT_HURT ((1 << 5) | (1 << 7) | (1 << 9))

/* Read a sysfs attribute, its trailing newline dropped; 0 or -errno. */
int read_attr(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* Write a sysfs attribute; 0 or -errno of the write. */
int write_attr(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Whether the path @fmt with @arg in it exists. */
bool exists(const char *fmt, const char *arg)
{
	char path[512];

	snprintf(path, sizeof(path), fmt, arg);
	return access(path, F_OK) == 0;
}

/* No oops, warning or bad page so far (the kernel's taint). */
bool host_healthy(void)
{
	char buf[32];

	return !read_attr("/proc/sys/kernel/tainted", buf, sizeof(buf)) &&
	       !(strtoul(buf, NULL, 10) & TAINT_HURT);
}

/* The PCI address of VF @idx: the function behind the idx-th root port. */
int vf_bdf(int idx, char *bdf)
{
	char ports[256], pat[128], *tok, *save;
	const char *env = getenv("NPA_VF_PORTS");
	glob_t g;
	int ret;

	if (!env)
		return -1;
	snprintf(ports, sizeof(ports), "%s", env);
	for (tok = strtok_r(ports, " ", &save); tok && idx;
	     tok = strtok_r(NULL, " ", &save))
		idx--;
	if (!tok)
		return -1;
	snprintf(pat, sizeof(pat), "/sys/bus/pci/devices/%s/0000:??:??.?", tok);
	if (glob(pat, 0, NULL, &g))
		return -1;
	ret = snprintf(bdf, 16, "%s", strrchr(g.gl_pathv[0], '/') + 1) < 0;
	globfree(&g);
	return ret;
}

static long pinned_now(void)
{
	long acq = -1, rel = -1, v;
	char name[64];
	FILE *f;

	/* Fold the per-cpu counters into the totals first. */
	write_attr("/proc/sys/vm/stat_refresh", "1");
	f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %ld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acq = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			rel = v;
	}
	if (f)
		fclose(f);
	return acq - rel;
}

/*
 * Pages pinned with FOLL_PIN, system wide.  The test host's 9p I/O pins
 * pages for a moment too: that only adds, so the least of a few samples
 * is the steady count.
 */
long pinned_pages(void)
{
	long least = pinned_now(), v;
	int i;

	for (i = 0; i < 20; i++) {
		usleep(5000);
		v = pinned_now();
		if (v < least)
			least = v;
	}
	return least;
}
