"""The built wheel works outside the checkout: `disco` and `disco-workbench` from a fresh venv.

The wheel is built the way `python -m build` does it (an sdist first, the wheel
from the unpacked sdist), from a copy of the checkout, so MANIFEST.in and
setup.py's package mapping are both exercised and nothing is written into the
source tree. The fresh virtual environment gets the third-party dependencies
from the project's own environment through a .pth file that lists links to
them (no downloads), leaving out everything of this project, so what runs is
the wheel's copy.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

from disco_core.guest import cache_dir

ROOT = Path(__file__).resolve().parents[2]
# What the sdist is made from (MANIFEST.in picks the files inside).
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "CHANGELOG.md",
           "core_c", "disco_core", "app", "resources", "packaging")
# Names in the project's site-packages that belong to the project itself.
OWN = ("disco_core", "disco_workbench", "app", "__editable__")
TIMEOUT = 300

pytestmark = pytest.mark.slow


def run(cmd: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def build_wheel(work: Path) -> Path:
    src = work / "src"
    src.mkdir()
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "_dc_cffi*.c", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=junk)
        else:
            shutil.copy2(ROOT / name, src / name)
    backend = "import setuptools.build_meta as b, sys; print(b.build_sdist(sys.argv[1]))"
    name = run([sys.executable, "-c", backend, work / "sdist"], cwd=src).stdout.split()[-1]
    with tarfile.open(work / "sdist" / name) as tar:
        tar.extractall(work / "unpacked", filter="data")
    (tree,) = (work / "unpacked").iterdir()
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", work / "dist", tree], cwd=work)
    (wheel,) = (work / "dist").glob("disco_workbench-*.whl")
    return wheel


def link_dependencies(target: Path) -> Path:
    """A folder of links to the project environment's packages, minus the project's own."""
    target.mkdir()
    for site in dict.fromkeys((sysconfig.get_path("purelib"), sysconfig.get_path("platlib"))):
        for entry in Path(site).iterdir():
            if entry.name.startswith(OWN) or entry.suffix == ".pth" or entry.name == "__pycache__":
                continue
            if not (target / entry.name).exists():
                (target / entry.name).symlink_to(entry)
    return target


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv outside the checkout with the wheel installed; returns its bin/."""
    work = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(work)
    env_dir = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", env_dir], cwd=work)
    python = env_dir / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", wheel], cwd=work)
    # Only after pip has run: the project's own distribution must not be visible to it.
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               cwd=work).stdout.strip()
    (Path(site) / "project-deps.pth").write_text(f"{link_dependencies(work / 'deps')}\n")
    return env_dir / "bin"


@pytest.fixture()
def elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A working directory outside the checkout, and an environment whose build cache
    is a fresh XDG cache (sharing zig's own cache, so compiler_rt is not rebuilt)."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    xdg = tmp_path / "xdg"
    zig = cache_dir() / "zig"
    zig.mkdir(parents=True, exist_ok=True)
    (xdg / "disco-workbench").mkdir(parents=True)
    (xdg / "disco-workbench" / "zig").symlink_to(zig)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISCO_CACHE_DIR", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(XDG_CACHE_HOME=str(xdg), QT_QPA_PLATFORM="offscreen")
    return cwd, env


def test_the_installed_packages_come_from_the_wheel(venv: Path,
                                                    elsewhere: tuple[Path, dict[str, str]]):
    cwd, env = elsewhere
    probe = ("import importlib.util, disco_core, disco_workbench\n"
             "from disco_core.guest import resources_dir\n"
             "print(disco_core.__file__, disco_workbench.__file__, resources_dir(),"
             " importlib.util.find_spec('app'))\n")
    core, workbench, resources, app = run([venv / "python", "-c", probe], cwd, env).stdout.split()
    inside = venv.parent.resolve()
    for path in (core, workbench, resources):
        assert Path(path).resolve().is_relative_to(inside), path
    assert Path(resources, "guest", "kernel", "mcall.h").is_file()
    assert Path(resources, "icons", "hicolor", "256x256", "apps", "disco-workbench.png").is_file()
    assert app == "None", "the wheel must not install a top-level package named app"


def test_disco_boots_vms_from_another_directory(venv: Path,
                                                elsewhere: tuple[Path, dict[str, str]]):
    cwd, env = elsewhere
    out = run([venv / "disco", "boot", "--machine", "flash8", "--vms", "2", "--run", "ls"],
              cwd, env).stdout
    for vm in ("vm0", "vm1"):
        assert f"[{vm}] $ ls" in out
        for name in ("README", "cat", "sh", "wc"):
            assert any(line.startswith(f"[{vm}] {name} ") for line in out.splitlines()), out
    # The guest programs were built into the XDG cache, not next to the package.
    assert list((Path(env["XDG_CACHE_HOME"]) / "disco-workbench" / "programs").glob("*.elf"))


def test_disco_workbench_takes_a_screenshot(venv: Path, elsewhere: tuple[Path, dict[str, str]]):
    cwd, env = elsewhere
    run([venv / "disco-workbench", "--vms", "2", "--run", "ls", "--run-for", "2",
         "--screenshot", "shot.png"], cwd, env)
    png = (cwd / "shot.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 800 and height >= 500, (width, height)
    # A blank window compresses to almost nothing; the views drawn do not.
    assert len(png) > 50_000, len(png)
