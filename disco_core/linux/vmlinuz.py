"""Loading a Linux kernel for MIPS: a distribution's self-decompressing
`vmlinuz` (zboot) or a plain `vmlinux` ELF.

A zboot image is a small ELF (the decompressor) whose data holds the kernel
as an xz stream of `vmlinux.bin`, the raw binary. Running the decompressor in
the guest costs about 2 G instructions, so the host decompresses it with
lzma. Two numbers are needed to place and start the raw binary, and the image
keeps both without a symbol table:

- the load address: Linux's build puts the decompressor right after the
  kernel, at load address + size of vmlinux.bin rounded up to the next 64 KiB
  (arch/mips/boot/compressed/calc_vmlinuz_load_addr.c), so load address =
  decompressor's address - that rounded size; the decompressor must also
  name it (a `lui` of its upper half), which is checked;
- the entry: the decompressor's head ends with `li t9, KERNEL_ENTRY;
  jalr t9`, the one jump through t9 to an address inside the kernel.

The zboot's first program header is PT_MIPS_ABIFLAGS, not code: only PT_LOAD
segments are loaded (disco_core.elf does so).
"""

from __future__ import annotations

import lzma
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from disco_core.elf import load_elf
from disco_core.errors import DiscoError

XZ_MAGIC = b"\xfd7zXZ\x00"
KSEG0 = 0x80000000
T9 = 25


class KernelError(DiscoError):
    """A file that is not a MIPS Linux kernel this loader understands."""


@dataclass(frozen=True)
class KernelImage:
    """A kernel ready to copy into RAM: (physical address, bytes) chunks and the entry."""

    chunks: list[tuple[int, bytes]]
    entry: int
    kind: str  # "vmlinuz (xz payload)" or "vmlinux ELF"

    @property
    def end(self) -> int:
        """The first physical byte after the loaded image (its bss is not counted
        for a zboot payload: the kernel clears it itself, so keep clear of it)."""
        return max(pa + len(data) for pa, data in self.chunks)


def physical(addr: int) -> int:
    return addr & 0x1FFFFFFF if KSEG0 <= addr < 0xC0000000 else addr


def _xz_payload(raw: bytes) -> tuple[int, bytes] | None:
    """The first xz stream in the file that decodes: (file offset, contents)."""
    at = raw.find(XZ_MAGIC)
    while at >= 0:
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        try:
            out = dec.decompress(raw[at:])
            if dec.eof:
                return at, out
        except lzma.LZMAError:
            pass
        at = raw.find(XZ_MAGIC, at + 1)
    return None


def _words(code: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(code) // 4}I", code[: len(code) // 4 * 4]))


def _t9_targets(code: bytes) -> list[int]:
    """Addresses loaded into t9 by lui + ori/addiu and then jumped to (jr/jalr t9)."""
    out = []
    t9: int | None = None
    for w in _words(code):
        op, rs, rt = w >> 26, (w >> 21) & 31, (w >> 16) & 31
        imm = w & 0xFFFF
        if op == 0x0F and rt == T9:                      # lui t9, hi
            t9 = imm << 16
        elif op == 0x0D and rs == rt == T9 and t9 is not None:   # ori t9, t9, lo
            t9 |= imm
        elif op == 0x09 and rs == rt == T9 and t9 is not None:   # addiu t9, t9, lo
            t9 = (t9 + (imm - 0x10000 if imm & 0x8000 else imm)) & 0xFFFFFFFF
        elif op == 0 and rs == T9 and (w & 0x3F) in (0x08, 0x09) and t9 is not None:
            out.append(t9)                               # jr t9 / jalr t9
    return out


def _lui_values(code: bytes) -> set[int]:
    return {(w & 0xFFFF) << 16 for w in _words(code) if w >> 26 == 0x0F}


def load_kernel(path: str | os.PathLike[str]) -> KernelImage:
    """Read a vmlinuz (zboot, xz payload) or a vmlinux ELF and place it."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise KernelError(f"cannot read the kernel {p}: {e.strerror or e}") from None
    image = load_elf(raw)  # raises ElfError for anything that is not a MIPS ELF
    payload = _xz_payload(raw)
    if payload is None:
        chunks = [(physical(s.paddr), s.data + bytes(s.memsz - len(s.data)))
                  for s in image.segments]
        return KernelImage(chunks, image.entry, "vmlinux ELF")
    _, binary = payload
    zstart = min(s.vaddr for s in image.segments)
    code = b"".join(s.data for s in image.segments if s.executable)
    rounded = len(binary) + (0x10000 - len(binary) % 0x10000)
    load = zstart - rounded
    if load < KSEG0 or (load & 0xFFFF0000) not in _lui_values(code):
        raise KernelError(f"{p.name}: the decompressor does not name the load address "
                          f"0x{load:08x} its placement implies; not a Linux zboot image")
    entries = [t for t in _t9_targets(code) if load <= t < load + len(binary)]
    if len(set(entries)) != 1:
        raise KernelError(f"{p.name}: cannot find the kernel entry in the decompressor "
                          f"({len(set(entries))} candidates)")
    return KernelImage([(physical(load), binary)], entries[0], "vmlinuz (xz payload)")
