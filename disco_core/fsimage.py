"""Root file-system images for the guest kernel, and a reader for them.

The on-disk format is docs/guest-fs.md; docs/guest-userland.md describes what
goes into a root image. Images are deterministic: the same programs and files
give a byte-identical image (inodes are numbered and blocks allocated in
sorted path order, and nothing records a time).

    python -m disco_core.fsimage build root.img      # build an image
    python -m disco_core.fsimage ls root.img /src    # list a directory
    python -m disco_core.fsimage cat root.img /README
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from disco_core.errors import DiscoError

BSIZE = 1024
FSMAGIC = 0x4F435344  # "DSCO"
NDIRECT = 11
NINDIRECT = BSIZE // 4
MAXFILE_BLOCKS = NDIRECT + NINDIRECT + NINDIRECT * NINDIRECT
MAXFILE = MAXFILE_BLOCKS * BSIZE
DIRSIZ = 14
INODE_SIZE = 64
IPB = BSIZE // INODE_SIZE
BPB = BSIZE * 8
DIRENT_SIZE = 16
ROOTINO = 1

T_DIR = 1
T_FILE = 2
T_DEVICE = 3

CONSOLE_MAJOR = 1

DEFAULT_SIZE_BLOCKS = 16384  # 16 MiB: room for the workloads' files
DEFAULT_NINODES = 1024

# Every program under resources/guest/user/, each built from <name>.c and the
# library. The image holds them in the root directory.
PROGRAMS = (
    "init", "sh", "ls", "cat", "echo", "ps", "wc", "grep", "cp", "rm", "mkdir",
    "compile", "pmake", "engineering", "raytrace", "database", "net",
)
LIBRARY = ("crt0.S", "usys.S", "ulib.c", "printf.c", "umalloc.c", "rand.c")
# Without it lld aligns segments in the file to 64 KiB, tripling every program.
LINK_FLAGS = ("-Wl,-z,max-page-size=4096",)

NSOURCES = 32  # generated /src/sNN.c files that pmake compiles

_SUPERBLOCK = struct.Struct("<7I")
_INODE = struct.Struct("<4HI11III")
_DIRENT = struct.Struct("<H14s")


class FsImageError(DiscoError):
    """A file system image that cannot be built as asked, or a damaged image."""


# ---------------------------------------------------------------- programs


def user_dir() -> Path:
    """``resources/guest/user/``: the user programs, libc, crt0 and linker script."""
    from disco_core.guest import resources_dir

    return resources_dir() / "guest" / "user"


def build_user_program(name: str) -> Path:
    """Build one user program (``<name>.c`` with the library); returns the cached ELF."""
    from disco_core.guest import build_program

    user = user_dir()
    src = user / f"{name}.c"
    if not src.is_file():
        raise FsImageError(f"no user program {name!r}: {src.name} is not in resources/guest/user")
    return build_program(
        [src, *(user / lib for lib in LIBRARY)],
        include_dirs=[user],
        linker_script=user / "user.ld",
        extra_flags=LINK_FLAGS,
    )


def build_user_programs(names: tuple[str, ...] | list[str] = PROGRAMS) -> dict[str, Path]:
    """Build every user program; returns {name: ELF path}. Builds are cached by content."""
    # Two at a time: the compiler is the slow part, and others share the machine.
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(build_user_program, names))
    return dict(zip(names, paths, strict=True))


_EHDR = struct.Struct("<16sHHIIIIIHHHHHH")
_PHDR = struct.Struct("<8I")
PT_LOAD = 1
PAGE = 4096


def loadable_elf(data: bytes, what: str = "program") -> bytes:
    """The ELF with only its header, program headers and PT_LOAD segments.

    The cached ELFs carry DWARF (mostly zig's compiler runtime), about 1 MiB
    per program; the kernel's exec reads only the program headers, so the
    image holds this stripped copy. Each segment keeps its file offset
    congruent to its address modulo the page size.
    """
    if len(data) < _EHDR.size or data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise FsImageError(f"{what} is not a 32-bit little-endian ELF")
    h = list(_EHDR.unpack_from(data))
    phoff, phentsize, phnum = h[5], h[9], h[10]
    loads = []
    for i in range(phnum):
        ph = _PHDR.unpack_from(data, phoff + i * phentsize)
        if ph[0] == PT_LOAD:
            loads.append(ph)
    if not loads:
        raise FsImageError(f"{what} has no loadable segment")
    out = bytearray(_EHDR.size + _PHDR.size * len(loads))
    phdrs = []
    for ptype, off, vaddr, paddr, filesz, memsz, flags, _align in loads:
        pos = len(out)
        pos += (vaddr - pos) % PAGE
        out.extend(bytes(pos - len(out)))
        out.extend(data[off : off + filesz])
        phdrs.append(_PHDR.pack(ptype, pos, vaddr, paddr, filesz, memsz, flags, PAGE))
    # No section headers: e_shoff, e_shnum and e_shstrndx become 0.
    h[5], h[6], h[9], h[10] = _EHDR.size, 0, _PHDR.size, len(loads)
    h[11], h[12], h[13] = 0, 0, 0
    out[: _EHDR.size] = _EHDR.pack(*h)
    out[_EHDR.size : _EHDR.size + len(b"".join(phdrs))] = b"".join(phdrs)
    return bytes(out)


# ---------------------------------------------------------------- generated files

_WORDS = (
    "buf", "count", "node", "next", "prev", "head", "tail", "key", "value", "len", "size",
    "index", "table", "hash", "entry", "state", "flags", "mask", "offset", "block", "inode",
    "proc", "lock", "queue", "list", "tree", "left", "right", "depth", "score", "move",
    "board", "piece", "square", "rank", "file", "pawn", "king", "queen", "rook", "bishop",
)
_TYPES = ("int", "unsigned", "char", "long", "short")
_OPS = ("+", "-", "*", "&", "|", "^", "<<", ">>")


class _Lcg:
    """A fixed generator (not ``random``), so sources never change with Python."""

    def __init__(self, seed: int) -> None:
        self.state = seed & 0xFFFFFFFF

    def next(self, n: int) -> int:
        self.state = (self.state * 1103515245 + 12345) & 0xFFFFFFFF
        return (self.state >> 8) % n

    def pick(self, seq: tuple[str, ...]) -> str:
        return seq[self.next(len(seq))]


def _source_file(index: int) -> bytes:
    """One pseudo-C "source" for pmake: functions of expressions over a vocabulary."""
    rng = _Lcg(0x5EED0000 + index)
    lines = [f"// s{index:02d}.c: generated for the pmake workload", ""]
    for f in range(8 + rng.next(12)):
        name = f"{rng.pick(_WORDS)}_{index}_{f}"
        args = ", ".join(f"{rng.pick(_TYPES)} {rng.pick(_WORDS)}" for _ in range(1 + rng.next(3)))
        lines.append(f"{rng.pick(_TYPES)} {name}({args})")
        lines.append("{")
        for _ in range(3 + rng.next(10)):
            lhs = rng.pick(_WORDS)
            expr = f"{rng.pick(_WORDS)} {rng.pick(_OPS)} {rng.next(1000)}"
            for _ in range(rng.next(4)):
                expr += f" {rng.pick(_OPS)} {rng.next(100)} {rng.pick(_OPS)} {rng.pick(_WORDS)}"
            if rng.next(5) == 0:
                lines.append(f'  print("{lhs} is %d", {lhs});  // trace')
            lines.append(f"  {lhs} = {expr};")
        lines.append(f"  return {rng.pick(_WORDS)};")
        lines.append("}")
        lines.append("")
    return "\n".join(lines).encode()


def source_files() -> dict[str, bytes]:
    """The generated /src files that the pmake workload compiles, by name."""
    return {f"s{i:02d}.c": _source_file(i) for i in range(NSOURCES)}


README = b"""\
Disco Workbench guest root file system.

Programs live in / (the shell also looks there): init sh ls cat echo ps wc
grep cp rm mkdir net, and the workloads pmake engineering raytrace database,
each taking a size argument. /src holds the sources pmake compiles.
"""


# ---------------------------------------------------------------- building


@dataclass
class _Device:
    major: int
    minor: int


@dataclass
class _Dir:
    entries: dict[str, _Dir | bytes | _Device] = field(default_factory=dict)


_Node = _Dir | bytes | _Device


def _check_name(name: str, path: str) -> bytes:
    raw = name.encode()
    if not raw or name in (".", ".."):
        raise FsImageError(f"{path!r}: empty, '.' or '..' path component")
    if len(raw) > DIRSIZ:
        raise FsImageError(
            f"{path!r}: name {name!r} is {len(raw)} bytes; the format allows {DIRSIZ} "
            "(docs/guest-fs.md): shorten it"
        )
    if b"\0" in raw:
        raise FsImageError(f"{path!r}: names may not contain NUL")
    return raw


def _put(root: _Dir, path: str, node: _Node) -> None:
    """Place node at path, creating directories on the way; a file replaces a file."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise FsImageError(f"{path!r}: a file needs a name below /")
    for part in parts:
        _check_name(part, path)
    here = root
    for i, part in enumerate(parts[:-1]):
        child = here.entries.setdefault(part, _Dir())
        if not isinstance(child, _Dir):
            where = "/" + "/".join(parts[: i + 1])
            raise FsImageError(f"{path!r}: {where} is a file, not a directory")
        here = child
    old = here.entries.get(parts[-1])
    if isinstance(old, _Dir) and not isinstance(node, _Dir):
        raise FsImageError(f"{path!r} is a directory; it cannot also be a file")
    here.entries[parts[-1]] = node


class _Builder:
    def __init__(self, size_blocks: int, ninodes: int) -> None:
        if ninodes < 2:
            raise FsImageError(f"ninodes={ninodes}: need at least 2 (inode 1 is the root)")
        self.size = size_blocks
        self.ninodes = ninodes
        ninodeblocks = -(-ninodes // IPB)
        nbitmap = -(-size_blocks // BPB)
        self.inodestart = 2
        self.bmapstart = self.inodestart + ninodeblocks
        self.datastart = self.bmapstart + nbitmap
        if size_blocks < self.datastart + 1:
            raise FsImageError(
                f"size_blocks={size_blocks} is too small: the superblock, {ninodeblocks} inode "
                f"blocks and {nbitmap} bitmap blocks alone need {self.datastart + 1}"
            )
        if size_blocks > 0xFFFFFFFF // BSIZE:
            raise FsImageError(f"size_blocks={size_blocks} exceeds the 32-bit format")
        self.image = bytearray(size_blocks * BSIZE)
        self.next_block = self.datastart
        self.next_inum = ROOTINO

    def alloc_block(self, what: str) -> int:
        if self.next_block >= self.size:
            raise FsImageError(
                f"the image is full while writing {what}: {self.size} blocks of {BSIZE} bytes "
                "are not enough; pass a larger size_blocks"
            )
        b = self.next_block
        self.next_block += 1
        return b

    def alloc_inum(self, what: str) -> int:
        if self.next_inum >= self.ninodes:
            raise FsImageError(
                f"out of inodes at {what}: the image has {self.ninodes} (inode 0 is never "
                "used); pass a larger ninodes"
            )
        n = self.next_inum
        self.next_inum += 1
        return n

    def write_block(self, b: int, data: bytes) -> None:
        self.image[b * BSIZE : b * BSIZE + len(data)] = data

    def write_data(self, data: bytes, what: str) -> tuple[list[int], int, int]:
        """Write a file's bytes; returns (direct addrs, indirect, dindirect)."""
        nblocks = -(-len(data) // BSIZE)
        if nblocks > MAXFILE_BLOCKS:
            raise FsImageError(
                f"{what} is {len(data)} bytes; the format holds at most {MAXFILE} bytes per "
                f"file ({NDIRECT} direct, {NINDIRECT} indirect and {NINDIRECT}x{NINDIRECT} "
                "double-indirect blocks)"
            )
        # Block numbers go to the direct slots, the indirect block, then the
        # double-indirect tree; each map block is allocated just before the
        # first block it maps, so a file's blocks are nearly contiguous.
        direct: list[int] = []
        indirect = dindirect = 0
        ind_map: list[int] = []
        dind_map: list[int] = []
        dind_children: list[tuple[int, list[int]]] = []
        for i in range(nblocks):
            if i < NDIRECT:
                b = self.alloc_block(what)
                direct.append(b)
            elif i < NDIRECT + NINDIRECT:
                if not indirect:
                    indirect = self.alloc_block(what)
                b = self.alloc_block(what)
                ind_map.append(b)
            else:
                j = i - NDIRECT - NINDIRECT
                if not dindirect:
                    dindirect = self.alloc_block(what)
                if j % NINDIRECT == 0:
                    child = self.alloc_block(what)
                    dind_map.append(child)
                    dind_children.append((child, []))
                b = self.alloc_block(what)
                dind_children[-1][1].append(b)
            self.write_block(b, data[i * BSIZE : (i + 1) * BSIZE])
        if indirect:
            self.write_block(indirect, struct.pack(f"<{len(ind_map)}I", *ind_map))
        if dindirect:
            self.write_block(dindirect, struct.pack(f"<{len(dind_map)}I", *dind_map))
            for child, entries in dind_children:
                self.write_block(child, struct.pack(f"<{len(entries)}I", *entries))
        return direct + [0] * (NDIRECT - len(direct)), indirect, dindirect

    def write_inode(self, inum: int, type_: int, nlink: int, data: bytes, what: str,
                    major: int = 0, minor: int = 0) -> None:
        addrs, indirect, dindirect = self.write_data(data, what)
        raw = _INODE.pack(type_, major, minor, nlink, len(data), *addrs, indirect, dindirect)
        off = (self.inodestart + inum // IPB) * BSIZE + (inum % IPB) * INODE_SIZE
        self.image[off : off + INODE_SIZE] = raw

    def build(self, root: _Dir) -> bytes:
        # Number every inode first (directories need their children's numbers),
        # depth first in sorted name order.
        inums: dict[int, int] = {}

        def number(node: _Node, path: str) -> None:
            inums[id(node)] = self.alloc_inum(path)
            if isinstance(node, _Dir):
                for name in sorted(node.entries):
                    number(node.entries[name], f"{path.rstrip('/')}/{name}")

        number(root, "/")

        def write(node: _Node, parent: _Dir, path: str) -> None:
            inum = inums[id(node)]
            if isinstance(node, _Dir):
                names = sorted(node.entries)
                ents = [(".", inum), ("..", inums[id(parent)])]
                ents += [(n, inums[id(node.entries[n])]) for n in names]
                data = b"".join(_DIRENT.pack(i, n.encode()) for n, i in ents)
                # '.' is not counted, so a directory's link count falls to 0
                # when its name is removed; each subdirectory's '..' counts.
                nsub = sum(isinstance(c, _Dir) for c in node.entries.values())
                self.write_inode(inum, T_DIR, 1 + nsub, data, path)
                for n in names:
                    write(node.entries[n], node, f"{path.rstrip('/')}/{n}")
            elif isinstance(node, _Device):
                self.write_inode(inum, T_DEVICE, 1, b"", path, node.major, node.minor)
            else:
                self.write_inode(inum, T_FILE, 1, node, path)

        write(root, root, "/")

        # Superblock, then the bitmap: blocks 0 .. next_block-1 are in use,
        # since metadata comes first and data is allocated contiguously.
        sb = _SUPERBLOCK.pack(FSMAGIC, self.size, self.size - self.datastart, self.ninodes,
                              self.inodestart, self.bmapstart, self.datastart)
        self.write_block(1, sb)
        used = self.next_block
        bitmap = bytearray(used // 8)
        for i in range(used // 8):
            bitmap[i] = 0xFF
        if used % 8:
            bitmap.append((1 << (used % 8)) - 1)
        off = self.bmapstart * BSIZE
        self.image[off : off + len(bitmap)] = bitmap
        return bytes(self.image)


def build_root_image(
    path: str | os.PathLike[str],
    *,
    size_blocks: int = DEFAULT_SIZE_BLOCKS,
    ninodes: int = DEFAULT_NINODES,
    extra_files: Mapping[str, bytes] | None = None,
    programs: Mapping[str, str | os.PathLike[str] | bytes] | None = None,
) -> Path:
    """Build a root file-system image at ``path`` and return the path.

    The root holds ``console`` (device 1,0), ``README``, every program of
    ``programs`` (default: ``build_user_programs()``; a mapping of name to ELF
    path or bytes), and ``src/`` with the generated pmake sources.
    ``extra_files`` maps paths such as ``"etc/motd"`` to contents; missing
    directories are created and a file replaces one already there. Raises
    FsImageError when a name is longer than 14 bytes, a file is too big for
    the format, or the image is too small.
    """
    if programs is None:
        programs = build_user_programs()
    root = _Dir()
    root.entries["console"] = _Device(CONSOLE_MAJOR, 0)
    _put(root, "README", README)
    for name, elf in programs.items():
        data = elf if isinstance(elf, bytes) else Path(elf).read_bytes()
        _put(root, name, loadable_elf(data, f"program {name!r}"))
    for name, text in source_files().items():
        _put(root, f"src/{name}", text)
    for name, data in (extra_files or {}).items():
        if not isinstance(data, bytes | bytearray):
            raise FsImageError(f"extra file {name!r}: contents must be bytes, not {type(data)}")
        _put(root, name, bytes(data))
    image = _Builder(size_blocks, ninodes).build(root)
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(image)
    os.replace(tmp, dest)
    return dest


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Superblock:
    magic: int
    size: int
    nblocks: int
    ninodes: int
    inodestart: int
    bmapstart: int
    datastart: int


@dataclass(frozen=True)
class Inode:
    inum: int
    type: int
    major: int
    minor: int
    nlink: int
    size: int
    addrs: tuple[int, ...]
    indirect: int
    dindirect: int


class FsImage:
    """A file-system image read into memory, for tests and debugging."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 2 * BSIZE:
            raise FsImageError(f"image of {len(data)} bytes has no superblock")
        self.data = data
        self.superblock = Superblock(*_SUPERBLOCK.unpack_from(data, BSIZE))
        sb = self.superblock
        if sb.magic != FSMAGIC:
            raise FsImageError(f"bad magic {sb.magic:#010x} (expected {FSMAGIC:#010x})")
        if sb.size * BSIZE > len(data):
            raise FsImageError(f"superblock says {sb.size} blocks but the image is shorter")

    def block(self, b: int) -> bytes:
        if not 0 < b < self.superblock.size:
            raise FsImageError(f"block {b} is outside the image (size {self.superblock.size})")
        return self.data[b * BSIZE : (b + 1) * BSIZE]

    def inode(self, inum: int) -> Inode:
        if not 0 < inum < self.superblock.ninodes:
            raise FsImageError(f"inode {inum} out of range (ninodes {self.superblock.ninodes})")
        off = (self.superblock.inodestart + inum // IPB) * BSIZE + (inum % IPB) * INODE_SIZE
        f = _INODE.unpack_from(self.data, off)
        return Inode(inum, f[0], f[1], f[2], f[3], f[4], tuple(f[5:16]), f[16], f[17])

    def _map(self, b: int) -> tuple[int, ...]:
        return struct.unpack("<256I", self.block(b))

    def file_blocks(self, ip: Inode) -> tuple[list[int], list[int]]:
        """(data blocks in file order, map blocks) of an inode; 0 is a hole."""
        n = -(-ip.size // BSIZE)
        data = list(ip.addrs[: min(n, NDIRECT)])
        meta = []
        if n > NDIRECT and ip.indirect:
            meta.append(ip.indirect)
            data += self._map(ip.indirect)[: min(n - NDIRECT, NINDIRECT)]
        if n > NDIRECT + NINDIRECT and ip.dindirect:
            meta.append(ip.dindirect)
            left = n - NDIRECT - NINDIRECT
            for child in self._map(ip.dindirect):
                if left <= 0:
                    break
                if child:
                    meta.append(child)
                    data += self._map(child)[: min(left, NINDIRECT)]
                else:
                    data += [0] * min(left, NINDIRECT)
                left -= NINDIRECT
        return data, meta

    def read_inode(self, ip: Inode) -> bytes:
        blocks, _ = self.file_blocks(ip)
        out = b"".join(self.block(b) if b else bytes(BSIZE) for b in blocks)
        return out[: ip.size]

    def entries(self, inum: int) -> list[tuple[str, int]]:
        """A directory's (name, inum) entries in on-disk order, empty slots skipped."""
        ip = self.inode(inum)
        if ip.type != T_DIR:
            raise FsImageError(f"inode {inum} is not a directory")
        raw = self.read_inode(ip)
        out = []
        for off in range(0, len(raw) - DIRENT_SIZE + 1, DIRENT_SIZE):
            i, name = _DIRENT.unpack_from(raw, off)
            if i:
                out.append((name.rstrip(b"\0").decode(errors="replace"), i))
        return out

    def lookup(self, path: str) -> Inode:
        ip = self.inode(ROOTINO)
        for part in (p for p in path.split("/") if p):
            if ip.type != T_DIR:
                raise FsImageError(f"{path!r}: not a directory on the way")
            found = dict(self.entries(ip.inum)).get(part)
            if found is None:
                raise FsImageError(f"{path!r}: no such file or directory")
            ip = self.inode(found)
        return ip

    def list_dir(self, path: str = "/") -> list[tuple[str, int]]:
        """(name, inum) of every entry of a directory, '.' and '..' included."""
        return self.entries(self.lookup(path).inum)

    def read_file(self, path: str) -> bytes:
        return self.read_inode(self.lookup(path))

    def walk(self, path: str = "/") -> Iterator[tuple[str, Inode]]:
        """Every (path, inode) below path, depth first, '.' and '..' skipped."""
        ip = self.lookup(path)
        yield path, ip
        if ip.type == T_DIR:
            for name, _ in self.entries(ip.inum):
                if name not in (".", ".."):
                    yield from self.walk(f"{path.rstrip('/')}/{name}")

    def used_blocks(self) -> set[int]:
        """Blocks the bitmap marks in use."""
        sb = self.superblock
        bitmap = self.data[sb.bmapstart * BSIZE : sb.datastart * BSIZE]
        return {b for b in range(sb.size) if bitmap[b // 8] >> (b % 8) & 1}

    def reachable_blocks(self) -> set[int]:
        """Blocks the metadata and every reachable inode actually use."""
        blocks = set(range(self.superblock.datastart))
        for _, ip in self.walk():
            data, meta = self.file_blocks(ip)
            blocks.update(b for b in data if b)
            blocks.update(meta)
        return blocks


def read_image(path: str | os.PathLike[str]) -> FsImage:
    """Read a file-system image for inspection."""
    return FsImage(Path(path).read_bytes())


def list_dir(image: str | os.PathLike[str], path: str = "/") -> list[tuple[str, int]]:
    return read_image(image).list_dir(path)


def read_file(image: str | os.PathLike[str], path: str) -> bytes:
    return read_image(image).read_file(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m disco_core.fsimage",
                                     description="Build or inspect guest root images.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build a root image with every user program")
    b.add_argument("image")
    b.add_argument("--size-blocks", type=int, default=DEFAULT_SIZE_BLOCKS)
    ls = sub.add_parser("ls", help="list a directory of an image")
    ls.add_argument("image")
    ls.add_argument("path", nargs="?", default="/")
    cat = sub.add_parser("cat", help="print a file of an image")
    cat.add_argument("image")
    cat.add_argument("path")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "build":
            print(build_root_image(args.image, size_blocks=args.size_blocks))
        elif args.cmd == "ls":
            fs = read_image(args.image)
            names = {T_DIR: "dir", T_FILE: "file", T_DEVICE: "dev"}
            for name, inum in fs.list_dir(args.path):
                ip = fs.inode(inum)
                print(f"{name:<14} {names.get(ip.type, '?'):<4} {inum:4} {ip.size:8}")
        else:
            sys.stdout.buffer.write(read_file(args.image, args.path))
    except DiscoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
