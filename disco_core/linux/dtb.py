"""Flattened device trees (the DTB format of the Devicetree Specification v0.4,
chapter 5): a small node model, a writer and a reader, and `machine_tree()`,
which describes a Linux machine from its configuration.

Only what a DTB holds is modelled: nodes with names, properties with byte
values, and phandles as plain u32 properties. Labels are resolved by the
caller (machine_tree() numbers its phandles itself).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from disco_core.errors import DiscoError

MAGIC = 0xD00DFEED
VERSION = 17
LAST_COMPATIBLE = 16
HEADER_SIZE = 40

FDT_BEGIN_NODE = 1
FDT_END_NODE = 2
FDT_PROP = 3
FDT_NOP = 4
FDT_END = 9


class DtbError(DiscoError):
    """A device tree blob that is damaged or not one."""


def cells(*values: int) -> bytes:
    """Big-endian 32-bit cells, the way every number in a DTB is written."""
    return b"".join(struct.pack(">I", v & 0xFFFFFFFF) for v in values)


def string(*values: str) -> bytes:
    """One string, or a string list (each NUL-terminated)."""
    return b"".join(v.encode() + b"\0" for v in values)


@dataclass
class Node:
    """A device tree node: properties in insertion order, then child nodes."""

    name: str
    props: dict[str, bytes] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    def child(self, name: str, **props: bytes) -> Node:
        node = Node(name, dict(props))
        self.children.append(node)
        return node

    def find(self, path: str) -> Node | None:
        """The node at a path such as ``/cpus/cpu@0`` (from this node)."""
        node: Node | None = self
        for part in [p for p in path.split("/") if p]:
            assert node is not None
            node = next((c for c in node.children if c.name == part), None)
            if node is None:
                return None
        return node

    def u32(self, prop: str, index: int = 0) -> int:
        return int(struct.unpack_from(">I", self.props[prop], 4 * index)[0])

    def text(self, prop: str) -> str:
        return self.props[prop].rstrip(b"\0").decode()


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 4)


def to_dtb(root: Node, *, reserved: Sequence[tuple[int, int]] = (),
           boot_cpu: int = 0) -> bytes:
    """The blob of a tree, with a memory reservation map of (address, size) pairs."""
    strings = bytearray()
    offsets: dict[str, int] = {}
    struct_block = bytearray()

    def name_offset(name: str) -> int:
        if name not in offsets:
            offsets[name] = len(strings)
            strings.extend(name.encode() + b"\0")
        return offsets[name]

    def emit(node: Node) -> None:
        struct_block.extend(cells(FDT_BEGIN_NODE) + _pad(node.name.encode() + b"\0"))
        for prop, value in node.props.items():
            struct_block.extend(cells(FDT_PROP, len(value), name_offset(prop)) + _pad(value))
        for c in node.children:
            emit(c)
        struct_block.extend(cells(FDT_END_NODE))

    emit(root)
    struct_block.extend(cells(FDT_END))
    rsv = b"".join(struct.pack(">QQ", a, s) for a, s in reserved) + bytes(16)
    off_rsv = HEADER_SIZE + (-HEADER_SIZE % 8)
    off_struct = off_rsv + len(rsv)
    off_strings = off_struct + len(struct_block)
    total = off_strings + len(strings)
    header = struct.pack(">10I", MAGIC, total, off_struct, off_strings, off_rsv, VERSION,
                         LAST_COMPATIBLE, boot_cpu, len(strings), len(struct_block))
    blob = header + bytes(off_rsv - HEADER_SIZE) + rsv + bytes(struct_block) + bytes(strings)
    return blob + bytes(-len(blob) % 8)


def from_dtb(blob: bytes) -> tuple[Node, list[tuple[int, int]]]:
    """Parse a blob back: the root node and the memory reservation map."""
    if len(blob) < HEADER_SIZE:
        raise DtbError(f"a device tree blob has a {HEADER_SIZE}-byte header; this has "
                       f"{len(blob)} bytes")
    (magic, total, off_struct, off_strings, off_rsv, version, _last, _cpu, size_strings,
     size_struct) = struct.unpack_from(">10I", blob)
    if magic != MAGIC:
        raise DtbError(f"not a device tree blob (magic 0x{magic:08x}, expected 0x{MAGIC:08x})")
    if total > len(blob) or off_struct + size_struct > total or off_strings + size_strings > total:
        raise DtbError(f"the device tree blob is truncated ({len(blob)} bytes, header says "
                       f"{total})")
    if version < LAST_COMPATIBLE:
        raise DtbError(f"device tree version {version} is older than {LAST_COMPATIBLE}")
    reserved = []
    pos = off_rsv
    while True:
        addr, size = struct.unpack_from(">QQ", blob, pos)
        pos += 16
        if addr == 0 and size == 0:
            break
        reserved.append((addr, size))
    strings = blob[off_strings:off_strings + size_strings]
    pos = off_struct
    end = off_struct + size_struct
    stack: list[Node] = []
    root: Node | None = None
    while pos < end:
        (token,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if token == FDT_BEGIN_NODE:
            nul = blob.index(b"\0", pos)
            node = Node(blob[pos:nul].decode())
            pos = nul + 1
            pos += -(pos - off_struct) % 4
            if stack:
                stack[-1].children.append(node)
            elif root is None:
                root = node
            else:
                raise DtbError("the device tree has two root nodes")
            stack.append(node)
        elif token == FDT_PROP:
            if not stack:
                raise DtbError("a property outside every node")
            length, nameoff = struct.unpack_from(">II", blob, pos)
            pos += 8
            nul = strings.index(b"\0", nameoff)
            stack[-1].props[strings[nameoff:nul].decode()] = bytes(blob[pos:pos + length])
            pos += length + (-length % 4)
        elif token == FDT_END_NODE:
            if not stack:
                raise DtbError("an end of node with no node open")
            stack.pop()
        elif token == FDT_NOP:
            continue
        elif token == FDT_END:
            break
        else:
            raise DtbError(f"unknown device tree token {token} at byte {pos - 4}")
    if root is None or stack:
        raise DtbError("the device tree's structure block is incomplete")
    return root, reserved
