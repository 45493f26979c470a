"""The experiments by name, in the paper's order."""

from __future__ import annotations

from disco_core.errors import DiscoError
from disco_core.experiments.base import Experiment
from disco_core.experiments.fig5 import Fig5
from disco_core.experiments.fig6 import Fig6
from disco_core.experiments.fig7 import Fig7
from disco_core.experiments.fig8 import Fig8
from disco_core.experiments.table2 import Table2
from disco_core.experiments.table3 import Table3

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e for e in (Fig5(), Table2(), Fig6(), Fig7(), Fig8(), Table3())
}


def get(name: str) -> Experiment:
    try:
        return EXPERIMENTS[name]
    except KeyError:
        raise DiscoError(f"no experiment {name!r}: choose from "
                         f"{', '.join(EXPERIMENTS)}") from None
