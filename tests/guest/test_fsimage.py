"""Root file-system images: layout per docs/guest-fs.md, round trips, determinism, errors."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from disco_core import fsimage
from disco_core.errors import DiscoError
from disco_core.fsimage import (
    BSIZE,
    FSMAGIC,
    MAXFILE,
    NDIRECT,
    NINDIRECT,
    T_DEVICE,
    T_DIR,
    T_FILE,
    FsImageError,
    build_root_image,
    read_image,
)

# A tiny stand-in program, so these tests need no compiler: a valid ELF
# header with one PT_LOAD segment.


def fake_elf(text: bytes = b"\x00" * 64) -> bytes:
    ehdr = struct.pack(
        "<16sHHIIIIIHHHHHH",
        b"\x7fELF\x01\x01\x01" + bytes(9), 2, 8, 1, 0x400000, 52, 0, 0, 52, 32, 1, 40, 0, 0,
    )
    phdr = struct.pack("<8I", 1, 0x1000, 0x400000, 0x400000, len(text), len(text), 5, 0x1000)
    return ehdr + phdr + bytes(0x1000 - 84) + text


PROGRAMS = {"init": fake_elf(b"init" * 16), "sh": fake_elf(b"sh" * 600)}


def build(tmp_path: Path, name: str = "root.img", **kw) -> fsimage.FsImage:
    kw.setdefault("programs", PROGRAMS)
    kw.setdefault("size_blocks", 4096)
    return read_image(build_root_image(tmp_path / name, **kw))


def test_superblock_fields(tmp_path):
    fs = build(tmp_path, size_blocks=5000, ninodes=200)
    sb = fs.superblock
    assert sb.magic == FSMAGIC
    assert sb.size == 5000
    assert sb.ninodes == 200
    assert sb.inodestart == 2
    assert sb.bmapstart == 2 + 13  # 200 inodes / 16 per block, rounded up
    assert sb.datastart == sb.bmapstart + 1  # 5000 blocks fit one bitmap block
    assert sb.nblocks == sb.size - sb.datastart
    assert (tmp_path / "root.img").stat().st_size == 5000 * BSIZE


def test_root_directory_layout(tmp_path):
    fs = build(tmp_path)
    entries = fs.list_dir("/")
    assert entries[0] == (".", 1)
    assert entries[1] == ("..", 1)
    names = [n for n, _ in entries]
    assert {"console", "README", "init", "sh", "src"} <= set(names)
    root = fs.inode(1)
    assert root.type == T_DIR
    assert root.size == len(entries) * 16


def test_console_is_device_1_0(tmp_path):
    ip = build(tmp_path).lookup("/console")
    assert (ip.type, ip.major, ip.minor, ip.nlink, ip.size) == (T_DEVICE, 1, 0, 1, 0)


def test_dot_and_dotdot_of_subdirectories(tmp_path):
    fs = build(tmp_path, extra_files={"a/b/c.txt": b"hello"})
    a = fs.lookup("/a")
    b = fs.lookup("/a/b")
    assert fs.list_dir("/a")[:2] == [(".", a.inum), ("..", 1)]
    assert fs.list_dir("/a/b")[:2] == [(".", b.inum), ("..", a.inum)]
    assert fs.read_file("/a/b/c.txt") == b"hello"


def test_link_counts(tmp_path):
    # Files: one name. Directories: their name plus each subdirectory's '..'
    # ('.' is not counted), as docs/guest-fs.md says.
    fs = build(tmp_path, extra_files={"a/b/x": b"1", "a/c/y": b"2", "a/z": b"3"})
    assert fs.lookup("/a/z").nlink == 1
    assert fs.lookup("/a").nlink == 3
    assert fs.lookup("/a/b").nlink == 1
    subdirs = sum(fs.inode(i).type == T_DIR for n, i in fs.list_dir("/") if n not in (".", ".."))
    assert fs.inode(1).nlink == 1 + subdirs


def test_programs_are_stripped_to_their_segments(tmp_path):
    data = build(tmp_path).read_file("/sh")
    assert data[:4] == b"\x7fELF"
    phoff, shoff = struct.unpack_from("<II", data, 28)
    phnum, shnum = struct.unpack_from("<HH", data, 44)[0], struct.unpack_from("<H", data, 48)[0]
    assert (phnum, shnum, shoff) == (1, 0, 0)
    p_type, p_off, p_vaddr, _, p_filesz = struct.unpack_from("<5I", data, phoff)
    assert p_type == 1 and p_vaddr == 0x400000
    assert p_off % 4096 == p_vaddr % 4096
    assert data[p_off : p_off + p_filesz] == b"sh" * 600


def test_src_holds_the_pmake_sources(tmp_path):
    fs = build(tmp_path)
    names = [n for n, _ in fs.list_dir("/src") if n not in (".", "..")]
    assert names == [f"s{i:02d}.c" for i in range(fsimage.NSOURCES)]
    for name, text in fsimage.source_files().items():
        assert fs.read_file(f"/src/{name}") == text
        assert 1000 < len(text) < 16384


@pytest.mark.parametrize(
    "size",
    [0, 1, BSIZE - 1, BSIZE, NDIRECT * BSIZE, NDIRECT * BSIZE + 1,
     (NDIRECT + NINDIRECT) * BSIZE, (NDIRECT + NINDIRECT) * BSIZE + 5,
     (NDIRECT + NINDIRECT + 2 * NINDIRECT) * BSIZE + 7],
)
def test_file_round_trip_across_direct_indirect_and_double_indirect(tmp_path, size):
    data = bytes((i * 7 + i // 251) & 0xFF for i in range(size))
    fs = build(tmp_path, extra_files={"data/blob": data}, size_blocks=2048 + size // BSIZE)
    ip = fs.lookup("/data/blob")
    assert (ip.type, ip.size) == (T_FILE, size)
    assert fs.read_file("/data/blob") == data
    blocks, meta = fs.file_blocks(ip)
    assert len(blocks) == -(-size // BSIZE)
    assert bool(ip.indirect) == (size > NDIRECT * BSIZE)
    assert bool(ip.dindirect) == (size > (NDIRECT + NINDIRECT) * BSIZE)
    assert all(fs.superblock.datastart <= b < fs.superblock.size for b in blocks + meta)


def test_bitmap_marks_exactly_the_used_blocks(tmp_path):
    big = bytes(range(256)) * 1200  # uses the indirect block
    fs = build(tmp_path, extra_files={"big": big, "d/e/f": b"x" * 3000, "empty": b""})
    used = fs.used_blocks()
    assert used == fs.reachable_blocks()
    # Blocks 0 .. datastart-1 (boot, superblock, inodes, bitmap) are in use.
    assert set(range(fs.superblock.datastart)) <= used


def test_every_block_belongs_to_one_file(tmp_path):
    fs = build(tmp_path, extra_files={"x": b"a" * 20000, "y/z": b"b" * 300000})
    seen: dict[int, str] = {}
    for path, ip in fs.walk():
        blocks, meta = fs.file_blocks(ip)
        for b in blocks + meta:
            assert b not in seen, f"block {b} in {path} and {seen[b]}"
            seen[b] = path


def test_inodes_are_unique_and_in_range(tmp_path):
    fs = build(tmp_path, extra_files={f"d{i}/f{i}": bytes([i]) for i in range(20)})
    inums = [ip.inum for _, ip in fs.walk()]
    assert len(inums) == len(set(inums))
    assert all(0 < i < fs.superblock.ninodes for i in inums)


def test_images_are_deterministic(tmp_path):
    extra = {"etc/motd": b"hi\n", "b": b"2", "a": b"1"}
    a = build_root_image(tmp_path / "a.img", programs=PROGRAMS, extra_files=extra,
                         size_blocks=4096)
    # The same files given in another order make the same bytes.
    b = build_root_image(tmp_path / "b.img", programs=dict(reversed(PROGRAMS.items())),
                         extra_files=dict(reversed(extra.items())), size_blocks=4096)
    assert a.read_bytes() == b.read_bytes()


def test_extra_files_replace_generated_ones(tmp_path):
    fs = build(tmp_path, extra_files={"README": b"mine\n", "/src/s00.c": b"int x;\n"})
    assert fs.read_file("/README") == b"mine\n"
    assert fs.read_file("/src/s00.c") == b"int x;\n"


def test_name_longer_than_14_bytes(tmp_path):
    with pytest.raises(FsImageError, match="15 bytes; the format allows 14"):
        build(tmp_path, extra_files={"abcdefghijklmno": b""})
    # 14 is fine, and is stored without a terminating NUL.
    fs = build(tmp_path, extra_files={"abcdefghijklmn": b"ok"})
    assert fs.read_file("/abcdefghijklmn") == b"ok"


def test_file_too_big_for_the_format(tmp_path):
    class Huge(bytes):
        def __len__(self) -> int:  # no need to allocate 64 MiB
            return MAXFILE + 1

    builder = fsimage._Builder(1 << 17, 64)
    with pytest.raises(FsImageError, match="at most"):
        builder.write_data(Huge(), "/huge")


def test_image_too_small(tmp_path):
    with pytest.raises(FsImageError, match="image is full"):
        build(tmp_path, size_blocks=200, extra_files={"big": bytes(300 * BSIZE)})
    with pytest.raises(FsImageError, match="too small"):
        build(tmp_path, size_blocks=10, ninodes=1024)


def test_out_of_inodes(tmp_path):
    with pytest.raises(FsImageError, match="out of inodes"):
        build(tmp_path, ninodes=16)


def test_a_file_in_the_way_of_a_directory(tmp_path):
    with pytest.raises(FsImageError, match="is a file, not a directory"):
        build(tmp_path, extra_files={"README/x": b""})
    with pytest.raises(FsImageError, match="is a directory"):
        build(tmp_path, extra_files={"src": b""})


def test_errors_are_disco_errors(tmp_path):
    assert issubclass(FsImageError, DiscoError)
    with pytest.raises(DiscoError):
        build(tmp_path, extra_files={"": b""})
    with pytest.raises(FsImageError, match="not a 32-bit little-endian ELF"):
        build(tmp_path, programs={"bad": b"#!/bin/sh\n"})


def test_reader_rejects_a_foreign_image(tmp_path):
    bad = tmp_path / "bad.img"
    bad.write_bytes(bytes(4 * BSIZE))
    with pytest.raises(FsImageError, match="bad magic"):
        read_image(bad)


def test_command_line_build_ls_and_cat(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fsimage, "build_user_programs", lambda: PROGRAMS)
    img = tmp_path / "cli.img"
    assert fsimage.main(["build", str(img), "--size-blocks", "3000"]) == 0
    assert fsimage.main(["ls", str(img), "/"]) == 0
    out = capsys.readouterr().out
    assert "console" in out and "dev" in out
    assert fsimage.main(["cat", str(img), "/nope"]) == 1
    assert "no such file" in capsys.readouterr().err
