#!/usr/bin/env python3
"""qmon.py - runs QEMU monitor (HMP) commands over its unix socket, each once the previous one is done.

Usage: qmon.py SOCKET COMMAND...   (prints what the monitor answered to the last one)
Used by tests/compat/run.sh: `sendkey` for keyboard input, `pmemsave` for the text screen.
"""
import socket
import sys
import time


def main():
    path, cmds = sys.argv[1], sys.argv[2:]
    deadline = time.monotonic() + 30
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit("qmon: cannot connect to %s" % path)
            time.sleep(0.1)
    s.settimeout(30)
    buf = b""

    def until_prompt():
        nonlocal buf
        while b"(qemu)" not in buf:
            data = s.recv(4096)
            if not data:
                sys.exit("qmon: the monitor went away")
            buf += data
        out, buf = buf, b""
        return out

    until_prompt()
    out = b""
    for cmd in cmds:
        s.sendall(cmd.encode() + b"\n")
        out = until_prompt()
    sys.stdout.write(out.decode(errors="replace"))


if __name__ == "__main__":
    main()
