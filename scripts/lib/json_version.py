"""Reads or sets version strings in a JSON file, changing nothing else in its text.

    python3 scripts/lib/json_version.py get FILE POINTER
    python3 scripts/lib/json_version.py set FILE VERSION POINTER...

POINTER is a JSON Pointer (RFC 6901) to a string: /version, /info/version,
/packages//version (the key "" of package-lock.json). `set` replaces each string in
place, so the file keeps its formatting, and checks that the result parses to the
original with only those values changed.
"""

import copy
import json
import re
import sys


def parts(pointer):
    if not pointer.startswith("/"):
        sys.exit(f"error: {pointer!r} is not a JSON pointer")
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]


def lookup(data, pointer):
    node = data
    for key in parts(pointer):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def assign(data, pointer, value):
    *path, last = parts(pointer)
    node = data
    for key in path:
        node = node[key]
    node[last] = value


def main(argv):
    if len(argv) == 3 and argv[0] == "get":
        _, path, pointer = argv
        with open(path, encoding="utf-8") as f:
            value = lookup(json.load(f), pointer)
        if not isinstance(value, str):
            sys.exit(f"error: {path} has no string at {pointer}")
        print(value)
        return
    if len(argv) < 4 or argv[0] != "set":
        sys.exit(__doc__.strip().splitlines()[2])
    _, path, version, *pointers = argv
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for pointer in pointers:
        data = json.loads(text)
        old = lookup(data, pointer)
        if not isinstance(old, str):
            sys.exit(f"error: {path} has no string at {pointer}")
        expected = copy.deepcopy(data)
        assign(expected, pointer, version)
        key = parts(pointer)[-1]
        pattern = re.compile(
            "(" + re.escape(json.dumps(key)) + r"\s*:\s*)" + re.escape(json.dumps(old))
        )
        for match in pattern.finditer(text):
            candidate = text[: match.start()] + match.group(1) + json.dumps(version) + text[match.end() :]
            if json.loads(candidate) == expected:
                text = candidate
                break
        else:
            sys.exit(f"error: cannot find {pointer} of {path} in its text")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
