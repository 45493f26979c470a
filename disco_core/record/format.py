"""The recording file: a magic, then append-only checksummed chunks (docs/recording-format.md).

Every chunk is written whole and flushed, so a recording whose writer was killed
is readable up to its last complete chunk. Payloads are plain data (JSON with
bytes as base64) or binary checkpoint containers, zlib-compressed.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from disco_core.errors import DiscoError

MAGIC = b"DWREC\r\n\x1a"  # a text-mode copy or a truncated download shows up at once
FORMAT_VERSION = 2  # 2: the consoles' output kept incrementally in a CKPT's `consoles`
READABLE_VERSIONS = (1, 2)
_FILE_HEAD = struct.Struct("<8sI")
_CHUNK_HEAD = struct.Struct("<4sI")  # kind, payload length
_CRC = struct.Struct("<I")
MAX_CHUNK = 1 << 30  # a length above this is damage, not data

# Chunk kinds, in the order a recording has them.
HEAD = b"HEAD"  # the header: format version, build identity, configuration
OPS = b"OPS "  # a batch of operations (runs, inputs) in order
CKPT = b"CKPT"  # a checkpoint (checkpoint.py's container)
END = b"END "  # the recording was closed: its length and final digest
KINDS = (HEAD, OPS, CKPT, END)


class RecordingError(DiscoError):
    """A recording that cannot be read or replayed; the message names the problem."""


# ---- plain data --------------------------------------------------------------------------

def _bytes_out(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not plain data")


def _bytes_in(obj: dict[str, Any]) -> object:
    if len(obj) == 1 and "$b" in obj:
        return base64.b64decode(obj["$b"])
    return obj


def encode(value: object) -> bytes:
    """Plain data (dicts with str keys, lists, ints, floats, str, bytes, bools, None)."""
    return json.dumps(value, default=_bytes_out, separators=(",", ":")).encode()


def decode(data: bytes) -> Any:
    return json.loads(data, object_hook=_bytes_in)


# ---- writing ---------------------------------------------------------------------------------

class ChunkWriter:
    """Appends chunks to a recording file, each flushed as soon as it is whole."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._f: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 (kept open)
        self._f.write(_FILE_HEAD.pack(MAGIC, FORMAT_VERSION))
        self.size = _FILE_HEAD.size
        self._f.flush()

    def write(self, kind: bytes, payload: bytes, level: int = 1) -> int:
        """Append one chunk (compressed at zlib `level`); its offset in the file."""
        if self._f is None:
            raise RecordingError(f"{self.path}: the recording is closed")
        body = zlib.compress(payload, level)
        head = _CHUNK_HEAD.pack(kind, len(body))
        crc = zlib.crc32(body, zlib.crc32(head))
        at = self.size
        self._f.write(head + body + _CRC.pack(crc))
        self._f.flush()
        self.size += len(head) + len(body) + _CRC.size
        return at

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


# ---- reading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Chunk:
    kind: bytes
    offset: int
    body: bytes  # compressed

    def payload(self) -> bytes:
        try:
            return zlib.decompress(self.body)
        except zlib.error:
            raise RecordingError(f"the {self.kind.decode().strip()} chunk at byte "
                                 f"{self.offset} does not decompress (corrupt)") from None


@dataclass(frozen=True)
class Chunks:
    """Every complete chunk of a file, and where a cut-short file stops."""

    chunks: list[Chunk]
    size: int
    cut_at: int | None  # the end of the last complete chunk when the rest is cut short


def read_chunks(path: str | Path) -> Chunks:
    """The file's chunks, checked: a wrong magic or version, a bad checksum or an unknown
    kind is a RecordingError; a last chunk cut short ends the list (`cut_at`)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise RecordingError(f"{p}: {e.strerror}") from None
    if len(data) < _FILE_HEAD.size or data[:8] != MAGIC:
        raise RecordingError(f"{p}: not a Disco Workbench recording (no DWREC magic)")
    (version,) = struct.unpack_from("<I", data, 8)
    if version not in READABLE_VERSIONS:
        raise RecordingError(f"{p}: recording format version {version}; this workbench "
                             f"reads versions {', '.join(map(str, READABLE_VERSIONS))} only")
    pos = _FILE_HEAD.size
    chunks: list[Chunk] = []
    while pos < len(data):
        if pos + _CHUNK_HEAD.size > len(data):
            return Chunks(chunks, len(data), pos)
        kind, n = _CHUNK_HEAD.unpack_from(data, pos)
        if kind not in KINDS or n > MAX_CHUNK:
            raise RecordingError(f"{p}: corrupt at byte {pos} (no chunk starts there)")
        end = pos + _CHUNK_HEAD.size + n + _CRC.size
        if end > len(data):
            return Chunks(chunks, len(data), pos)
        body = data[pos + _CHUNK_HEAD.size : end - _CRC.size]
        (crc,) = _CRC.unpack_from(data, end - _CRC.size)
        if zlib.crc32(body, zlib.crc32(data[pos : pos + _CHUNK_HEAD.size])) != crc:
            raise RecordingError(f"{p}: corrupt at byte {pos} (the {kind.decode().strip()} "
                                 "chunk's checksum does not match)")
        chunks.append(Chunk(kind, pos, body))
        pos = end
    return Chunks(chunks, len(data), None)


def build_identity() -> dict[str, str]:
    """What a replay must run on to be bit-exact: hashes of the C core and the guest kernel."""
    import hashlib

    from disco_core.kernel import build_kernel
    from disco_core.machine import core_build_id

    kernel = build_kernel("disco").read_bytes()
    return {"core": core_build_id(), "kernel": hashlib.sha256(kernel).hexdigest()[:16]}
