"""Table 3: the NUMA manager's hot-page actions in Figure 8's migrate+replicate runs:
migrations and replications per second of simulated time and their average cost."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from disco_core.experiments.base import Config, Experiment, Result, find
from disco_core.experiments.fig8 import WORKLOADS, _match, policy_run

ACTIONS = (("migration", "migrate", "migrations"), ("replication", "replicate", "replications"))


class Table3(Experiment):
    name = "table3"
    title = "Table 3: hot-page actions (per second, average cost)"
    paper_ref = "§5.5, Table 3"
    chart = "table"

    def runs(self, scale: str) -> list[Config]:
        return [policy_run(w, "migrate_replicate", scale) for w in WORKLOADS]

    def summarise(self, configs: Sequence[Config], results: Sequence[Result],
                  scale: str) -> dict[str, Any]:
        paper = self.paper()
        rows = []
        for w in WORKLOADS:
            r = find(configs, results, **_match(policy_run(w, "migrate_replicate", scale)))
            hz = r["clock_hz"]
            seconds = r["cycles"] / hz
            for action, kind, counter in ACTIONS:
                n = r["numa"][counter]
                count, cycles = r["exits"].get(kind, [0, 0])
                rows.append({
                    "workload": w, "action": action, "count": n,
                    "per_second": round(n / seconds, 1) if seconds else 0.0,
                    "average_us": round(1e6 * cycles / count / hz, 1) if count else None,
                    "paper_per_second": paper[w][action][0],
                    "paper_average_us": paper[w][action][1],
                })
        return {"rows": rows}
