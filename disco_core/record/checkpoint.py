"""Whole-session checkpoints: the machine, every monitor part and the session, as one object.

A `Checkpoint` holds the machine's snapshot (core, fabric, devices), the
monitor's state section (every part, consoles and virtual disks included) and
the session's own section. It serialises to a container of named, versioned,
checksummed, compressed sections (docs/recording-format.md). `restore` is
atomic: it builds a fresh machine and monitor, loads everything into them and
only then swaps them into the session, so a checkpoint that fails anywhere
changes nothing.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from disco_core.errors import DiscoError, SnapshotError
from disco_core.machine import PAGE_RECORD_BYTES, snapshot_pages
from disco_core.monitor import sections
from disco_core.record.format import decode, encode
from disco_core.session import Session

CONTAINER_MAGIC = b"DWCKPT01"
CHECKPOINT_VERSION = 1
# The session's counters a digest covers. The per-VM counters the views show
# (vm_instructions, vm_cycles) are saved and loaded but not digested: they charge a
# run to the vCPU on each CPU at its end, so they depend on where runs are cut
# (a breakpoint armed in a replay cuts them elsewhere).
COUNTED = ("instructions", "cycles", "machine_instructions")
_SECTION_HEAD = struct.Struct("<IQI")  # version, length, CRC32 of the compressed data
PAGE_DTYPE = np.dtype([("index", "<u8"), ("data", "u1", 4096)])
# Two independent odd multipliers per word: a page's 128-bit hash is the wrapped
# sums of its words times each (not cryptographic: it finds changed pages, and
# every checkpoint's digest is checked against the run it came from).
_RNG = np.random.default_rng(0x0D15C0)
_W1 = _RNG.integers(1, 2**63, 512, dtype=np.uint64) | np.uint64(1)
_W2 = _RNG.integers(1, 2**63, 512, dtype=np.uint64) | np.uint64(1)


# ---- the container ---------------------------------------------------------------------------

def pack_sections(parts: list[tuple[str, int, bytes]], level: int = 1) -> bytes:
    """Named, versioned sections, each compressed with its length and CRC32."""
    out = [CONTAINER_MAGIC, struct.pack("<I", len(parts))]
    for name, version, data in parts:
        body = zlib.compress(data, level)
        raw = name.encode()
        out += [struct.pack("<B", len(raw)), raw,
                _SECTION_HEAD.pack(version, len(body), zlib.crc32(body)), body]
    return b"".join(out)


def unpack_sections(blob: bytes) -> dict[str, tuple[int, bytes]]:
    """name -> (version, data); a damaged container is a SnapshotError naming the section."""
    if blob[:8] != CONTAINER_MAGIC:
        raise SnapshotError("not a checkpoint (no DWCKPT01 magic)")
    try:
        (count,) = struct.unpack_from("<I", blob, 8)
        pos = 12
        found: dict[str, tuple[int, bytes]] = {}
        for _ in range(count):
            n = blob[pos]
            name = blob[pos + 1 : pos + 1 + n].decode()
            pos += 1 + n
            version, length, crc = _SECTION_HEAD.unpack_from(blob, pos)
            pos += _SECTION_HEAD.size
            body = blob[pos : pos + length]
            pos += length
            if len(body) != length:
                raise SnapshotError(f"the checkpoint's {name} section is truncated")
            if zlib.crc32(body) != crc:
                raise SnapshotError(f"the checkpoint's {name} section is damaged (CRC32)")
            found[name] = (version, zlib.decompress(body))
    except (struct.error, IndexError, UnicodeDecodeError, zlib.error) as e:
        raise SnapshotError(f"the checkpoint is truncated or damaged ({e})") from None
    return found


def _section(parts: dict[str, tuple[int, bytes]], name: str, version: int) -> bytes:
    if name not in parts:
        raise SnapshotError(f"the checkpoint lacks its {name} section")
    got, data = parts[name]
    if got != version:
        raise SnapshotError(f"the checkpoint's {name} section is version {got}; this "
                            f"workbench reads version {version}")
    return data


# ---- the checkpoint --------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    """A whole session at a point between slices."""

    machine: bytes  # Machine.snapshot()
    monitor: dict[str, Any] | None  # Monitor.state()
    session: dict[str, Any]  # Session.state()

    @property
    def cycles(self) -> int:
        return int(self.session["cycles"])

    def to_bytes(self) -> bytes:
        return pack_sections([("machine", 1, self.machine),
                              ("monitor", 1, encode(self.monitor)),
                              ("session", 1, encode(self.session))])

    @classmethod
    def from_bytes(cls, blob: bytes) -> Checkpoint:
        parts = unpack_sections(blob)
        try:
            monitor = decode(_section(parts, "monitor", 1))
            session = decode(_section(parts, "session", 1))
        except ValueError as e:
            raise SnapshotError(f"the checkpoint's plain-data sections are damaged ({e})") \
                from None
        return cls(_section(parts, "machine", 1), monitor, session)


def capture(session: Session) -> Checkpoint:
    """The session now (call it between slices, from the thread that runs them)."""
    state = session.state()
    m = session.machine
    state["cycles"] = max(c.cycles for c in m.cpus)
    state["machine_instructions"] = sum(c.instructions for c in m.cpus)
    mon = session.monitor
    return Checkpoint(m.snapshot(), mon.state() if mon is not None else None, state)


def restore(session: Session, ckpt: Checkpoint) -> None:
    """Load `ckpt` into `session`, atomically: into a freshly built machine and monitor
    first, swapped in only when everything loaded (SnapshotError otherwise, and the
    session is as it was)."""
    rebuild = session.rebuild
    if rebuild is None and (session.monitor is not None or ckpt.monitor is not None):
        raise DiscoError("this session cannot load checkpoints: only sessions of virtual "
                         "machines (vms_session) know how to build a fresh monitor")
    sec = sections.check(ckpt.session, "session", 1, "vm_instructions", "vm_cycles")
    nvm = len(session.monitor.vms) if session.monitor is not None else 0
    if len(sec["vm_instructions"]) != nvm or len(sec["vm_cycles"]) != nvm:
        raise SnapshotError(f"the checkpoint's session section counts "
                            f"{len(sec['vm_instructions'])} VMs; this session has {nvm}")
    if rebuild is None:
        # A bare machine: nothing beside it to desynchronise, so it loads in place
        # (Machine.restore checks the snapshot before it changes anything).
        session.machine.restore(ckpt.machine)
        session.load_state(ckpt.session)
        return
    core = rebuild()
    try:
        core.machine.restore(ckpt.machine)
        if (core.monitor is None) != (ckpt.monitor is None):
            raise SnapshotError("the checkpoint and the session differ in having a monitor")
        if core.monitor is not None and ckpt.monitor is not None:
            core.monitor.load_state(ckpt.monitor)
    except BaseException:
        core.machine.close()
        for release in core.closers:
            release()
        raise
    session.replace_core(core)
    session.load_state(ckpt.session)


# ---- pages and digests -----------------------------------------------------------------------

def split_snapshot(blob: bytes) -> tuple[bytes, np.ndarray, bytes]:
    """A machine snapshot as (the bytes before the RAM page records, the records, after)."""
    first, count = snapshot_pages(blob)
    pages = np.frombuffer(blob, PAGE_DTYPE, count, first)
    return blob[:first], pages, blob[first + count * PAGE_RECORD_BYTES :]


def join_snapshot(head: bytes, indexes: np.ndarray, data: np.ndarray, tail: bytes) -> bytes:
    """The inverse of split_snapshot, from the page indexes and their (n, 4096) contents."""
    records = np.empty(len(indexes), PAGE_DTYPE)
    records["index"] = indexes
    records["data"] = data
    return head + records.tobytes() + tail


def page_hashes(data: np.ndarray) -> np.ndarray:
    """(n, 2) uint64: a hash of each of the (n, 4096) pages."""
    words = np.ascontiguousarray(data).view(np.uint64).reshape(len(data), 512)
    with np.errstate(over="ignore"):
        return np.stack([(words * _W1).sum(axis=1, dtype=np.uint64),
                         (words * _W2).sum(axis=1, dtype=np.uint64)], axis=1)


def _crc(data: bytes) -> int:
    return zlib.crc32(data)


def machine_parts(blob: bytes) -> dict[str, int]:
    """The CRC32s of a machine snapshot's parts: its header, each CPU, RAM, the rest."""
    head, pages, tail = split_snapshot(blob)
    arch = int.from_bytes(head[16 + 12 : 16 + 16], "little")
    ncpus = int.from_bytes(head[16 + 16 : 16 + 20], "little")
    cpus_at = len(head) - 8 - ncpus * arch
    parts = {"machine header": _crc(head[:cpus_at])}
    for i in range(ncpus):
        parts[f"cpu{i}'s registers"] = _crc(head[cpus_at + i * arch : cpus_at + (i + 1) * arch])
    parts["RAM"] = _crc(pages.tobytes())
    parts["the fabric and devices"] = _crc(tail)
    return parts


class EncodeCache:
    """The last encoding of a part: one equal to the one before (a compare in C) is not
    encoded again (between two of a recording's checkpoints most VMs' consoles and
    disks have not changed). Only for parts built of fresh, immutable values."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[Any, bytes]] = {}

    def encode(self, name: str, value: Any) -> bytes:
        last = self._last.get(name)
        if last is not None and last[0] == value:
            return last[1]
        data = encode(value)
        self._last[name] = (value, data)
        return data


def encode_monitor(mon: dict[str, Any], cache: EncodeCache | None = None,
                   without_consoles: bool = False) -> tuple[bytes, dict[str, int]]:
    """The monitor section as plain-data bytes, and a CRC32 per part a user can name,
    from one encoding of each part. The event log's part covers its counters (how many
    events of each kind, the sequence number), not the events held (a recording keeps
    those incrementally). With `without_consoles`, the bytes hold every VM's console
    output empty (a recording keeps it incrementally too); the CRCs cover it all."""
    crcs: dict[str, int] = {}
    vms = []
    enc = cache.encode if cache is not None else (lambda _name, value: encode(value))
    for i, vs in enumerate(mon["vms"]):
        # Only a VM's own part (its consoles and disks, the bulk) is cached: VM.save_state
        # builds it of fresh immutable values, so the copy kept for the compare cannot
        # change under the cache.
        encoded = {key: enc(f"vm{i}", value) if key == "vm" else encode(value)
                   for key, value in vs.items()}
        for key, label in (("vcpus", "registers"), ("pmap", "pmap"),
                           ("vm", "console and disks"), ("stats", "statistics")):
            crcs[f"vm{i}'s {label}"] = _crc(encoded[key])
        if without_consoles:
            encoded["vm"] = enc(f"vm{i} stored", without_console(vs["vm"]))
        vms.append(_object(encoded))
    top: dict[str, bytes] = {}
    for key, value in mon.items():
        if key == "vms":
            top[key] = b"[" + b",".join(vms) + b"]"
            continue
        top[key] = encode(value)
        if key == "events":
            counters = {k: v for k, v in value.items() if k != "events"}
            crcs["the monitor's events"] = _crc(encode(counters))
        else:
            crcs[f"the monitor's {key}"] = _crc(top[key])
    return _object(top), crcs


def without_console(vm: dict[str, Any]) -> dict[str, Any]:
    """A VM's own part (VM.save_state) with its console output left out."""
    return {**vm, "console_out": b""}


def _object(encoded: dict[str, bytes]) -> bytes:
    """A JSON object from already encoded values."""
    return b"{" + b",".join(encode(k) + b":" + v for k, v in encoded.items()) + b"}"


def session_parts(session: dict[str, Any]) -> dict[str, int]:
    # The loop's flags (running, paused at a breakpoint) are the viewer's, not the guests'.
    counters = {k: session.get(k) for k in COUNTED}
    return {"the session's counters": _crc(encode(counters))}


def digest_parts(ckpt: Checkpoint) -> dict[str, int]:
    """A CRC32 per part a user can name: each CPU's registers, RAM, the fabric, each VM's
    registers, pmap, console and statistics, the other monitor parts, the session."""
    parts = machine_parts(ckpt.machine)
    if ckpt.monitor is not None:
        parts.update(encode_monitor(ckpt.monitor)[1])
    parts.update(session_parts(ckpt.session))
    return parts


def differences(a: dict[str, int], b: dict[str, int]) -> list[str]:
    """The names of the parts whose CRCs differ."""
    return [k for k in a if a.get(k) != b.get(k)] + [k for k in b if k not in a]


def differing_pages(a: bytes, b: bytes) -> int:
    """How many RAM pages differ between two machine snapshots."""
    _h, pa, _t = split_snapshot(a)
    _h, pb, _t = split_snapshot(b)
    ha = dict(zip(pa["index"].tolist(), map(tuple, page_hashes(pa["data"]).tolist()),
                  strict=True))
    hb = dict(zip(pb["index"].tolist(), map(tuple, page_hashes(pb["data"]).tolist()),
                  strict=True))
    return sum(ha.get(k) != hb.get(k) for k in ha.keys() | hb.keys())
