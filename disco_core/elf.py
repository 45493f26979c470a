"""ELF images of guest programs: validation, loadable segments, symbols and lines.

Built on pyelftools. Bad input (not an ELF, the wrong machine, a truncated
file) raises ElfError with a one-line message; pyelftools' own exceptions never
escape.
"""

from __future__ import annotations

import bisect
import io
import logging
import os
import posixpath
import struct
from dataclasses import dataclass, field

from disco_core.errors import ElfError

log = logging.getLogger(__name__)

EM_MIPS = 8
ELFCLASS32 = 1
ELFDATA2LSB = 1
ET_EXEC = 2
PT_LOAD = 1

# Segment flags (p_flags).
PF_X = 1
PF_W = 2
PF_R = 4

# e_machine values a user is likely to hand us by mistake, for the message.
MACHINE_NAMES = {
    2: "SPARC",
    3: "x86",
    8: "MIPS",
    20: "PowerPC",
    21: "PowerPC64",
    22: "S/390",
    40: "ARM",
    43: "SPARC V9",
    62: "x86-64",
    183: "AArch64",
    243: "RISC-V",
    258: "LoongArch",
}

ELF_TYPE_NAMES = {
    0: "an ELF of no type (ET_NONE)",
    1: "a relocatable object (ET_REL)",
    3: "a shared object or position-independent executable (ET_DYN)",
    4: "a core dump (ET_CORE)",
}

KIND_RANK = {"func": 0, "object": 1, "notype": 2}

TARGET = "32-bit little-endian MIPS (EM_MIPS, ELFCLASS32, ELFDATA2LSB)"


@dataclass(frozen=True)
class Segment:
    """A PT_LOAD segment: ``data`` is its file image, zero-filled up to ``memsz``."""

    vaddr: int
    paddr: int
    data: bytes
    memsz: int
    flags: int

    @property
    def executable(self) -> bool:
        return bool(self.flags & PF_X)


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    size: int
    kind: str  # "func", "object" or "notype" (assembly labels)


@dataclass(frozen=True)
class _LineSpan:
    start: int
    end: int
    file: str
    line: int


@dataclass
class ElfImage:
    """A validated executable for the simulated machine."""

    entry: int
    segments: list[Segment]
    symbols: list[Symbol]
    name: str = "<elf>"
    _raw: bytes = field(default=b"", repr=False)
    _starts: list[int] = field(default_factory=list, repr=False)
    _by_name: dict[str, Symbol] = field(default_factory=dict, repr=False)
    _lines: list[_LineSpan] | None = field(default=None, repr=False)
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.symbols.sort(key=lambda s: (s.address, s.name))
        self._starts = [s.address for s in self.symbols]
        for sym in self.symbols:
            # Prefer a function or object over an assembly label of the same name.
            if sym.name not in self._by_name or self._by_name[sym.name].kind == "notype":
                self._by_name[sym.name] = sym

    def address_of(self, name: str) -> int:
        """The address of the symbol ``name``; KeyError if the program has none."""
        try:
            return self._by_name[name].address
        except KeyError:
            raise KeyError(f"{self.name} has no symbol named {name!r}") from None

    def symbol_at(self, addr: int) -> tuple[str, int] | None:
        """The symbol containing ``addr`` and the offset into it, or None."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        # Several names may share the nearest address (a function and a linker-script
        # label): functions win over data, data over bare labels.
        lo = bisect.bisect_left(self._starts, self._starts[i])
        for sym in sorted(self.symbols[lo : i + 1], key=lambda s: KIND_RANK[s.kind]):
            if sym.size:
                if addr < sym.address + sym.size:
                    return sym.name, addr - sym.address
            elif self._in_segment(sym.address, addr):
                # A label without a size runs until the next symbol, within its segment.
                return sym.name, addr - sym.address
        return None

    def _in_segment(self, a: int, b: int) -> bool:
        return any(
            s.vaddr <= a < s.vaddr + s.memsz and s.vaddr <= b < s.vaddr + s.memsz
            for s in self.segments
        )

    def line_for(self, addr: int) -> tuple[str, int] | None:
        """The (source file, line) that ``addr`` was compiled from, if there is DWARF."""
        if self._lines is None:
            # Functions the linker dropped keep their line tables at address 0 and
            # up; only spans inside loaded code are real.
            self._lines = [
                span for span in _read_lines(self._raw, self.name)
                if any(s.vaddr <= span.start < s.vaddr + s.memsz
                       for s in self.segments if s.executable)
            ]
            self._line_starts = [span.start for span in self._lines]
        i = bisect.bisect_right(self._line_starts, addr) - 1
        if i < 0:
            return None
        span = self._lines[i]
        if addr >= span.end:
            return None
        return span.file, span.line


def load_elf(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> ElfImage:
    """Read and validate an executable for the simulated machine.

    ``source`` is a path or the file's bytes. Raises ElfError, with a message
    naming the file and what is wrong with it, for anything that is not a
    loadable 32-bit little-endian MIPS executable.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw, name = bytes(source), "<bytes>"
    else:
        name = os.fspath(source)
        try:
            with open(name, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise ElfError(f"cannot read {name}: {e.strerror or e}") from None
    _check_ident(raw, name)

    try:
        image = _parse(raw, name)
    except ElfError:
        raise
    except Exception as e:  # pyelftools raises many kinds on damaged files
        raise ElfError(f"{name} is a truncated or corrupt ELF file ({_describe(e)})") from None
    return image


def _describe(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _check_ident(raw: bytes, name: str) -> None:
    """Reject non-ELF files and other machines before pyelftools sees them."""
    if not raw:
        raise ElfError(f"{name} is not an ELF file (it is empty)")
    if raw[:4] != b"\x7fELF":
        raise ElfError(f"{name} is not an ELF file (starts with {raw[:8]!r})")
    if len(raw) < 20 or (raw[4] == ELFCLASS32 and len(raw) < 52):
        raise _truncated_header(name, len(raw))
    ei_class, ei_data = raw[4], raw[5]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise ElfError(
            f"{name} is a corrupt ELF file (class {ei_class}, data encoding {ei_data}); "
            f"Disco Workbench runs {TARGET}"
        )
    machine = struct.unpack_from("<H" if ei_data == 1 else ">H", raw, 18)[0]
    if (ei_class, ei_data, machine) != (ELFCLASS32, ELFDATA2LSB, EM_MIPS):
        bits = 32 if ei_class == 1 else 64
        order = "" if ei_data == 1 else "big-endian "
        arch = MACHINE_NAMES.get(machine, f"machine {machine}")
        raise ElfError(f"{name} is a {bits}-bit {order}{arch} ELF; Disco Workbench runs {TARGET}")


def _truncated_header(name: str, size: int) -> ElfError:
    return ElfError(f"{name} is a truncated ELF file ({size} bytes, shorter than its header)")


def _parse(raw: bytes, name: str) -> ElfImage:
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(raw))
    header = elf.header
    e_type = elf["e_type"]
    type_number = {"ET_NONE": 0, "ET_REL": 1, "ET_EXEC": 2, "ET_DYN": 3, "ET_CORE": 4}.get(e_type)
    if type_number != ET_EXEC:
        what = ELF_TYPE_NAMES.get(type_number, f"an ELF of type {e_type}")  # type: ignore[arg-type]
        raise ElfError(f"{name} is {what}, not an executable (ET_EXEC); link it first")

    phend = header["e_phoff"] + header["e_phnum"] * header["e_phentsize"]
    if header["e_phnum"] and phend > len(raw):
        raise ElfError(
            f"{name} is a truncated ELF file: its program headers end at byte {phend}, "
            f"the file has {len(raw)}"
        )
    segments = []
    for ph in elf.iter_segments():
        if ph["p_type"] != "PT_LOAD" or ph["p_memsz"] == 0:
            continue
        off, filesz, memsz = ph["p_offset"], ph["p_filesz"], ph["p_memsz"]
        if off + filesz > len(raw):
            raise ElfError(
                f"{name} is a truncated ELF file: a segment at {ph['p_vaddr']:#010x} needs "
                f"bytes {off}..{off + filesz}, the file has {len(raw)}"
            )
        if filesz > memsz:
            raise ElfError(
                f"{name} is a corrupt ELF file: the segment at {ph['p_vaddr']:#010x} has more "
                f"file bytes ({filesz}) than memory bytes ({memsz})"
            )
        segments.append(
            Segment(ph["p_vaddr"], ph["p_paddr"], raw[off : off + filesz], memsz, ph["p_flags"])
        )
    if not segments:
        raise ElfError(f"{name} has no loadable segments (PT_LOAD): there is nothing to run")

    return ElfImage(
        entry=header["e_entry"],
        segments=segments,
        symbols=_read_symbols(elf),
        name=name,
        _raw=raw,
    )


def _read_symbols(elf) -> list[Symbol]:  # type: ignore[no-untyped-def]
    from elftools.elf.sections import SymbolTableSection

    kinds = {"STT_FUNC": "func", "STT_OBJECT": "object", "STT_NOTYPE": "notype"}
    symbols = []
    for section in elf.iter_sections():
        if not isinstance(section, SymbolTableSection) or section.name != ".symtab":
            continue
        for sym in section.iter_symbols():
            kind = kinds.get(sym["st_info"]["type"])
            shndx = sym["st_shndx"]
            # Skip undefined and absolute symbols (e.g. _gp), assembler temporaries
            # and local labels: none of them name code or data a user wrote.
            if kind is None or not sym.name or shndx in ("SHN_UNDEF", "SHN_ABS"):
                continue
            if sym.name.startswith(("$", ".L")):
                continue
            symbols.append(Symbol(sym.name, sym["st_value"], sym["st_size"], kind))
    return symbols


def _read_lines(raw: bytes, name: str) -> list[_LineSpan]:
    """Address spans of the DWARF line tables, sorted; empty without debug info."""
    from elftools.elf.elffile import ELFFile

    spans: list[_LineSpan] = []
    try:
        elf = ELFFile(io.BytesIO(raw))
        if not elf.has_dwarf_info():
            return []
        dwarf = elf.get_dwarf_info()
        for cu in dwarf.iter_CUs():
            program = dwarf.line_program_for_CU(cu)
            if program is None:
                continue
            files = _file_names(program, cu)
            prev = None
            for entry in program.get_entries():
                state = entry.state
                if state is None:
                    continue
                if prev is not None and state.address > prev.address:
                    file = files.get(prev.file, f"<file {prev.file}>")
                    spans.append(_LineSpan(prev.address, state.address, file, prev.line))
                prev = None if state.end_sequence else state
    except Exception as e:  # damaged debug info must not stop a program from loading
        log.warning("%s: ignoring unreadable DWARF line tables (%s)", name, _describe(e))
        return []
    spans.sort(key=lambda s: s.start)
    return spans


def _file_names(program, cu) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """DWARF file index -> path, joined with its include directory."""
    header = program.header
    top = cu.get_top_DIE()
    comp_dir_attr = top.attributes.get("DW_AT_comp_dir")
    comp_dir = comp_dir_attr.value.decode(errors="replace") if comp_dir_attr else ""
    dirs = [d.decode(errors="replace") for d in header["include_directory"]]
    # DWARF 5 numbers files and directories from 0 (entry 0 is the CU itself);
    # earlier versions from 1, with directory 0 meaning the compilation directory.
    v5 = header["version"] >= 5
    names = {}
    for i, entry in enumerate(header["file_entry"]):
        index = i if v5 else i + 1
        file = entry.name.decode(errors="replace")
        d = entry.dir_index
        if v5:
            directory = dirs[d] if d < len(dirs) else ""
        else:
            directory = dirs[d - 1] if 0 < d <= len(dirs) else comp_dir
        path = posixpath.join(directory, file) if directory else file
        if not posixpath.isabs(path) and comp_dir:
            path = posixpath.join(comp_dir, path)
        names[index] = posixpath.normpath(path)
    return names
