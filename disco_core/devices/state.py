"""Device state as bytes: the writer and reader behind every device's snapshot()/restore().

A device's state starts with a four-byte tag and a version, so a blob from
another device (or another layout) is refused instead of misread.
"""

from __future__ import annotations

import struct

from disco_core.errors import SnapshotError


class StateWriter:
    def __init__(self, tag: bytes, version: int) -> None:
        self._parts: list[bytes] = [tag, struct.pack("<I", version)]

    def u32(self, *values: int) -> StateWriter:
        self._parts.append(struct.pack(f"<{len(values)}I", *(v & 0xFFFFFFFF for v in values)))
        return self

    def u64(self, *values: int) -> StateWriter:
        self._parts.append(struct.pack(f"<{len(values)}Q", *values))
        return self

    def blob(self, data: bytes | bytearray) -> StateWriter:
        self._parts += [struct.pack("<Q", len(data)), bytes(data)]
        return self

    def blobs(self, items: list[bytes]) -> StateWriter:
        self.u32(len(items))
        for item in items:
            self.blob(item)
        return self

    def bytes(self) -> bytes:
        return b"".join(self._parts)


class StateReader:
    """Reads what a StateWriter wrote; any mismatch raises SnapshotError."""

    def __init__(self, data: bytes, tag: bytes, version: int, what: str) -> None:
        self._data = bytes(data)
        self._pos = 0
        self._what = what
        if self._data[:4] != tag:
            raise self.fail(f"it does not start with the tag {tag!r}")
        self._pos = 4
        (found,) = self._take("<I")
        if found != version:
            raise self.fail(f"it has layout version {found}, this device reads version {version}")

    def fail(self, why: str) -> SnapshotError:
        return SnapshotError(f"{self._what} state refused: {why}")

    def _take(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self._pos + size > len(self._data):
            raise self.fail("it is truncated")
        values = struct.unpack_from(fmt, self._data, self._pos)
        self._pos += size
        return values

    def u32(self, n: int = 1) -> tuple[int, ...]:
        return self._take(f"<{n}I")

    def u64(self, n: int = 1) -> tuple[int, ...]:
        return self._take(f"<{n}Q")

    def blob(self, limit: int = 1 << 40) -> bytes:
        (n,) = self._take("<Q")
        if n > limit or self._pos + n > len(self._data):
            raise self.fail("a field's length is impossible")
        data = self._data[self._pos : self._pos + n]
        self._pos += n
        return data

    def blobs(self, limit: int = 1 << 40) -> list[bytes]:
        (count,) = self.u32()
        return [self.blob(limit) for _ in range(count)]

    def end(self) -> None:
        if self._pos != len(self._data):
            raise self.fail(f"{len(self._data) - self._pos} bytes are left over")
