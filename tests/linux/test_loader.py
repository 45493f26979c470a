"""The vmlinuz loader and the initramfs builder, on the fetched Debian files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from disco_core.elf import ElfError
from disco_core.linux.fetch import LinuxFiles
from disco_core.linux.initramfs import build_initramfs
from disco_core.linux.vmlinuz import KernelError, load_kernel


def test_vmlinuz_payload_is_placed_at_the_generic_load_address(linux_files: LinuxFiles) -> None:
    k = load_kernel(linux_files.kernel)
    assert k.kind == "vmlinuz (xz payload)"
    [(pa, data)] = k.chunks
    assert pa == 0x00100000  # MIPS_GENERIC's 0x80100000
    assert 0x80100000 < k.entry < 0x80100000 + len(data)
    # The raw image starts with `j kernel_entry` (BOOT_RAW): the same entry.
    (first,) = struct.unpack_from("<I", data)
    assert first >> 26 == 2 and 0x80000000 | (first & 0x3FFFFFF) << 2 == k.entry


def test_a_plain_elf_loads_its_segments(tmp_path: Path, linux_files: LinuxFiles) -> None:
    # busybox is a MIPS ELF without an xz payload: loaded as a plain ELF
    k = load_kernel(linux_files.busybox)
    assert k.kind == "vmlinux ELF" and k.chunks


def test_bad_kernels_get_one_line_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a kernel")
    with pytest.raises(ElfError):
        load_kernel(junk)
    with pytest.raises(KernelError, match="cannot read"):
        load_kernel(tmp_path / "missing")


def parse_newc(blob: bytes) -> dict[str, tuple[int, bytes, int, int]]:
    """name -> (mode, body, rdevmajor, rdevminor)"""
    out = {}
    pos = 0
    while True:
        assert blob[pos:pos + 6] == b"070701"
        f = [int(blob[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = f[11], f[6]
        name = blob[pos + 110: pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        body = blob[pos:pos + filesize]
        pos += filesize
        pos += -pos % 4
        if name == "TRAILER!!!":
            return out
        out[name] = (f[1], body, f[9], f[10])


def test_initramfs_holds_busybox_init_and_console(linux_files: LinuxFiles) -> None:
    blob = build_initramfs(linux_files.busybox)
    assert blob == build_initramfs(linux_files.busybox)  # deterministic
    files = parse_newc(blob)
    assert files["bin/busybox"][1] == linux_files.busybox.read_bytes()
    assert files["init"][0] & 0o777 == 0o755 and files["init"][1].startswith(b"#!/bin/busybox")
    mode, _, major, minor = files["dev/console"]
    assert mode & 0o170000 == 0o020000 and (major, minor) == (5, 1)


def test_initramfs_refuses_a_non_mips_busybox(tmp_path: Path) -> None:
    bad = tmp_path / "busybox"
    bad.write_bytes(b"#!/bin/sh\n")
    with pytest.raises(Exception, match="not a MIPS ELF"):
        build_initramfs(bad)


def test_fetch_without_root_names_the_setup_commands(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    from disco_core.linux import fetch as f

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(f, "_arch_known", lambda: False)
    monkeypatch.setattr(f.os, "geteuid", lambda: 1000)
    with pytest.raises(f.FetchError, match="dpkg --add-architecture mipsel; apt-get update"):
        f.fetch(log=False)


def test_fetch_uses_the_cache_once_it_is_there(linux_files: LinuxFiles,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from disco_core.linux import fetch as f

    def no_apt(cmd: list[str], cwd: Path | None = None) -> str:
        raise AssertionError(f"ran {cmd} although the files are cached")

    monkeypatch.setattr(f, "_run", no_apt)
    assert f.fetch(log=False) == linux_files
