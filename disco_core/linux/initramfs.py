"""The initramfs: a newc cpio archive (the "new ASCII" format Linux unpacks,
Documentation/driver-api/early-userspace/buffer-format.rst) holding busybox,
an /init script and /dev/console.

Every header field is fixed (inode numbers in order, mtime 0, uid/gid 0), so
the same busybox gives the same bytes, and so the same guest run.
"""

from __future__ import annotations

import os
from pathlib import Path

from disco_core.errors import DiscoError

PROMPT = "disco-linux# "

S_IFDIR = 0o040000
S_IFREG = 0o100000
S_IFCHR = 0o020000
S_IFLNK = 0o120000

INIT = f"""#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /tmp /sbin /usr/bin /usr/sbin /root
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t devtmpfs devtmpfs /dev
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root PS1='{PROMPT}'
cd /root
exec setsid cttyhack sh
"""


class Cpio:
    """A newc archive being written."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.ino = 0

    def _entry(self, name: str, mode: int, body: bytes = b"", rdev: tuple[int, int] = (0, 0),
               nlink: int = 1) -> None:
        self.ino += 1
        encoded = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, nlink, 0, len(body), 0, 0, rdev[0], rdev[1],
                  len(encoded), 0)
        self.data += b"070701" + b"".join(b"%08X" % f for f in fields) + encoded
        self.data += bytes(-len(self.data) % 4)
        self.data += body
        self.data += bytes(-len(self.data) % 4)

    def directory(self, name: str) -> None:
        self._entry(name, S_IFDIR | 0o755, nlink=2)

    def file(self, name: str, body: bytes, mode: int = 0o644) -> None:
        self._entry(name, S_IFREG | mode, body)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, S_IFLNK | 0o777, target.encode())

    def char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, S_IFCHR | mode, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, nlink=1)
        self.data += bytes(-len(self.data) % 512)
        return bytes(self.data)


def build_initramfs(busybox: str | os.PathLike[str], init: str = INIT) -> bytes:
    """The archive: /bin/busybox, /init, /dev/console (5,1) and /dev/null (1,3)."""
    path = Path(busybox)
    try:
        body = path.read_bytes()
    except OSError as e:
        raise DiscoError(f"cannot read busybox at {path}: {e.strerror or e}") from None
    if body[:4] != b"\x7fELF" or body[18:20] != b"\x08\x00":
        raise DiscoError(f"{path} is not a MIPS ELF executable: the initramfs needs a "
                         "static mipsel busybox (Debian's busybox-static)")
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp", "root"):
        c.directory(d)
    c.file("bin/busybox", body, 0o755)
    c.symlink("bin/sh", "busybox")
    c.char_device("dev/console", 5, 1)
    c.char_device("dev/null", 1, 3, 0o666)
    c.file("init", init.encode(), 0o755)
    return c.finish()
