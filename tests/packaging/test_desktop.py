"""The desktop integration: icon set, desktop entry, AppStream metainfo, the window's icon."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from disco_core.guest import resources_dir

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt makes the application

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
NAME = "disco-workbench"
SIZES = (16, 32, 48, 64, 128, 256)
ICONS = resources_dir() / "icons" / "hicolor"


def desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in desktop entries
    parser.read(PACKAGING / f"{NAME}.desktop")
    return parser["Desktop Entry"]


def test_icon_set_has_every_size_and_the_svg():
    assert ET.parse(ICONS / "scalable" / "apps" / f"{NAME}.svg").getroot().tag.endswith("svg")
    for size in SIZES:
        png = (ICONS / f"{size}x{size}" / "apps" / f"{NAME}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", png[16:24]) == (size, size)


def test_desktop_entry_launches_the_installed_command_with_the_icon():
    entry = desktop_entry()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] in scripts
    assert entry["Icon"] == NAME
    assert entry["StartupWMClass"] == NAME


def test_metainfo_launches_the_desktop_entry():
    root = ET.parse(PACKAGING / f"{NAME}.metainfo.xml").getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("launchable") == f"{NAME}.desktop"
    assert root.findtext("name") == desktop_entry()["Name"]
    assert {b.text for b in root.iter("binary")} >= {NAME}


def _validate(tool: str, *args: str) -> None:
    assert shutil.which(tool), f"{tool} is missing: apt-get install desktop-file-utils appstream"
    proc = subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_desktop_entry_validates():
    _validate("desktop-file-validate", str(PACKAGING / f"{NAME}.desktop"))


def test_metainfo_validates():
    # The id is the desktop entry's name, not reverse-DNS: docs/packaging.md says why.
    _validate("appstreamcli", "validate", "--no-net", "--override=cid-desktopapp-is-not-rdns=info",
              str(PACKAGING / f"{NAME}.metainfo.xml"))


def test_the_window_icon_and_desktop_name_are_set(qapp):
    from PySide6.QtGui import QGuiApplication

    from app.__main__ import DESKTOP_NAME, set_identity

    set_identity()
    sizes = {s.width() for s in QGuiApplication.windowIcon().availableSizes()}
    assert sizes >= set(SIZES)
    assert QGuiApplication.desktopFileName() == DESKTOP_NAME == NAME
