#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run HMP commands on a QEMU monitor's socket.

  hmp.py [-e] SOCKET COMMAND...

SOCKET is a Unix socket's path, or HOST:PORT for a monitor on TCP.
Prints what each command printed (errors too), after "(qemu) COMMAND"
with -e.  Waits for the monitor's prompt after each, up to 20 s of
silence.
"""
import re
import socket
import sys


def until_prompt(s):
    text = b""
    try:
        while not text.endswith(b"(qemu) "):
            data = s.recv(65536)
            if not data:
                break
            text += data
    except OSError:
        pass
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text.decode(errors="replace"))
    # Drop the echo of the command line and the prompt.
    return "\n".join(text.replace("\r", "").split("\n")[1:-1])


def connect(where, timeout=20):
    """A socket connected to a Unix socket's path, or to HOST:PORT."""
    if where.startswith("/") or ":" not in where:
        s = socket.socket(socket.AF_UNIX)
        addr = where
    else:
        host, port = where.rsplit(":", 1)
        s = socket.socket(socket.AF_INET)
        addr = (host, int(port))
    s.settimeout(timeout)
    s.connect(addr)
    return s


def main():
    args = sys.argv[1:]
    echo = args[:1] == ["-e"]
    if echo:
        args = args[1:]
    if len(args) < 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    s = connect(args[0])
    until_prompt(s)
    for cmd in args[1:]:
        s.sendall(cmd.encode() + b"\n")
        out = until_prompt(s)
        if echo:
            print("(qemu) %s" % cmd)
        if out:
            print(out)


if __name__ == "__main__":
    main()
