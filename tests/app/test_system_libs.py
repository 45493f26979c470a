"""./workbench's check for the system libraries Qt's xcb plugin loads: the table of
Debian packages agrees with what the installed PySide6 links (ldd) and with the
packages that ship those files (dpkg), and the check prints the exact command."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qt_system_libs",
                                                  ROOT / "scripts" / "qt_system_libs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _candidates(path: str) -> list[str]:
    real = os.path.realpath(path)
    both = [path, real] + [p.replace("/usr/lib/", "/lib/", 1) for p in (path, real)]
    return both + [p.replace("/lib/", "/usr/lib/", 1) for p in (path, real)
                   if not p.startswith("/usr/")]


def test_table_covers_what_the_xcb_plugin_loads() -> None:
    libs = _module()
    pyside = libs.pyside_dir()
    assert pyside is not None
    files = libs.xcb_files(pyside)
    assert any(f.name == "libqxcb.so" for f in files)
    linked = libs.linked(files)
    assert "libxcb.so.1" in linked and "libxcb-icccm.so.4" in linked
    unknown = sorted(set(linked) - set(libs.PACKAGE_OF_SONAME))
    assert not unknown, f"add these to PACKAGE_OF_SONAME: {unknown}"
    assert shutil.which("dpkg"), "dpkg is needed to check the table (Debian)"
    for soname, path in linked.items():
        if path is None:
            continue  # not installed here: checked against apt's index below
        owner = ""
        for candidate in _candidates(path):  # dpkg knows one of /lib and /usr/lib
            owner = owner or subprocess.run(["dpkg", "-S", candidate],
                                            capture_output=True, text=True).stdout
        packages = {entry.split(":")[0].strip() for entry in owner.split(": ")[0].split(",")}
        assert libs.PACKAGE_OF_SONAME[soname] in packages, (soname, owner)
    for soname in [s for s, p in linked.items() if p is None]:
        shown = subprocess.run(["apt-cache", "show", libs.PACKAGE_OF_SONAME[soname]],
                               capture_output=True, text=True)
        assert shown.returncode == 0, soname


def test_debian_naming_rule_for_unlisted_libraries() -> None:
    libs = _module()
    assert libs.package_of("libxcb-foo.so.3") == "libxcb-foo3"
    assert libs.package_of("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert libs.package_of("libbar-2.so.7") == "libbar-2-7"


def test_check_prints_the_install_command_when_not_root(tmp_path) -> None:
    # A stand-in python that reports two missing packages, and an `id` saying we
    # are not root: the check prints the exact apt-get command and installs nothing.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    fake_python = venv / "bin" / "python"
    fake_python.write_text("#!/bin/sh\necho libxcb-icccm4\necho libxcb-keysyms1\n")
    fake_id = tmp_path / "shims" / "id"
    fake_id.parent.mkdir()
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    for f in (fake_python, fake_id):
        f.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_id.parent}:{os.environ['PATH']}",
           "QT_QPA_PLATFORM": "xcb"}
    script = f'venv={venv}; root={ROOT}; source {ROOT}/scripts/qt-libs.sh'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0
    assert ("sudo apt-get install -y --no-install-recommends libxcb-icccm4 libxcb-keysyms1"
            in done.stderr)
    env["QT_QPA_PLATFORM"] = "offscreen"
    quiet = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert quiet.stderr == ""
    assert sys.executable  # the real check runs under the project's Python
