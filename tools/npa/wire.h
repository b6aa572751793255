/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The lab peer's test protocol (tools/lab/peer.py), shared by the programs
 * that talk to it: npa-pkt (through an mdev) and npa-udp (through a guest's
 * sockets).  UDP to PEER_DISCARD is counted and digested; UDP to
 * PEER_CONTROL carries commands (RESET, REPORT, SEND n size seed, ACK k).
 */
#ifndef NPA_WIRE_H
#define NPA_WIRE_H

#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <linux/types.h>

#define PEER_DISCARD	9
#define PEER_CONTROL	5000
#define MY_PORT		4000
#define ACK_EVERY	32
#define FNV_INIT	0xcbf29ce484222325ULL

static inline __u64 fnv(__u64 h, const __u8 *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Payload @idx of a stream: its index, big endian, then a pattern. */
static inline void pattern(__u8 *p, size_t size, __u32 seed, __u32 idx)
{
	__u32 be = htonl(idx);
	size_t j;

	for (j = 0; j < size; j++)
		p[j] = (seed + idx * 31 + j * 7) & 0xff;
	if (size >= 4)
		memcpy(p, &be, 4);
}

/*
 * One datagram of a SEND stream (seed 7) arrived: check it against the
 * next payload of the stream.  True when the peer is owed an ACK.
 */
static inline int wire_rx_one(const __u8 *p, size_t len, size_t size,
			      int *got, int *bad)
{
	__u8 want[2048];

	if (len != size || size > sizeof(want))
		return 0;
	pattern(want, size, 7, *got);
	if (memcmp(p, want, size))
		(*bad)++;
	(*got)++;
	return !(*got % ACK_EVERY);
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
