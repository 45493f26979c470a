"""What an experiment is: a set of independent runs and a summary of their results.

An experiment names the run configurations it needs at a scale ("paper": the
paper's configuration at our workloads' largest sizes that stay practical;
"quick": the same shape, small, for tests) and turns their results into rows
(`summarise`). Runs shared by two experiments (Table 2 reuses Figure 5's pmake
runs) have the same configuration and so the same cache entry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from disco_core.errors import DiscoError

SCALES = ("paper", "quick")
Config = dict[str, Any]
Result = dict[str, Any]


class Experiment(ABC):
    """Each figure or table is a subclass (fig5.py ... table3.py) giving both methods."""

    name = ""
    title = ""
    paper_ref = ""           # where in the paper (PAPER.md §3)
    chart = "table"          # how the report draws it: stacked, grouped, footprint, table

    @abstractmethod
    def runs(self, scale: str) -> list[Config]:
        """The run configurations this experiment needs at `scale`."""

    @abstractmethod
    def summarise(self, configs: Sequence[Config], results: Sequence[Result],
                  scale: str) -> dict[str, Any]:
        """``{"rows": [...], ...}``: the figure or table, one row per bar or line."""

    def paper(self) -> dict[str, Any]:
        """The paper's numbers, keyed like our rows (paper.py)."""
        from disco_core.experiments import paper

        return paper.NUMBERS.get(self.name, {})


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise DiscoError(f"no scale {scale!r}: choose one of {', '.join(SCALES)}")
    return scale


def failed(results: Sequence[Result]) -> list[str]:
    return [r["error"] for r in results if "error" in r]


def find(configs: Sequence[Config], results: Sequence[Result],
         **match: Any) -> Result:
    """The result of the (first) run whose configuration has these values."""
    for c, r in zip(configs, results, strict=True):
        if all(c.get(k) == v for k, v in match.items()):
            if "error" in r:
                raise DiscoError(f"run {match} failed: {r['error']}")
            return r
    raise DiscoError(f"no run with {match}")


def find_all(configs: Sequence[Config], results: Sequence[Result],
             **match: Any) -> list[Result]:
    """The results of every run whose configuration has these values, in run order."""
    out = []
    for c, r in zip(configs, results, strict=True):
        if all(c.get(k) == v for k, v in match.items()):
            if "error" in r:
                raise DiscoError(f"run {match} failed: {r['error']}")
            out.append(r)
    if not out:
        raise DiscoError(f"no run with {match}")
    return out


def tlb_flushes(result: Result) -> int:
    """Hardware TLB flushes at vCPU switches in a monitored run's measured region."""
    return int(result.get("tlb", {}).get("switch_flushes", 0))


def vcpu_switches(result: Result) -> int:
    """vCPU switches the monitor charged in a monitored run's measured region."""
    return int(result.get("tlb", {}).get("switches", 0))


def percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def shares(breakdown: Mapping[str, int], base: int, keys: Sequence[str]) -> dict[str, float]:
    """A breakdown's parts as percentages of `base` (the reference run's total)."""
    return {k: percent(breakdown.get(k, 0), base) for k in keys}
