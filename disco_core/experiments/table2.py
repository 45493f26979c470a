"""Table 2: where Pmake's system time goes under the monitor, relative to the native
kernel's system time (= 1). The paper splits it per kernel service (DEMAND_ZERO, read,
...); the monitor's statistics are per exit kind, so ours is one row for the whole of
Pmake's kernel time plus the monitor's work by the paper's categories. The runs are
Figure 5's (the same configurations, so the same cache entries)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from disco_core.experiments.base import Config, Experiment, Result, check_scale
from disco_core.experiments.fig5 import WORKLOADS, pair, uniprocessor_runs

# the paper's columns, then ours beyond them
COLUMNS = ("kernel", "tlb_write", "privileged", "monitor_call", "kernel_tlb_fault",
           "l2tlb_refill", "reflected")


def pmake(scale: str) -> str:
    return next(w for w in WORKLOADS[scale] if w.startswith("pmake"))


class Table2(Experiment):
    name = "table2"
    title = "Table 2: Pmake's system time under the monitor (native kernel time = 1)"
    paper_ref = "§5.2, Table 2"
    chart = "table"

    def runs(self, scale: str) -> list[Config]:
        return uniprocessor_runs(pmake(check_scale(scale)))

    def summarise(self, configs: Sequence[Config], results: Sequence[Result],
                  scale: str) -> dict[str, Any]:
        command = pmake(scale)
        n, d = pair(configs, results, command)
        base = n["breakdown"]["kernel"] or 1
        mon = d["monitor"]
        row: dict[str, Any] = {"service": f"all of {command}'s kernel time"}
        row["kernel"] = round(d["breakdown"]["kernel"] / base, 3)
        for c in COLUMNS[1:]:
            row[c] = round(mon.get(c, [0, 0])[1] / base, 3)
        row["slowdown"] = round(sum(row[c] for c in COLUMNS), 3)
        exits = [{"kind": k, "count": c, "cycles": cy, "average": round(cy / c, 1)}
                 for k, (c, cy) in sorted(d["exits"].items())]
        return {"rows": [row], "columns": ["slowdown", *COLUMNS], "exits": exits,
                "native_kernel_cycles": n["breakdown"]["kernel"],
                "kernel_share_native": round(n["breakdown"]["kernel"] / n["breakdown"]["total"],
                                             3)}
