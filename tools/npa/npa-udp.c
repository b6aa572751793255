// SPDX-License-Identifier: GPL-2.0
/*
 * npa-udp: the lab peer's test protocol (wire.h) over ordinary UDP sockets,
 * for a guest whose NIC is an npa device.  Built static, it runs in the lab
 * guest's initramfs.
 *
 *   npa-udp PEER_IP tx|rx N SIZE
 *   npa-udp PEER_IP blast-tx|blast-rx SECONDS SIZE
 *   npa-udp PEER_IP stream SECONDS SIZE
 *
 * tx: N datagrams of SIZE bytes to the peer's port 9; every 64 the peer's
 *     count must have caught up, and at the end its count and digest must
 *     match what was sent.
 * rx: the peer sends N datagrams (flow-controlled by ACKs); each must
 *     arrive once, in order and intact (wire_rx_one() tells loss,
 *     duplication, reordering and corruption apart).
 * blast-tx, blast-rx: for benchmarks, datagrams as fast as they go for
 *     SECONDS, without flow control; the receiver counts.  Prints
 *     "bench DIR size=S sent=N received=M seconds=T"; fails when nothing
 *     arrived.
 * stream: for SECONDS, STREAM_PPS datagrams a second each way at once,
 *     without flow control, as across a migration: what is lost stays
 *     lost.  From a port of its own (the kernel's pick), so that a late
 *     datagram of an earlier stream is not taken for one of this stream.
 *     Prints the longest time the guest stood still (a migration's
 *     switch, as the guest saw it), the sum of the times it stood still
 *     (loop turns of STALL_MS or more) and what arrived each way; fails on a
 *     duplicated or corrupt datagram, or when nothing arrived one way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "wire.h"

#define SYNC_EVERY	64
#define STREAM_PPS	100
/* A loop turn of the stream takes 10 ms; this long, the guest stood still. */
#define STALL_MS	100

static const char usage[] =
	"usage: npa-udp PEER_IP tx|rx N SIZE | blast-tx|blast-rx|stream SECONDS SIZE\n";

static int sock;
static struct sockaddr_in peer;

static int to_peer(__u16 port, const void *buf, size_t len)
{
	peer.sin_port = htons(port);
	if (sendto(sock, buf, len, 0, (struct sockaddr *)&peer,
		   sizeof(peer)) != (ssize_t)len) {
		perror("npa-udp: sendto");
		return -1;
	}
	return 0;
}

static int control(const char *cmd)
{
	return to_peer(PEER_CONTROL, cmd, strlen(cmd));
}

/*
 * The peer's count and digest of what reached its port 9, once it has
 * @want datagrams or after a second.  The VF may send the small REPORT
 * ahead of the last datagrams before it, so ask again while short; and
 * again when no answer came within a second.
 */
static int report(unsigned long long want, struct wire_report *r)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	bool answered = false, got;
	char buf[256];
	int tries;
	ssize_t n;

	for (tries = 0; tries < 20; tries++) {
		if (tries)
			usleep(50000);
		if (control("REPORT"))
			return -1;
		got = false;
		while (!got && poll(&pfd, 1, 1000) > 0) {
			n = recv(sock, buf, sizeof(buf) - 1, 0);
			if (n < 0)
				break;
			buf[n] = 0;
			got = wire_parse_report(buf, r);
		}
		answered |= got;
		if (got && r->count >= want)
			break;
	}
	if (!answered)
		fputs("npa-udp: the peer did not answer REPORT\n", stderr);
	return answered ? 0 : -1;
}

static int do_tx(int count, int size)
{
	struct wire_report r;
	__u8 payload[65536];
	__u64 h = FNV_INIT;
	double t0, t;
	int i, lost = 0;

	if (control("RESET 1"))
		return 1;
	t0 = now();
	for (i = 0; i < count; i++) {
		pattern(payload, size, 1, i);
		h = fnv(h, payload, size);
		if (to_peer(PEER_DISCARD, payload, size))
			return 1;
		if ((i + 1) % SYNC_EVERY)
			continue;
		/* Flow control: wait for the peer; what it lacks is lost. */
		if (report(i + 1 - lost, &r))
			return 1;
		if (r.count < (unsigned long long)i + 1 - lost) {
			lost = i + 1 - r.count;
			fprintf(stderr, "npa-udp: the peer has %llu of %d\n",
				r.count, i + 1);
		}
	}
	t = now() - t0;
	if (report(count - lost, &r))
		return 1;
	printf("udp tx: %d datagrams of %d bytes in %.3f s: %.0f/s, %.0f bytes/s\n",
	       count, size, t, count / t, (double)count * size / t);
	return !wire_tx_verdict(&r, count, size, h, "udp tx");
}

static int do_rx(int count, int size)
{
	struct wire_stream *st = wire_stream_new(count, size);
	__u8 buf[65536];
	char cmd[64];
	double t0;
	ssize_t n;

	snprintf(cmd, sizeof(cmd), "SEND %d %d 7", count, size);
	if (!st || control(cmd))
		return 1;
	t0 = now();
	while (st->good < st->count) {
		n = recv(sock, buf, sizeof(buf), 0);
		if (n < 0) {
			fprintf(stderr, "npa-udp: rx: nothing for 5 s after %u of %d\n",
				st->good, count);
			break;
		}
		if (wire_rx_one(st, buf, n)) {
			snprintf(cmd, sizeof(cmd), "ACK %u", st->next);
			if (control(cmd))
				return 1;
		}
	}
	return !wire_stream_done(st, "udp rx", "datagrams", now() - t0);
}

static int blast_tx(int secs, int size)
{
	unsigned long long sent = 0;
	struct wire_report r;
	__u8 payload[65536] = { 0 };
	double t0, t;

	if (control("RESET"))
		return 1;
	t0 = now();
	while (now() - t0 < secs) {
		if (to_peer(PEER_DISCARD, payload, size))
			return 1;
		sent++;
	}
	t = now() - t0;
	if (report(sent, &r))
		return 1;
	printf("bench tx size=%d sent=%llu received=%llu seconds=%.3f\n",
	       size, sent, r.count, t);
	return 0;
}

static int blast_rx(int secs, int size)
{
	unsigned long long got = 0;
	char cmd[64], buf[65536];
	double t0, t, last;
	ssize_t n;

	snprintf(cmd, sizeof(cmd), "BLAST %d %d", secs, size);
	if (control(cmd))
		return 1;
	t0 = now();
	/*
	 * Count until the peer says END, or a second of silence once frames
	 * flow; the first may take longer on a loaded host.
	 */
	last = t0 + 4;
	while (now() - last < 1) {
		n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (n < 0) {
			usleep(1000);
			continue;
		}
		last = now();
		if (n == size)
			got++;
		else if (n > 3 && !memcmp(buf, "END", 3))
			break;
	}
	t = got ? last - t0 : 0;
	printf("bench rx size=%d received=%llu seconds=%.3f\n", size, got, t);
	return !got;
}

static int do_stream(int secs, int size)
{
	int count = secs * STREAM_PPS, sent = 0, ok;
	struct wire_stream *st = wire_stream_new(count, size);
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	double t0, t, end, last, stall = 0, stalls = 0;
	__u8 buf[65536];
	struct wire_report r;
	char cmd[64];
	ssize_t n;

	snprintf(cmd, sizeof(cmd), "STREAM %d %d 7 %d", count, size,
		 STREAM_PPS);
	if (!st || control("RESET 1") || control(cmd))
		return 1;
	t0 = now();
	last = t0;
	/* Then two seconds for what is still on its way. */
	end = t0 + secs + 2;
	while ((t = now()) < end && (sent < count || st->good < st->count)) {
		if (t - last > stall)
			stall = t - last;
		if (t - last >= STALL_MS / 1000.0)
			stalls += t - last;
		last = t;
		for (; sent < count && t >= t0 + (double)sent / STREAM_PPS;
		     sent++) {
			pattern(buf, size, 1, sent);
			if (to_peer(PEER_DISCARD, buf, size))
				return 1;
		}
		if (poll(&pfd, 1, 1000 / STREAM_PPS) <= 0)
			continue;
		n = recv(sock, buf, sizeof(buf), 0);
		if (n >= 0)
			wire_rx_one(st, buf, n);
	}
	if (report(count, &r))
		return 1;
	printf("udp stream: the guest stood still for %.0f ms at most, %.0f ms in all\n",
	       stall * 1000, stalls * 1000);
	printf("%s: %u of %d payloads as sent: %u lost, %u duplicated, %u reordered, %u corrupt\n",
	       "udp stream tx", r.good, count, count - r.good, r.dup,
	       r.reordered, r.corrupt);
	wire_stream_report(st, "udp stream rx");
	ok = r.good && !r.dup && !r.corrupt && st->good && !st->dup &&
	     !st->corrupt;
	free(st);
	return !ok;
}

int main(int argc, char **argv)
{
	struct sockaddr_in me = {
		.sin_family = AF_INET,
		.sin_port = htons(MY_PORT),
	};
	struct timeval tmo = { .tv_sec = 5 };
	/*
	 * The peer's whole window (64 datagrams) and more: the default buffer
	 * (about 208 KiB of skbs) holds about 64 of 1400 bytes, and a guest
	 * application slowed by its host must not drop on its own socket.
	 */
	int rcvbuf = 8 << 20;
	int count, size;

	if (argc != 5 || inet_pton(AF_INET, argv[1], &peer.sin_addr) != 1) {
		fputs(usage, stderr);
		return 2;
	}
	peer.sin_family = AF_INET;
	count = atoi(argv[3]);
	size = atoi(argv[4]);
	if (count < 1 || size < 4 || size > 1472) {
		fputs("npa-udp: N (or SECONDS) >= 1, 4 <= SIZE <= 1472\n", stderr);
		return 2;
	}
	if (!strcmp(argv[2], "stream"))
		me.sin_port = 0;
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&me, sizeof(me)) ||
	    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) ||
	    setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf))) {
		perror("npa-udp: socket");
		return 1;
	}
	if (!strcmp(argv[2], "tx"))
		return do_tx(count, size);
	if (!strcmp(argv[2], "rx"))
		return do_rx(count, size);
	if (!strcmp(argv[2], "blast-tx"))
		return blast_tx(count, size);
	if (!strcmp(argv[2], "blast-rx"))
		return blast_rx(count, size);
	if (!strcmp(argv[2], "stream"))
		return do_stream(count, size);
	fputs(usage, stderr);
	return 2;
}
