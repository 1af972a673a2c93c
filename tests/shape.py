#!/usr/bin/python3
"""shape.py - the shape of vmm/ that issue 14 asks for, checked: files, functions, include cycles, the reading order.

Fails (exit 1, naming each finding) when
  - a vmm/ file (.c or .h) is over 700 lines;
  - a function is over 60 lines. A function starts at a line that begins
    with a lower-case letter at column 0 and ends in ')' (the last line of
    its signature), followed by a line '{', and runs to the next line '}';
    its length counts both ends (the rule of the lead's funclen.py);
  - the modules of vmm/ include each other in a cycle. A module is a file
    name without its extension (shard.c and shard.h are `shard`); X -> Y
    when X.c or X.h includes "Y.h". Parts call down, not across: a part's
    header is included by the parts above it, never by the ones below;
  - docs/reading-order.md gives a line count that is off by more than 10%:
    every "`path` (N lines)" is checked against the file, and every
    section heading "... (about N lines)" against the sum of the files
    the section counts.

tests/shape-exceptions.txt lists findings allowed for now, one a line
("lines FILE", "function FILE NAME"): work another branch is doing. An
exception that no longer matches anything is a finding too, so the list
only shrinks.

Usage: tests/shape.py [ROOT]   (ROOT: the repository, by default this file's ../)
"""
import os
import re
import sys

FILE_MAX = 700
FUNC_MAX = 60
DOC_SLACK = 0.10


def sources(root):
    out = []
    for d in ("vmm", "vmm/devices"):
        for name in sorted(os.listdir(os.path.join(root, d))):
            if name.endswith((".c", ".h")):
                out.append(os.path.join(d, name))
    return out


def read_lines(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read().split("\n")


def line_count(root, path):
    """As wc -l counts: newline characters."""
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read().count("\n")


def long_functions(lines):
    """(name, first line, length) of every function over FUNC_MAX lines."""
    i = 0
    while i < len(lines):
        if re.match(r"^[a-z].*\)\s*$", lines[i]) and i + 1 < len(lines) and lines[i + 1] == "{":
            m = re.search(r"(\w+)\s*\(", lines[i])
            j = i + 1
            while j < len(lines) and lines[j] != "}":
                j += 1
            n = j - i + 1
            if n > FUNC_MAX:
                yield (m.group(1) if m else lines[i].strip()), i + 1, n
            i = j
        i += 1


def module(path):
    return os.path.splitext(os.path.basename(path))[0]


def include_cycles(root, files):
    """Cycles in the module graph, each as a list of modules, first == last."""
    edges = {}
    for f in files:
        src = module(f)
        for inc in re.findall(r'^#include "([^"]+)"', "\n".join(read_lines(root, f)), re.M):
            dst = module(inc)
            if dst != src:
                edges.setdefault(src, set()).add(dst)
    cycles, state, stack = [], {}, []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(edges.get(u, ())):
            if state.get(v) == 1:
                cycles.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for u in sorted(edges):
        if u not in state:
            visit(u)
    return cycles


def reading_order(root):
    """Findings about docs/reading-order.md's counts."""
    doc = os.path.join(root, "docs/reading-order.md")
    if not os.path.exists(doc):
        return ["docs/reading-order.md is missing"]
    out, section, counted = [], None, 0
    checked = 0

    def close_section():
        if section and counted:
            name, claimed = section
            if abs(claimed - counted) > DOC_SLACK * counted:
                out.append(f"docs/reading-order.md: '{name}' says about {claimed} lines; "
                           f"its files have {counted}")

    with open(doc, encoding="utf-8") as f:
        text = f.read()
    # a section at a time, its lines joined: a count may be wrapped onto the next line
    for part in re.split(r"^(?=#)", text, flags=re.M):
        heading, _, body = part.partition("\n")
        h = re.match(r"^#+ (.*\(about ([\d,]+) lines\).*)$", heading)
        close_section()
        section = (h.group(1), int(h.group(2).replace(",", ""))) if h else None
        counted = 0
        for path, n in re.findall(r"`([\w./-]+)`\s+\(([\d,]+) lines", " ".join(body.split())):
            claimed = int(n.replace(",", ""))
            checked += 1
            if not os.path.exists(os.path.join(root, path)):
                out.append(f"docs/reading-order.md: {path} does not exist")
                continue
            actual = line_count(root, path)
            counted += actual
            if abs(claimed - actual) > DOC_SLACK * actual:
                out.append(f"docs/reading-order.md: {path} has {actual} lines, the doc says {claimed}")
    close_section()
    if checked == 0:
        out.append("docs/reading-order.md gives no line counts (`path` (N lines))")
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    exc_path = os.path.join(root, "tests/shape-exceptions.txt")
    allowed = set()
    if os.path.exists(exc_path):
        with open(exc_path, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    allowed.add(" ".join(line.split()))
    files = sources(root)
    found = []  # (key for the exceptions, message)
    for f in files:
        n = line_count(root, f)
        if n > FILE_MAX:
            found.append((f"lines {f}", f"{f}: {n} lines (at most {FILE_MAX})"))
        if f.endswith(".c"):
            for name, at, length in long_functions(read_lines(root, f)):
                found.append((f"function {f} {name}", f"{f}:{at}: {name} is {length} lines (at most {FUNC_MAX})"))
    for c in include_cycles(root, files):
        found.append((None, "include cycle: " + " -> ".join(c)))
    for msg in reading_order(root):
        found.append((None, msg))
    failed = 0
    used = set()
    for key, msg in found:
        if key in allowed:
            used.add(key)
            print(f"known: {msg}")
        else:
            print(f"FAIL: {msg}")
            failed += 1
    for key in sorted(allowed - used):
        print(f"FAIL: tests/shape-exceptions.txt: '{key}' no longer happens: remove it")
        failed += 1
    print(f"shape: {len(files)} files, {failed} failure{'s' if failed != 1 else ''}, "
          f"{len(used)} known exception{'s' if len(used) != 1 else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
