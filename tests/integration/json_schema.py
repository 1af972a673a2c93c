#!/usr/bin/env python3
"""json_schema.py - checks one JSON object (stdin) against a section of docs/json.md.

Usage: json_schema.py DOC SECTION  (SECTION: the start of the section's heading, e.g. "info")
Every key the object has must be in the section's table (nested objects as
dotted keys), every key the table lists must be in the object unless its
type says "optional", and each value must have the listed type. Prints
what differs and exits 1, or exits 0 silently.
"""
import json
import re
import sys


def schema(doc, section):
    keys, on = {}, False
    for line in open(doc, encoding="utf-8"):
        if line.startswith("## "):
            on = line[3:].startswith(section)
        m = re.match(r"\| `([^`]+)` \| ([^|]+) \|", line)
        if on and m:
            keys[m.group(1)] = m.group(2).strip()
    if not keys:
        sys.exit(f"json_schema.py: no table for section '{section}' in {doc}")
    return keys


def flatten(obj, prefix=""):
    for k, v in obj.items():
        yield prefix + k, v
        if isinstance(v, dict):
            yield from flatten(v, prefix + k + ".")


def type_ok(value, typ):
    if value is None:
        return "or null" in typ
    base = typ.split()[0]
    return {
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(base, False)


def main():
    doc, section = sys.argv[1], sys.argv[2]
    want = schema(doc, section)
    text = sys.stdin.read()
    try:
        obj = json.loads(text)
    except ValueError as e:
        print(f"not JSON ({e}): {text[:200]!r}")
        return 1
    if not isinstance(obj, dict):
        print("not an object")
        return 1
    problems = []
    got = dict(flatten(obj))
    for k, v in got.items():
        parent = k.rsplit(".", 1)[0] if "." in k else None
        if parent and got.get(parent) is None:
            continue
        if k not in want:
            problems.append(f"{k}: not in {doc}")
        elif not type_ok(v, want[k]):
            problems.append(f"{k}: {v!r} is not {want[k]}")
    for k, typ in want.items():
        parent = k.rsplit(".", 1)[0] if "." in k else None
        if k not in got and "optional" not in typ and not (parent and got.get(parent) is None):
            problems.append(f"{k}: missing")
    for p in problems:
        print(p)
    return 1 if problems else 0


sys.exit(main())
