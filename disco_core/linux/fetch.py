"""Getting Debian's mipsel kernel and busybox: `apt-get download` of the
packages (after `dpkg --add-architecture mipsel` and `apt-get update` when we
are root), `dpkg-deb -x` into the cache directory, once.

Cache: $XDG_CACHE_HOME/disco-workbench/linux (default ~/.cache/...), one
directory per package version, and `linux.json` naming the kernel and busybox
the last fetch extracted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from disco_core.errors import DiscoError

ARCH = "mipsel"
# The generic MIPS32r2 kernel (MIPS_GENERIC, UHI boot, device tree) and a static busybox.
KERNEL_PACKAGE = "linux-image-mips32r2el"
BUSYBOX_PACKAGE = "busybox-static"


class FetchError(DiscoError):
    """The packages could not be downloaded or unpacked."""


@dataclass(frozen=True)
class LinuxFiles:
    kernel: Path
    busybox: Path
    kernel_version: str


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "disco-workbench" / "linux"


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise FetchError(f"{cmd[0]} is not installed: fetching needs Debian's apt and "
                         "dpkg") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise FetchError(f"`{' '.join(cmd)}` failed: {last}")
    return done.stdout


def setup_commands() -> list[list[str]]:
    return [["dpkg", "--add-architecture", ARCH], ["apt-get", "update"]]


def _arch_known() -> bool:
    try:
        foreign = _run(["dpkg", "--print-foreign-architectures"]).split()
    except FetchError:
        return False
    return ARCH in foreign


def _resolve_kernel() -> str:
    """The versioned kernel package the meta-package depends on."""
    out = _run(["apt-cache", "depends", f"{KERNEL_PACKAGE}:{ARCH}"])
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends:") and "linux-image-" in line:
            return line.split()[1].split(":")[0]
    raise FetchError(f"apt knows {KERNEL_PACKAGE}:{ARCH} but not which kernel it depends on")


def cached() -> LinuxFiles | None:
    index = cache_dir() / "linux.json"
    try:
        info = json.loads(index.read_text())
        files = LinuxFiles(Path(info["kernel"]), Path(info["busybox"]), info["kernel_version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return files if files.kernel.is_file() and files.busybox.is_file() else None


def fetch(*, force: bool = False, log: bool = True) -> LinuxFiles:
    """The cached kernel and busybox, downloading and extracting them if needed."""
    if not force and (hit := cached()) is not None:
        return hit
    if not _arch_known():
        if os.geteuid() != 0:
            cmds = "; ".join(" ".join(c) for c in setup_commands())
            raise FetchError(f"apt does not know the {ARCH} architecture; as root run: "
                             f"{cmds}")
        for cmd in setup_commands():
            if log:
                print(f"disco: {' '.join(cmd)}", file=sys.stderr)
            _run(cmd)
    try:
        kernel_pkg = _resolve_kernel()
    except FetchError:
        if os.geteuid() != 0:
            raise
        _run(["apt-get", "update"])  # the package lists may be missing or stale
        kernel_pkg = _resolve_kernel()
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dl-", dir=root) as tmp:
        if log:
            print(f"disco: apt-get download {kernel_pkg}:{ARCH} {BUSYBOX_PACKAGE}:{ARCH}",
                  file=sys.stderr)
        # apt's sandbox user may not write the directory; it is ours, so let it.
        os.chmod(tmp, 0o777)
        _run(["apt-get", "download", f"{kernel_pkg}:{ARCH}", f"{BUSYBOX_PACKAGE}:{ARCH}"],
             cwd=Path(tmp))
        debs = sorted(Path(tmp).glob("*.deb"))
        if len(debs) != 2:
            raise FetchError(f"apt-get download left {len(debs)} packages, expected 2")
        for deb in debs:
            stem = deb.name[:-4]
            dest = root / stem
            if not dest.is_dir():
                part = root / f".{stem}.part"
                shutil.rmtree(part, ignore_errors=True)
                _run(["dpkg-deb", "-x", str(deb), str(part)])
                part.rename(dest)
    kernel_dirs = sorted(root.glob(f"{kernel_pkg}_*"))
    busybox_dirs = sorted(root.glob(f"{BUSYBOX_PACKAGE}_*"))
    kernels = sorted(kernel_dirs[-1].glob("boot/vmlinu*")) if kernel_dirs else []
    busybox = busybox_dirs[-1] / "bin" / "busybox" if busybox_dirs else None
    if not kernels or busybox is None or not busybox.is_file():
        raise FetchError(f"the packages in {root} hold no boot/vmlinuz or bin/busybox")
    files = LinuxFiles(kernels[0], busybox, kernel_pkg.removeprefix("linux-image-"))
    (root / "linux.json").write_text(json.dumps({
        "kernel": str(files.kernel), "busybox": str(files.busybox),
        "kernel_version": files.kernel_version}, indent=2) + "\n")
    return files
