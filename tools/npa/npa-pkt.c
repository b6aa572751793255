// SPDX-License-Identifier: GPL-2.0
/*
 * npa-pkt: move UDP frames through an npa mdev and check them byte for byte
 * against the lab's peer (tools/lab/peer.py), which plays 10.0.I.1 on VF I's
 * wire.  This program is 10.0.I.2 with the VF's MAC.
 *
 *   npa-pkt -u UUID -i I [-k eventfd|mmap|write] [-n N] [-s SIZE] tx|rx|both|link|loop
 *
 * tx: N frames with SIZE-byte payloads to the peer's port 9; the peer's
 *     count and digest of what it received must match what was sent.
 * rx: the peer sends N frames (flow-controlled by ACKs); each payload must
 *     be the expected one, in order.
 * link: the peer flaps the VF's link; config change interrupts must come
 *     with the link status going down, then up.
 * loop: for a device that loops TX back to RX (vdpa_sim_net), no wire:
 *     N frames of SIZE-byte payloads to the device's own MAC must all come
 *     back on RX, in order and byte for byte.
 * Like a VMM, it lets go of the device when the host asks for it back (the
 * request eventfd: mdevctl stop, unbinding, unloading npa), and fails.
 * -l: negotiate VHOST_F_LOG_ALL with a dirty log (npa relays the queues);
 *     at the end the log must mark exactly the pages the device wrote.
 * -b B: the rings start at index B (VHOST_SET_VRING_BASE), as after a
 *     migration.
 * -S: switch dirty logging on a third of the way through each transfer and
 *     off at two thirds, as a migration does (npa moves the queues from
 *     direct to relay mode under way, and back where the parent can load
 *     ring state); each switch reports how many queues relay then.
 * Prints frames/s and bytes/s, and at the end how many queues npa relays;
 * exit status 0 only if everything matched.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libnpa.h"
#include "wire.h"

#define HDRS		(14 + 20 + 8)

static struct npa_dev dev;
static const char *uuid;
static bool switching;

/* How many queues npa runs in relay mode now (the mdev's relay). */
static int relaying(void)
{
	char path[128];
	int n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/relay", uuid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* With -S: logging on at a third of @count, off at two thirds. */
static int maybe_switch(int done, int count, int *step)
{
	if (!switching || *step >= 2 || done < count * (*step + 1) / 3)
		return 0;
	(*step)++;
	if (npa_set_log_all(&dev, *step == 1))
		return -1;
	printf("switch: dirty logging %s after %d of %d frames, %d queues relaying\n",
	       *step == 1 ? "on" : "off", done, count, relaying());
	return 0;
}

static __u8 peer_mac[6];
static __u8 my_ip[4], peer_ip[4];

static __u16 csum(const __u8 *p, size_t n)
{
	__u32 s = 0;

	for (; n > 1; p += 2, n -= 2)
		s += p[0] << 8 | p[1];
	if (n)
		s += p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* An Ethernet + IPv4 + UDP frame to the peer; returns its length. */
static size_t udp_frame(__u8 *f, __u16 dport, const void *data,
			size_t len)
{
	__u16 c;

	memcpy(f, peer_mac, 6);
	memcpy(f + 6, dev.mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(f + 14, 0, 28);
	f[14] = 0x45;
	f[16] = (20 + 8 + len) >> 8;
	f[17] = (20 + 8 + len) & 0xff;
	f[22] = 64;
	f[23] = 17;
	memcpy(f + 26, my_ip, 4);
	memcpy(f + 30, peer_ip, 4);
	c = csum(f + 14, 20);
	f[24] = c >> 8;
	f[25] = c & 0xff;
	f[34] = MY_PORT >> 8;
	f[35] = MY_PORT & 0xff;
	f[36] = dport >> 8;
	f[37] = dport & 0xff;
	f[38] = (8 + len) >> 8;
	f[39] = (8 + len) & 0xff;
	memcpy(f + HDRS, data, len);
	return HDRS + len;
}

static int send1(const __u8 *f, size_t len)
{
	const __u8 *frames[1] = { f };

	return npa_tx_burst(&dev, frames, &len, 1);
}

static int control(const char *cmd)
{
	__u8 f[256];

	return send1(f, udp_frame(f, PEER_CONTROL, cmd, strlen(cmd)));
}

/*
 * A UDP frame from the peer's port @sport to ours: its payload and length,
 * else NULL (frames to other ports on the wire, such as a stream to a
 * guest that used the wire before, are not ours).
 */
static const __u8 *udp_payload(const __u8 *f, int n, __u16 sport,
			       size_t *len)
{
	if (n < HDRS || f[12] != 0x08 || f[13] || f[23] != 17 ||
	    memcmp(f + 26, peer_ip, 4) || ((f[34] << 8) | f[35]) != sport ||
	    ((f[36] << 8) | f[37]) != MY_PORT)
		return NULL;
	*len = ((f[38] << 8) | f[39]) - 8;
	if (*len > (size_t)n - HDRS)
		return NULL;
	return f + HDRS;
}

static int resolve_peer(void)
{
	__u8 f[64] = { 0 }, r[NPA_BUFSZ];
	int tries, n;

	memset(f, 0xff, 6);
	memcpy(f + 6, dev.mac, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	memcpy(f + 14, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memcpy(f + 22, dev.mac, 6);
	memcpy(f + 28, my_ip, 4);
	memcpy(f + 38, peer_ip, 4);
	for (tries = 0; tries < 10; tries++) {
		if (send1(f, 60))
			return -1;
		while ((n = npa_rx(&dev, r, sizeof(r), 1000)) > 0) {
			if (n >= 42 && r[12] == 0x08 && r[13] == 0x06 &&
			    r[21] == 2 && !memcmp(r + 28, peer_ip, 4)) {
				memcpy(peer_mac, r + 22, 6);
				return 0;
			}
		}
	}
	fprintf(stderr, "npa-pkt: no ARP reply from the peer\n");
	return -1;
}

static int do_tx(int count, int size)
{
	__u8 *frames[32], payload[NPA_BUFSZ], r[NPA_BUFSZ];
	const __u8 *p;
	size_t lens[32], len;
	__u64 h = FNV_INIT;
	struct wire_report rep;
	double t0, t;
	int i, j, n, burst, step = 0;

	for (j = 0; j < 32; j++)
		frames[j] = malloc(NPA_BUFSZ);
	if (control("RESET 1"))
		return 1;
	t0 = now();
	for (i = 0; i < count; i += burst) {
		if (maybe_switch(i, count, &step))
			return 1;
		burst = count - i < 32 ? count - i : 32;
		for (j = 0; j < burst; j++) {
			pattern(payload, size, 1, i + j);
			h = fnv(h, payload, size);
			lens[j] = udp_frame(frames[j], PEER_DISCARD, payload,
					    size);
		}
		if (npa_tx_burst(&dev, (const __u8 *const *)frames, lens,
				 burst))
			return 1;
	}
	while (npa_tx_reclaim(&dev) < NPA_QSIZE && now() - t0 < 60)
		;
	t = now() - t0;
	if (control("REPORT"))
		return 1;
	for (;;) {
		n = npa_rx(&dev, r, sizeof(r) - 1, 10000);
		if (n < 0) {
			fprintf(stderr, "npa-pkt: no report from the peer\n");
			return 1;
		}
		p = udp_payload(r, n, PEER_CONTROL, &len);
		if (!p)
			continue;
		((__u8 *)p)[len] = 0;
		if (wire_parse_report((const char *)p, &rep))
			break;
	}
	printf("tx: %d frames of %d bytes in %.3f s: %.0f frames/s, %.0f bytes/s\n",
	       count, size, t, count / t, (double)count * size / t);
	return !wire_tx_verdict(&rep, count, size, h, "tx");
}

static int do_rx(int count, int size)
{
	struct wire_stream *st = wire_stream_new(count, size);
	__u8 r[NPA_BUFSZ];
	char cmd[64];
	const __u8 *p;
	size_t len;
	double t0;
	int n, step = 0;

	snprintf(cmd, sizeof(cmd), "SEND %d %d 7", count, size);
	if (!st || control(cmd))
		return 1;
	t0 = now();
	while (st->good < st->count) {
		if (maybe_switch(st->good, count, &step))
			return 1;
		n = npa_rx(&dev, r, sizeof(r), 5000);
		if (n == -ETIMEDOUT)
			fprintf(stderr, "npa-pkt: rx: nothing for 5 s after %u of %d frames\n",
				st->good, count);
		if (n < 0)
			break;
		p = udp_payload(r, n, PEER_CONTROL, &len);
		if (p && wire_rx_one(st, p, len)) {
			snprintf(cmd, sizeof(cmd), "ACK %u", st->next);
			if (control(cmd))
				return 1;
		}
	}
	return !wire_stream_done(st, "rx", "frames", now() - t0);
}

static int do_link(void)
{
	int i;

	if (npa_config_irq(&dev) || control("LINK FLAP"))
		return 1;
	if (!npa_wait_config(&dev, 10000) || npa_link_up(&dev)) {
		fprintf(stderr, "npa-pkt: no config interrupt with the link down\n");
		return 1;
	}
	for (i = 0; i < 10 && !npa_link_up(&dev); i++)
		npa_wait_config(&dev, 1000);
	if (!npa_link_up(&dev)) {
		fprintf(stderr, "npa-pkt: the link did not come back up\n");
		return 1;
	}
	printf("link: down after a config interrupt, then up again\n");
	return 0;
}

/* An Ethernet frame to ourselves (local experimental EtherType 0x88b5). */
static size_t loop_frame(__u8 *f, const __u8 *payload, size_t len)
{
	memcpy(f, dev.mac, 6);
	memcpy(f + 6, dev.mac, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, payload, len);
	return 14 + len;
}

static int do_loop(int count, int size)
{
	struct wire_stream *st = wire_stream_new(count, size);
	__u8 *frames[32], payload[NPA_BUFSZ], r[NPA_BUFSZ];
	size_t lens[32];
	int i, j, n = 0, burst, step = 0;
	double t0;

	if (!st)
		return 1;
	for (j = 0; j < 32; j++)
		frames[j] = malloc(NPA_BUFSZ);
	t0 = now();
	for (i = 0; i < count && n >= 0; i += burst) {
		if (maybe_switch(i, count, &step))
			return 1;
		burst = count - i < 32 ? count - i : 32;
		for (j = 0; j < burst; j++) {
			pattern(payload, size, 7, i + j);
			lens[j] = loop_frame(frames[j], payload, size);
		}
		if (npa_tx_burst(&dev, (const __u8 *const *)frames, lens,
				 burst))
			return 1;
		for (j = 0; j < burst; j++) {
			n = npa_rx(&dev, r, sizeof(r), 5000);
			if (n < 0)
				break;
			/* Every frame has the same Ethernet header. */
			if (n >= 14 && !memcmp(r, frames[0], 14)) {
				wire_rx_one(st, r + 14, n - 14);
			} else {
				st->arrived++;
				st->corrupt++;
			}
		}
		npa_tx_reclaim(&dev);
	}
	if (n < 0)
		fprintf(stderr, "npa-pkt: loop: nothing back for 5 s after %u of %d frames\n",
			st->arrived, count);
	return !wire_stream_done(st, "loop", "frames", now() - t0);
}

static void bad_usage(void)
{
	fputs("usage: npa-pkt -u UUID -i VF [-k eventfd|mmap|write] [-n N] [-s SIZE]\n"
	      "               [-l] [-b B] [-S] tx|rx|both|link|loop\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	enum npa_kick kick = NPA_KICK_EVENTFD;
	int opt, vf = -1, count = 1000, size = 1000, ret = 0, marked, bad;
	bool log_all = false, loop;
	long base = 0;

	while ((opt = getopt(argc, argv, "u:i:k:n:s:lb:S")) != -1) {
		switch (opt) {
		case 'S':
			switching = true;
			break;
		case 'l':
			log_all = true;
			break;
		case 'b':
			base = strtol(optarg, NULL, 0);
			if (base < 0 || base > 0xffff)
				bad_usage();
			break;
		case 'u':
			uuid = optarg;
			break;
		case 'i':
			vf = atoi(optarg);
			break;
		case 'k':
			if (!strcmp(optarg, "eventfd"))
				kick = NPA_KICK_EVENTFD;
			else if (!strcmp(optarg, "mmap"))
				kick = NPA_KICK_MMAP;
			else if (!strcmp(optarg, "write"))
				kick = NPA_KICK_WRITE;
			else
				bad_usage();
			break;
		case 'n':
			count = atoi(optarg);
			break;
		case 's':
			size = atoi(optarg);
			break;
		default:
			bad_usage();
		}
	}
	if (!uuid || vf < 0 || vf > 255 || optind != argc - 1 || count < 1 ||
	    size < 4 || size > NPA_BUFSZ - NPA_HDRSZ - HDRS)
		bad_usage();
	memcpy(my_ip, (__u8[]){ 10, 0, vf, 2 }, 4);
	memcpy(peer_ip, (__u8[]){ 10, 0, vf, 1 }, 4);

	loop = !strcmp(argv[optind], "loop");
	if (npa_open(&dev, uuid) || npa_request_channel(&dev)) {
		npa_close(&dev);
		return 1;
	}
	dev.log_all = log_all;
	dev.base = base;
	if (npa_start(&dev, kick) || (!loop && resolve_peer())) {
		npa_close(&dev);
		return 1;
	}
	if (loop)
		ret |= do_loop(count, size);
	if (!strcmp(argv[optind], "tx") || !strcmp(argv[optind], "both"))
		ret |= do_tx(count, size);
	if (!strcmp(argv[optind], "rx") || !strcmp(argv[optind], "both"))
		ret |= do_rx(count, size);
	if (!strcmp(argv[optind], "link"))
		ret |= do_link();
	if (log_all && !switching) {
		bad = npa_log_check(&dev, &marked);
		printf("log: %d pages marked, %d differ from the pages the device wrote\n",
		       marked, bad);
		ret |= bad != 0;
	}
	printf("npa: %llu kicks, %llu call interrupts, %d queues relaying\n",
	       (unsigned long long)dev.kicks, (unsigned long long)dev.calls,
	       relaying());
	npa_close(&dev);
	return ret;
}
