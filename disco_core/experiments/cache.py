"""The result cache: one JSON file per run, keyed by the build identity and the configuration.

A run's result is a pure function of its configuration and of the code that
simulates it, so the key is a hash of both: the *build identity* (the C core's
shared object, every Python source of disco_core and the guest sources in
resources/guest) and the configuration as canonical JSON. Changing any source
file starts a fresh cache; changing one configuration reruns only it.
Files live under ``<cache_dir>/experiments/`` (``$DISCO_CACHE_DIR`` or the XDG
cache directory, guest.cache_dir).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def canonical(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


@functools.cache
def build_identity() -> str:
    """A hash of everything a result depends on besides its configuration."""
    from disco_core.guest import resources_dir
    from disco_core.machine import core_build_id

    h = hashlib.sha256(core_build_id().encode())
    package = Path(__file__).resolve().parents[1]
    sources = sorted(package.rglob("*.py"))
    guest = resources_dir() / "guest"
    sources += sorted(p for p in guest.rglob("*") if p.is_file())
    for p in sources:
        rel = p.relative_to(package if p.is_relative_to(package) else guest.parent)
        h.update(str(rel).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def run_key(config: Mapping[str, Any], identity: str | None = None) -> str:
    ident = identity if identity is not None else build_identity()
    return hashlib.sha256((ident + "\0" + canonical(config)).encode()).hexdigest()[:24]


def default_dir() -> Path:
    from disco_core.guest import cache_dir

    return cache_dir() / "experiments"


class ResultCache:
    """Results on disk by run key; written atomically so parallel writers never tear one."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_dir()

    def path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, result: Mapping[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(result, sort_keys=True))
        tmp.replace(self.path(key))
