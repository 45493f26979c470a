"""Running experiments and parameter sweeps: configurations out, summaries back.

`run_experiments` gathers every run of the named experiments (at one scale,
once per sweep point), hands the lot to the runner in one go (so they spread
over all the workers, and runs two experiments share are simulated once) and
summarises each experiment at each point.

A sweep (`--sweep KEY=V1,V2,...`, several make a grid) sets one configuration
key for the runs it applies to: ``costs.NAME``, ``numa.NAME`` (NumaParams),
``asid_remap``, ``numa_policy`` and ``sharing`` change the runs under the
monitor; ``overrides.NAME`` (MachineConfig fields) every run.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from disco_core.errors import DiscoError
from disco_core.experiments.base import Config, check_scale, failed
from disco_core.experiments.cache import ResultCache
from disco_core.experiments.registry import get
from disco_core.experiments.runner import Cancel, Executor, Progress, run_all

DISCO_ONLY = ("costs", "numa", "asid_remap", "numa_policy", "sharing")
NESTED = ("costs", "numa", "overrides")
FLAT = ("asid_remap", "numa_policy", "sharing")

Point = tuple[tuple[str, Any], ...]     # one grid point: ((key, value), ...)


def parse_value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_sweep(specs: Sequence[str]) -> list[tuple[str, list[Any]]]:
    """``["numa.hot_threshold=16,32"]`` -> ``[("numa.hot_threshold", [16, 32])]``."""
    out = []
    for spec in specs:
        key, eq, values = spec.partition("=")
        key = key.strip()
        if not eq or not key or not values.strip():
            raise DiscoError(f"sweep {spec!r}: write KEY=V1,V2,...")
        head, dot, tail = key.partition(".")
        if (head in NESTED and not (dot and tail)) or (head not in NESTED and
                                                        (dot or head not in FLAT)):
            raise DiscoError(f"sweep key {key!r}: use costs.NAME, numa.NAME, overrides.NAME, "
                             f"{', '.join(FLAT)}")
        out.append((key, [parse_value(v.strip()) for v in values.split(",") if v.strip()]))
    return out


def grid(sweep: Sequence[tuple[str, list[Any]]]) -> list[Point]:
    if not sweep:
        return [()]
    keys = [k for k, _ in sweep]
    return [tuple(zip(keys, vals, strict=True))
            for vals in itertools.product(*(v for _, v in sweep))]


def apply(config: Mapping[str, Any], point: Point) -> Config:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    for key, value in point:
        head, _, tail = key.partition(".")
        if head in DISCO_ONLY and out.get("kind", "native") != "disco":
            continue
        if tail:
            out[head] = {**out.get(head, {}), tail: value}
        else:
            out[head] = value
    return out


def label(point: Point) -> str:
    return ", ".join(f"{k}={v}" for k, v in point) or "default"


@dataclass
class Summary:
    """One experiment at one point: its summary and the runs behind it."""

    name: str
    title: str
    paper_ref: str
    chart: str
    scale: str
    point: Point
    summary: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"experiment": self.name, "title": self.title,
                               "paper_ref": self.paper_ref, "chart": self.chart,
                               "scale": self.scale, "sweep": dict(self.point), **self.summary,
                               "runs": self.runs}
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class SuiteResult:
    summaries: list[Summary]
    ran: int
    cached: int
    identity: str
    wall_seconds: float
    executor: str


def run_experiments(names: Sequence[str], scale: str = "paper",
                    sweep: Sequence[tuple[str, list[Any]]] = (),
                    executor: Executor | None = None, cache: ResultCache | None = None,
                    progress: Progress | None = None, use_cache: bool = True,
                    cancel: Cancel | None = None) -> SuiteResult:
    check_scale(scale)
    experiments = [get(n) for n in names]
    points = grid(sweep)
    plan: list[tuple[int, Point, list[Config]]] = []
    configs: list[Config] = []
    for i, e in enumerate(experiments):
        for p in points:
            cs = [apply(c, p) for c in e.runs(scale)]
            plan.append((i, p, cs))
            configs.extend(cs)
    start = time.perf_counter()
    executor = executor or Executor()
    outcome = run_all(configs, executor, cache, progress, use_cache, cancel)
    wall = time.perf_counter() - start
    summaries = []
    at = 0
    for i, p, cs in plan:
        e = experiments[i]
        results = outcome.results[at:at + len(cs)]
        at += len(cs)
        runs = [{"config": r.get("config"), "key": r.get("key"), "cycles": r.get("cycles"),
                 "checksums": r.get("checksums"), "wall_seconds": r.get("wall_seconds"),
                 **({"error": r["error"]} if "error" in r else {})} for r in results]
        s = Summary(e.name, e.title, e.paper_ref, e.chart, scale, p, {}, runs)
        errors = failed(results)
        if errors:
            s.error = "; ".join(errors)
        else:
            norm = [r["config"] for r in results]
            try:
                s.summary = e.summarise(norm, results, scale)
            except DiscoError as err:
                s.error = str(err)
        summaries.append(s)
    return SuiteResult(summaries, outcome.ran, outcome.cached, outcome.identity, wall,
                       executor.describe())


# ---- text output ----------------------------------------------------------------------

def headline(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """(row label, the row's main number) for the sweep table and the text output."""
    out = []
    for row in summary.get("rows", []):
        if "relative" in row:
            lab = " ".join(str(row[k]) for k in ("workload", "policy") if k in row)
            out.append((lab, row["relative"]))
        elif "disco_M" in row:
            out.append((f"{row['vms']} VMs machine MB", row["disco_M"]))
        elif "slowdown" in row:
            out.append(("slowdown", row["slowdown"]))
        elif "per_second" in row:
            out.append((f"{row['workload']} {row['action']}/s", row["per_second"]))
    return out


def format_summary(s: Summary) -> str:
    lines = [f"{s.title}  [{s.scale}{'; ' + label(s.point) if s.point else ''}]"]
    if s.error:
        lines.append(f"  failed: {s.error}")
        return "\n".join(lines)
    rows = s.summary.get("rows", [])
    if not rows:
        return "\n".join(lines)
    # every row's columns (Figure 7's SMP row has no ASID-remapping column)
    keys = list(dict.fromkeys(k for r in rows for k, v in r.items()
                              if not isinstance(v, dict | list)))
    widths = {k: max(len(k), *(len(_cell(r.get(k))) for r in rows)) for k in keys}
    lines.append("  " + "  ".join(k.rjust(widths[k]) for k in keys))
    for r in rows:
        lines.append("  " + "  ".join(_cell(r.get(k)).rjust(widths[k]) for k in keys))
        for name in ("breakdown", "breakdown_asid_remap"):
            b = r.get(name)
            if isinstance(b, dict):
                tag = "" if name == "breakdown" else "asid_remap: "
                lines.append("      " + tag + "  ".join(f"{k} {v}" for k, v in b.items()))
    return "\n".join(lines)


def format_sweep(summaries: Sequence[Summary]) -> str:
    """Per experiment: one column per grid point, one line per headline row."""
    lines = []
    by_name: dict[str, list[Summary]] = {}
    for s in summaries:
        by_name.setdefault(s.name, []).append(s)
    for ss in by_name.values():
        lines.append(ss[0].title + " — sweep")
        cols = [label(s.point) for s in ss]
        heads = [dict(headline(s.summary)) if not s.error else {} for s in ss]
        labels = list(dict.fromkeys(k for h in heads for k in h))
        w0 = max([len(x) for x in labels] + [8])
        widths = [max(len(c), 10) for c in cols]
        lines.append("  " + " " * w0 + "  " + "  ".join(c.rjust(w) for c, w in
                                                          zip(cols, widths, strict=True)))
        for lab in labels:
            cells = [_cell(h.get(lab, "failed" if s.error else "")).rjust(w)
                     for h, s, w in zip(heads, ss, widths, strict=True)]
            lines.append("  " + lab.ljust(w0) + "  " + "  ".join(cells))
        lines.append("")
    return "\n".join(lines).rstrip()


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)
