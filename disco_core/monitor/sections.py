"""Versioned state sections: how each part of the monitor saves and loads itself.

A section is plain data (dicts, lists, ints, strings, bytes, booleans, None), so
it can be written as JSON (bytes aside) or msgpack: `{"section": name,
"version": n, ...}`. Each part (scheduler, pmap, L2TLB, vCPU, ...) has a
`state()` giving its section and a `load_state(section)` that loads one into a
fresh instance, after `check` has refused a section of another name or
version. A wrong or malformed section is a SnapshotError naming what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from disco_core.errors import SnapshotError

Section = dict[str, Any]


def make(name: str, version: int, /, **data: Any) -> Section:
    """A section named `name` at `version` holding `data`."""
    return {"section": name, "version": version, **data}


def check(section: object, name: str, version: int, *keys: str) -> Section:
    """The section, if it is `name` at `version` with every key in `keys`."""
    if not isinstance(section, dict):
        raise SnapshotError(f"the {name} section is a {type(section).__name__}, not a dict")
    got = section.get("section")
    if got != name:
        raise SnapshotError(f"expected a {name!r} section, got {got!r}")
    ver = section.get("version")
    if ver != version:
        raise SnapshotError(f"the {name} section is version {ver!r}; this monitor reads "
                            f"version {version} only")
    missing = [k for k in keys if k not in section]
    if missing:
        raise SnapshotError(f"the {name} section lacks {', '.join(missing)}")
    return section


@contextmanager
def loading(name: str) -> Iterator[None]:
    """Turn a malformed value met while loading section `name` into a SnapshotError."""
    try:
        yield
    except SnapshotError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise SnapshotError(f"the {name} section is malformed: {type(e).__name__}: {e}") from e


def tupled(value: Any) -> Any:
    """A key saved as a list (JSON has no tuples) as the tuple it was."""
    return tuple(tupled(v) for v in value) if isinstance(value, list) else value


def listed(value: Any) -> Any:
    """A tuple key as a list, for saving."""
    return [listed(v) for v in value] if isinstance(value, tuple) else value
