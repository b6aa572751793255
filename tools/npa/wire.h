/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The lab peer's test protocol (tools/lab/peer.py), shared by the programs
 * that talk to it: npa-pkt (through an mdev) and npa-udp (through a guest's
 * sockets).  UDP to PEER_DISCARD is counted and digested; UDP to
 * PEER_CONTROL carries commands (RESET [seed], REPORT, SEND n size seed,
 * ACK k).  Every payload of a stream starts with its sequence number.
 */
#ifndef NPA_WIRE_H
#define NPA_WIRE_H

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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
 * A SEND stream (seed 7) as received: every payload carries its sequence
 * number, so each kind of fault is counted apart.  A payload that arrives
 * intact for the first time is good; again, a duplicate; after a higher
 * one, reordered (and good); with a wrong length, number or pattern,
 * corrupt.  What never arrived intact is lost.
 */
struct wire_stream {
	__u32 count, size;
	__u32 next;		/* one past the highest good sequence number */
	__u32 arrived, good, dup, reordered, corrupt;
	__u8 seen[];		/* @count flags */
};

static inline struct wire_stream *wire_stream_new(__u32 count, __u32 size)
{
	struct wire_stream *st = calloc(1, sizeof(*st) + count);

	if (st) {
		st->count = count;
		st->size = size;
	}
	return st;
}

/* One payload arrived; true when the peer is owed an ACK (of st->next). */
static inline int wire_rx_one(struct wire_stream *st, const __u8 *p,
			      size_t len)
{
	__u8 want[2048];
	__u32 seq;

	st->arrived++;
	if (len != st->size || len < 4 || len > sizeof(want)) {
		st->corrupt++;
		return 0;
	}
	memcpy(&seq, p, 4);
	seq = ntohl(seq);
	if (seq >= st->count) {
		st->corrupt++;
		return 0;
	}
	pattern(want, len, 7, seq);
	if (memcmp(p, want, len)) {
		st->corrupt++;
	} else if (st->seen[seq]) {
		st->dup++;
	} else {
		st->seen[seq] = 1;
		st->good++;
		if (seq < st->next)
			st->reordered++;
		else
			st->next = seq + 1;
	}
	return !(st->arrived % ACK_EVERY);
}

/* Prints what arrived, as "WHO: ..."; true when the stream is flawless. */
static inline int wire_stream_report(const struct wire_stream *st,
				     const char *who)
{
	printf("%s: %u of %u payloads as sent: %u lost, %u duplicated, %u reordered, %u corrupt\n",
	       who, st->good, st->count, st->count - st->good, st->dup,
	       st->reordered, st->corrupt);
	return st->good == st->count && !st->dup && !st->reordered &&
	       !st->corrupt;
}

/*
 * The end of a receive: the rate over @secs of what arrived (@unit:
 * frames, datagrams), then the report; frees @st.  True when flawless.
 */
static inline int wire_stream_done(struct wire_stream *st, const char *who,
				   const char *unit, double secs)
{
	int ok;

	printf("%s: %u %s of %u bytes in %.3f s: %.0f %s/s, %.0f bytes/s\n",
	       who, st->arrived, unit, st->size, secs, st->arrived / secs, unit,
	       (double)st->arrived * st->size / secs);
	ok = wire_stream_report(st, who);
	free(st);
	return ok;
}

/* The peer's answer to REPORT: what reached its port 9 since RESET. */
struct wire_report {
	unsigned long long count, bytes, digest;
	unsigned int good, dup, reordered, corrupt;
};

static inline int wire_parse_report(const char *text, struct wire_report *r)
{
	return sscanf(text,
		      "count=%llu bytes=%llu fnv=%llx good=%u dup=%u reordered=%u corrupt=%u",
		      &r->count, &r->bytes, &r->digest, &r->good, &r->dup,
		      &r->reordered, &r->corrupt) == 7;
}

/*
 * The verdict on @count payloads of @size bytes sent after "RESET 1", whose
 * digest was @digest; prints it as "WHO: ...", true when flawless.
 */
static inline int wire_tx_verdict(const struct wire_report *r, int count,
				  int size, __u64 digest, const char *who)
{
	printf("%s: peer received %llu datagrams, %llu bytes, digest %016llx (sent %016llx)\n",
	       who, r->count, r->bytes, r->digest, (unsigned long long)digest);
	printf("%s: %u of %d payloads as sent: %u lost, %u duplicated, %u reordered, %u corrupt\n",
	       who, r->good, count, count - r->good, r->dup, r->reordered,
	       r->corrupt);
	return r->count == (unsigned long long)count &&
	       r->bytes == (unsigned long long)count * size &&
	       r->digest == digest && r->good == (unsigned int)count &&
	       !r->dup && !r->reordered && !r->corrupt;
}

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
