"""The Debian packages Qt's xcb platform plugin needs, and which of them are missing.

PySide6's wheels bring Qt but not the X libraries its xcb plugin links against; on a
minimal Debian the plugin then fails to load and Qt names only one of the missing
libraries. This asks the dynamic linker (ldd) what the installed plugin loads, maps
every library that is not found to its Debian package and prints the packages, one a
line, so ./workbench can install them (root) or print the exact apt-get command.

Run with the project's Python: `python scripts/qt_system_libs.py [--all]`.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

# Every library outside Qt that the xcb plugin, its QPA library and its GL
# integrations load (directly or through each other) -> the Debian package that
# ships it. tests/app/test_system_libs.py checks this against ldd and dpkg.
PACKAGE_OF_SONAME = {
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libpng16.so.16": "libpng16-16",
    "libexpat.so.1": "libexpat1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libsystemd.so.0": "libsystemd0",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
    "liblzma.so.5": "liblzma5",
    "liblz4.so.1": "liblz4-1",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbsd.so.0": "libbsd0",
    "libmd.so.0": "libmd0",
    "libcap.so.2": "libcap2",
    "libgcrypt.so.20": "libgcrypt20",
    "libgpg-error.so.0": "libgpg-error0",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
}
# The C library's own pieces: always present, nothing to install.
LIBC = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1",
        "linux-vdso.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}


def pyside_dir() -> Path | None:
    """The installed PySide6 package, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def xcb_files(pyside: Path) -> list[Path]:
    """The files Qt loads to open an X display: the platform plugin, its QPA library
    and the GL integrations it tries."""
    qt = pyside / "Qt"
    files = [qt / "plugins" / "platforms" / "libqxcb.so"]
    files += sorted((qt / "lib").glob("libQt6XcbQpa.so*"))[:1]
    files += sorted((qt / "plugins" / "xcbglintegrations").glob("*.so"))
    return [f for f in files if f.exists()]


def linked(files: list[Path]) -> dict[str, str | None]:
    """soname -> the path ldd resolved it to, or None when not found; Qt's own
    libraries and the C library left out."""
    found: dict[str, str | None] = {}
    for f in files:
        out = subprocess.run(["ldd", str(f)], capture_output=True, text=True).stdout
        for line in out.splitlines():
            name, _, rest = line.strip().partition(" => ")
            name = name.split(" ")[0]
            base = Path(name).name
            if not base or base in LIBC or base.startswith("libQt6") or "PySide6" in rest:
                continue
            path = rest.split(" (")[0].strip()
            if path == "not found":
                found[base] = None
            elif base not in found:
                found[base] = path or None
    return found


def package_of(soname: str) -> str:
    """The Debian package for a library; for one not in the table, Debian's naming
    rule (libfoo.so.N -> libfooN, libfoo-1.so.N -> libfoo-1-N)."""
    if soname in PACKAGE_OF_SONAME:
        return PACKAGE_OF_SONAME[soname]
    stem, _, version = soname.partition(".so.")
    stem = stem.lower()
    major = version.split(".")[0]
    return f"{stem}-{major}" if stem[-1:].isdigit() else f"{stem}{major}"


def missing_packages() -> list[str]:
    """The packages to install for the xcb plugin to load, sorted; [] when it loads."""
    pyside = pyside_dir()
    if pyside is None:
        return []
    libs = linked(xcb_files(pyside))
    return sorted({package_of(name) for name, path in libs.items() if path is None})


def main(argv: list[str]) -> int:
    if "--all" in argv:
        pyside = pyside_dir()
        libs = linked(xcb_files(pyside)) if pyside else {}
        for name in sorted(libs):
            print(f"{name}\t{package_of(name)}\t{libs[name] or 'not found'}")
        return 0
    for package in missing_packages():
        print(package)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
