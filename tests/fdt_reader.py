"""A reader of flattened device trees (Devicetree Specification v0.4 chapter 5) for
the tests: the whole tree as nested dicts, properties as bytes."""

from __future__ import annotations

import struct

MAGIC = 0xD00D_FEED


def read(blob: bytes) -> dict:
    """{"props": {name: bytes}, "children": {name: node}} of the root; checks the header."""
    (magic, total, off_struct, off_strings, off_rsvmap, version, last_compatible, _,
     size_strings, size_struct) = struct.unpack_from(">10I", blob)
    assert magic == MAGIC and total == len(blob), "header: magic or totalsize"
    assert (version, last_compatible) == (17, 16)
    assert struct.unpack_from(">QQ", blob, off_rsvmap) == (0, 0), "reserve map: not empty"
    assert off_strings + size_strings <= total and off_struct + size_struct <= off_strings
    strings = blob[off_strings:off_strings + size_strings]
    pos = off_struct
    stack: list[dict] = []
    root = None
    while True:
        (token,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if token == 1:  # FDT_BEGIN_NODE
            end = blob.index(b"\0", pos)
            name = blob[pos:end].decode()
            pos = (end + 4) & ~3
            node = {"props": {}, "children": {}}
            if stack:
                assert name not in stack[-1]["children"], f"two nodes named {name}"
                stack[-1]["children"][name] = node
            else:
                assert name == "" and root is None
                root = node
            stack.append(node)
        elif token == 3:  # FDT_PROP
            length, nameoff = struct.unpack_from(">II", blob, pos)
            pos += 8
            name = strings[nameoff:strings.index(b"\0", nameoff)].decode()
            stack[-1]["props"][name] = blob[pos:pos + length]
            pos = (pos + length + 3) & ~3
        elif token == 2:  # FDT_END_NODE
            stack.pop()
        elif token == 9:  # FDT_END
            assert not stack, "FDT_END inside a node"
            assert pos == off_struct + size_struct
            return root
        else:
            raise AssertionError(f"unknown token {token} at {pos - 4}")


def cells(value: bytes) -> list[int]:
    return [c for (c,) in struct.iter_unpack(">I", value)]


def strings(value: bytes) -> list[str]:
    assert value.endswith(b"\0")
    return value[:-1].decode().split("\0")


def node(tree: dict, path: str) -> dict:
    for part in path.strip("/").split("/"):
        if part:
            tree = tree["children"][part]
    return tree
