"""Figure 7: Pmake on 8 CPUs: the SMP kernel on the bare machine (= 100) against 1, 2, 4
and 8 VMs sharing out the same CPUs and jobs (Figure 6's runs with Disco's sharing),
split User / Kernel / DISCO / Idle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from disco_core.experiments.base import Config, Experiment, Result, find, shares
from disco_core.experiments.fig5 import PARTS
from disco_core.experiments.fig6 import JOBS, MACHINE, VM_COUNTS, scaled_runs


class Fig7(Experiment):
    name = "fig7"
    title = "Figure 7: Pmake on 8 CPUs, 1-8 VMs against the SMP kernel (= 100)"
    paper_ref = "§5.4, Figure 7"
    chart = "stacked"

    def runs(self, scale: str) -> list[Config]:
        native = {"kind": "native", "machine": MACHINE, "commands": [f"pmake {JOBS[scale]}"]}
        return [native, *scaled_runs(scale, "disco")]

    def summarise(self, configs: Sequence[Config], results: Sequence[Result],
                  scale: str) -> dict[str, Any]:
        paper = self.paper()
        n = find(configs, results, kind="native")
        base = n["breakdown"]["total"]
        rows = [{"workload": "SMP kernel", "vms": 0, "relative": 100.0,
                 "breakdown": shares(n["breakdown"], base, PARTS),
                 "cycles": n["cycles"], "paper": paper["IRIX"]}]
        for k in VM_COUNTS:
            d = find(configs, results, kind="disco", vms=k, sharing="disco")
            rows.append({"workload": f"{k} VM" + ("s" if k > 1 else ""), "vms": k,
                         "relative": round(100.0 * d["cycles"] / n["cycles"], 2),
                         "breakdown": shares(d["breakdown"], base, PARTS),
                         "cycles": d["cycles"], "paper": paper[str(k)]})
        return {"rows": rows, "parts": list(PARTS),
                "workload": f"pmake {JOBS[scale]} in all on {MACHINE}"}
