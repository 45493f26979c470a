"""A cost table file: the monitor's cost model (costs.py) with some entries changed.

The file is TOML with top-level keys only, one per CostModel field, each a
whole number of simulated cycles (0 or more); what it does not name keeps the
default (docs/recording-format.md, "Cost table files"):

    # costs-cheap-traps.toml
    trap = 20
    reflect = 25

Anything else (a key that is no cost, a value that is not a whole number of
cycles, a table, a syntax error) is a DiscoError naming the file and the fix.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from disco_core.errors import DiscoError
from disco_core.monitor.costs import DEFAULT, CostModel

MAX_CYCLES = 1 << 32  # one action costing more than ~21 s at 200 MHz is a typo


def cost_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(CostModel))


def check_costs(table: object, where: str) -> dict[str, int]:
    """`table` (a mapping read from a file or a recording) as {field: cycles}, checked."""
    if not isinstance(table, dict):
        raise DiscoError(f"{where}: a cost table maps cost names to cycles")
    names = cost_names()
    out: dict[str, int] = {}
    for key, value in table.items():
        if key not in names:
            raise DiscoError(f"{where}: {key!r} is not a cost of the monitor; the costs are "
                             f"{', '.join(names)}")
        if isinstance(value, bool) or not isinstance(value, int) \
                or not 0 <= value < MAX_CYCLES:
            raise DiscoError(f"{where}: {key} = {value!r}: give a whole number of simulated "
                             f"cycles from 0 to {MAX_CYCLES - 1}")
        out[key] = value
    return dict(sorted(out.items()))


def read_cost_table(path: str | Path) -> dict[str, int]:
    """The entries a cost table file changes, checked (sorted by name)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as e:
        raise DiscoError(f"cost table {p}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise DiscoError(f"cost table {p}: not a text file (UTF-8 TOML expected)") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DiscoError(f"cost table {p}: not TOML ({e}); write one `name = cycles` "
                         "per line") from None
    return check_costs(table, f"cost table {p}")


def cost_model(changes: dict[str, int] | None) -> CostModel:
    """The default model with `changes` applied."""
    return dataclasses.replace(DEFAULT, **changes) if changes else DEFAULT
