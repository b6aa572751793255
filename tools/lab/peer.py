#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The far end of the lab's wires.

Each VF of the test host is a virtio-net device whose backend is QEMU's
-netdev dgram: one Ethernet frame per UDP datagram on 127.0.0.1.  For VF i
this program binds 127.0.0.1:(base+100+i), sends to 127.0.0.1:(base+i), and
plays host 10.0.i.1: it answers ARP and ICMP echo, echoes UDP sent to port 7
and counts everything.  On SIGTERM it writes its counters as JSON.

UDP to port 9 is counted and digested (FNV-1a 64 over the payloads in
order); after "RESET seed" each payload is also checked as one of a stream
(its sequence number first, then the pattern of that seed), so loss,
duplication, reordering and corruption are counted apart.  UDP to port 5000
carries commands, answered from port 5000:
  RESET [seed]           zero the port 9 count, digest and stream
  REPORT                 reply "count=N bytes=B fnv=HEX good=G dup=D
                         reordered=R corrupt=C"
  SEND n size seed       send n frames of size-byte payloads (npa-pkt's
                         pattern), at most WINDOW ahead of the last
  ACK k                  "I have k of them"
  LINK FLAP              take the VF's link down for a second (through the
                         test host's QEMU monitor), then up again
  BLAST secs size        for benchmarks: size-byte datagrams as fast as
                         they go for secs, then "END n"
  STREAM n size seed pps send n frames like SEND, paced at pps frames a
                         second and not flow-controlled (frames lost while
                         the guest moves are lost, not waited for)

The wires are one segment, as for a guest that migrates between VFs: a
frame for host 10.0.i.1 that arrives on wire j is answered by host
10.0.i.1 on wire j, and what host i sends afterwards (SEND, STREAM) goes
out on the wire its last frame came in on.
"""
import argparse
import json
import selectors
import signal
import socket
import struct
import sys
import threading
import time


WINDOW = 64
FNV_INIT = 0xCBF29CE484222325


def fnv(h, data):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


# Byte j of payload idx is (seed + 31 idx + 7 j) mod 256, that is
# RAMP[k + j] with 7 k = seed + 31 idx (mod 256): 183 is 7's inverse.
RAMP = bytes((7 * k) & 0xFF for k in range(256 + 2048))


def pattern(size, seed, idx):
    k = ((seed + idx * 31) * 183) & 0xFF
    return struct.pack("!I", idx) + RAMP[k + 4:k + size]


class Stream:
    """Payloads of a stream (seed) as they arrive, each fault counted."""

    def __init__(self, seed):
        self.seed = seed
        self.seen = set()
        self.next = 0
        self.good = self.dup = self.reordered = self.corrupt = 0

    def arrived(self, p):
        seq = struct.unpack("!I", p[0:4])[0] if len(p) >= 4 else -1
        if seq < 0 or p != pattern(len(p), self.seed, seq):
            self.corrupt += 1
        elif seq in self.seen:
            self.dup += 1
        else:
            self.seen.add(seq)
            self.good += 1
            if seq < self.next:
                self.reordered += 1
            self.next = max(self.next, seq + 1)

    def report(self):
        return b" good=%d dup=%d reordered=%d corrupt=%d" % (
            self.good, self.dup, self.reordered, self.corrupt)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def monitor(path, command):
    """Run one HMP command on the test host's QEMU monitor."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as m:
        m.settimeout(5)
        m.connect(path)
        m.recv(4096)
        m.sendall(command.encode() + b"\n")
        time.sleep(0.2)
        m.recv(4096)


class Wire:
    monitor = None

    def host(self, f, wires):
        """The host a frame on this wire is for: by its ARP or IP target."""
        etype = f[12:14]
        if etype == b"\x08\x06" and len(f) >= 42:
            ip = f[38:42]
        elif etype == b"\x08\x00" and len(f) >= 34:
            ip = f[30:34]
        else:
            return self
        if ip[0:2] == b"\x0a\x00" and ip[3] == 1 and ip[2] < len(wires):
            return wires[ip[2]]
        return self

    def __init__(self, idx, base):
        self.idx = idx
        self.mac = bytes([0x02, 0x4E, 0x50, 0, idx, 1])
        self.ip = bytes([10, 0, idx, 1])
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:  # beyond net.core.rmem_max: root may (SO_RCVBUFFORCE)
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", base + 100 + idx))
        self.dest = ("127.0.0.1", base + idx)
        self.stats = {"rx_frames": 0, "rx_bytes": 0, "tx_frames": 0,
                      "arp_replies": 0, "icmp_replies": 0,
                      "udp_rx": 0, "udp_rx_bytes": 0, "udp_echoed": 0}
        self.count = self.bytes = 0
        self.digest = FNV_INIT
        self.stream = Stream(None)
        self.job = None
        # The wire the last frame for this host came in on, where it
        # answers: only frames for it count (not a test host's own
        # IPv6 chatter on a wire it bridges).
        self.via = self

    def udp_to(self, dst_mac, ip, sport, dport, payload):
        hdr = bytearray(ip[:20])
        hdr[0] = 0x45
        hdr[2:4] = struct.pack("!H", 28 + len(payload))
        hdr[8], hdr[9] = 64, 17
        hdr[10:12] = b"\0\0"
        hdr[12:16], hdr[16:20] = self.ip, ip[12:16]
        hdr[10:12] = struct.pack("!H", csum(bytes(hdr)))
        udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
        self.send(dst_mac + self.mac + b"\x08\x00" + bytes(hdr) + udp +
                  payload)

    def blast(self, mac, ip, port, secs, size):
        payload = bytes(size)
        sent, end = 0, time.monotonic() + secs
        while time.monotonic() < end:
            for _ in range(64):
                self.udp_to(mac, ip, 5000, port, payload)
            sent += 64
        self.udp_to(mac, ip, 5000, port, b"END %d" % sent)

    def paced(self, mac, ip, port, n, size, seed, pps):
        start = time.monotonic()
        for i in range(n):
            delay = start + i / pps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.udp_to(mac, ip, 5000, port, pattern(size, seed, i))

    def pump(self):
        j = self.job
        while j["sent"] < j["n"] and j["sent"] - j["acked"] < WINDOW:
            self.udp_to(j["mac"], j["ip"], 5000, j["port"],
                        pattern(j["size"], j["seed"], j["sent"]))
            j["sent"] += 1

    def command(self, src, ip, sport, text):
        words = text.split()
        if not words:
            return
        if words[0] == "RESET":
            self.count = self.bytes = 0
            self.digest = FNV_INIT
            self.stream = Stream(int(words[1]) if len(words) > 1 else None)
        elif words[0] == "REPORT":
            self.udp_to(src, ip, 5000, sport, b"count=%d bytes=%d fnv=%016x" %
                        (self.count, self.bytes, self.digest) +
                        self.stream.report())
        elif words[0] == "SEND" and len(words) == 4:
            self.job = {"n": int(words[1]), "size": int(words[2]),
                        "seed": int(words[3]), "sent": 0, "acked": 0,
                        "mac": src, "ip": ip, "port": sport}
            self.pump()
        elif words[0] == "LINK" and words[1:] == ["FLAP"] and self.monitor:
            def flap():
                monitor(self.monitor, "set_link vf%d off" % self.idx)
                time.sleep(1)
                monitor(self.monitor, "set_link vf%d on" % self.idx)
            threading.Thread(target=flap, daemon=True).start()
        elif words[0] == "BLAST" and len(words) == 3:
            threading.Thread(target=self.blast, daemon=True,
                             args=(src, ip, sport, float(words[1]),
                                   int(words[2]))).start()
        elif words[0] == "STREAM" and len(words) == 5:
            threading.Thread(target=self.paced, daemon=True,
                             args=(src, ip, sport, int(words[1]),
                                   int(words[2]), int(words[3]),
                                   float(words[4]))).start()
        elif words[0] == "ACK" and len(words) == 2 and self.job:
            self.job["acked"] = max(self.job["acked"], int(words[1]))
            self.pump()

    def send(self, frame):
        self.via.sock.sendto(frame, self.via.dest)
        self.stats["tx_frames"] += 1

    def handle(self, f, via):
        st = self.stats
        st["rx_frames"] += 1
        st["rx_bytes"] += len(f)
        if len(f) < 14:
            return
        dst, src, etype = f[0:6], f[6:12], struct.unpack("!H", f[12:14])[0]
        if etype == 0x0806 and len(f) >= 42:
            op = struct.unpack("!H", f[20:22])[0]
            if op == 1 and f[38:42] == self.ip:
                self.via = via
                arp = (struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + self.mac +
                       self.ip + f[22:28] + f[28:32])
                self.send(src + self.mac + b"\x08\x06" + arp)
                st["arp_replies"] += 1
            return
        if etype != 0x0800 or len(f) < 34 or dst not in (self.mac, b"\xff" * 6):
            return
        ihl = (f[14] & 0xF) * 4
        ip, proto = f[14:14 + ihl], f[23]
        l4 = f[14 + ihl:14 + struct.unpack("!H", f[16:18])[0]]
        if ip[16:20] != self.ip:
            return
        self.via = via
        reply_ip = bytearray(ip)
        reply_ip[12:16], reply_ip[16:20] = ip[16:20], ip[12:16]
        reply_ip[10:12] = b"\0\0"
        reply_ip[10:12] = struct.pack("!H", csum(bytes(reply_ip)))
        if proto == 1 and len(l4) >= 8 and l4[0] == 8:
            icmp = bytearray(l4)
            icmp[0], icmp[2:4] = 0, b"\0\0"
            icmp[2:4] = struct.pack("!H", csum(bytes(icmp)))
            self.send(src + self.mac + b"\x08\x00" + bytes(reply_ip) + bytes(icmp))
            st["icmp_replies"] += 1
        elif proto == 17 and len(l4) >= 8:
            sport, dport = struct.unpack("!HH", l4[0:4])
            st["udp_rx"] += 1
            st["udp_rx_bytes"] += len(l4) - 8
            if dport == 9:
                self.count += 1
                self.bytes += len(l4) - 8
                self.digest = fnv(self.digest, l4[8:])
                if self.stream.seed is not None:
                    self.stream.arrived(l4[8:])
            elif dport == 5000:
                self.command(src, ip, sport, l4[8:].decode(errors="replace"))
            elif dport == 7:
                udp = struct.pack("!HHHH", dport, sport, len(l4), 0) + l4[8:]
                self.send(src + self.mac + b"\x08\x00" + bytes(reply_ip) + udp)
                st["udp_echoed"] += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=int, required=True)
    ap.add_argument("--wires", type=int, required=True)
    ap.add_argument("--stats", required=True, help="JSON file written at exit")
    ap.add_argument("--monitor", help="the test host's QEMU monitor socket")
    args = ap.parse_args()
    Wire.monitor = args.monitor

    wires = [Wire(i, args.base) for i in range(args.wires)]
    sel = selectors.DefaultSelector()
    for w in wires:
        sel.register(w.sock, selectors.EVENT_READ, w)

    def finish(*_):
        with open(args.stats, "w") as fh:
            json.dump({"vf%d" % w.idx: w.stats for w in wires}, fh, indent=1)
        sys.exit(0)

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    print("peer: %d wires on 127.0.0.1:%d.." % (len(wires), args.base + 100),
          flush=True)
    while True:
        for key, _ in sel.select():
            w = key.data
            f = w.sock.recv(65536)
            w.host(f, wires).handle(f, w)


if __name__ == "__main__":
    main()
