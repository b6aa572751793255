#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Follow a QEMU serial console served on TCP, as a local one.

  console.py HOST:PORT LOG FIFO

Connects (retrying for up to ten minutes, while the far QEMU starts),
appends what the console prints to LOG, and sends it each line written
to FIFO (the guest's console input).  Ends when the far end closes.
"""
import os
import selectors
import socket
import sys
import time


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    host, port = sys.argv[1].rsplit(":", 1)
    end = time.monotonic() + 600
    while True:
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            break
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(1)
    s.setblocking(False)
    fifo = os.open(sys.argv[3], os.O_RDWR | os.O_NONBLOCK)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    sel.register(fifo, selectors.EVENT_READ)
    with open(sys.argv[2], "ab", buffering=0) as log:
        while True:
            for key, _ in sel.select():
                if key.fileobj is s:
                    data = s.recv(65536)
                    if not data:
                        return
                    log.write(data)
                else:
                    s.sendall(os.read(fifo, 4096))


if __name__ == "__main__":
    main()
