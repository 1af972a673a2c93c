#!/usr/bin/env python3
"""screen.py - the text of a VGA text screen dump (80 x 25 cells of character, attribute), as kvmlite shows it.

Usage: screen.py DUMP   (4000 bytes from 0xb8000, QEMU's `pmemsave`)
Prints the rows below SeaBIOS's "Booting from ..." line (or all, if the
guest cleared it), trailing blanks of each row and blank rows at the end
left out, each row followed by a newline: what kvmlite writes for text put
on the screen in reading order (docs/compatibility.md).
"""
import sys


def main():
    data = open(sys.argv[1], "rb").read()
    rows = [bytes(data[(r * 80 + c) * 2] for c in range(80)).rstrip(b" ") for r in range(25)]
    start = 0
    for i, row in enumerate(rows):
        if row.startswith(b"Booting from "):
            start = i + 1
    rows = rows[start:]
    while rows and not rows[-1]:
        rows.pop()
    sys.stdout.buffer.write(b"".join(row + b"\n" for row in rows))


if __name__ == "__main__":
    main()
