"""Figure 6: memory footprint of 1, 2, 4 and 8 VMs sharing out the machine (8 CPUs) and a
Pmake load: virtual (what the VMs' guest pages would take unshared) against machine
(what they take), with Disco's sharing (the global disk cache and kernel text) and with
ESX-style content sharing beside it. Measured when the last VM's Pmake has finished."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from disco_core.experiments.base import Config, Experiment, Result, check_scale, find

MACHINE = "flash8"
CPUS = 8
VM_COUNTS = (1, 2, 4, 8)
JOBS = {"paper": 16, "quick": 8}      # Pmake jobs in all, split evenly over the VMs
SHARING = ("disco", "content")
PAGE_MB = 4096 / (1 << 20)


def scaled_runs(scale: str, sharing: str) -> list[Config]:
    """k VMs of 8/k vCPUs each running pmake jobs/k (migration and replication off,
    as for the paper's Figures 6 and 7)."""
    jobs = JOBS[check_scale(scale)]
    return [{"kind": "disco", "machine": MACHINE, "vms": k, "vcpus": CPUS // k,
             "commands": [f"pmake {jobs // k}"], "numa_policy": "first_touch",
             "sharing": sharing} for k in VM_COUNTS]


class Fig6(Experiment):
    name = "fig6"
    title = "Figure 6: memory footprint of Pmake in 1-8 VMs (MB)"
    paper_ref = "§5.3, Figure 6"
    chart = "footprint"

    def runs(self, scale: str) -> list[Config]:
        return [c for s in SHARING for c in scaled_runs(scale, s)]

    def summarise(self, configs: Sequence[Config], results: Sequence[Result],
                  scale: str) -> dict[str, Any]:
        paper = self.paper()
        rows = []
        for k in VM_COUNTS:
            row: dict[str, Any] = {"vms": k, "paper_V": paper["V"][str(k)],
                                   "paper_M": paper["M"][str(k)]}
            for s in SHARING:
                r = find(configs, results, vms=k, sharing=s)
                fp = r["footprint"]
                row[f"{s}_V"] = round(fp["virtual_pages"] * PAGE_MB, 2)
                row[f"{s}_M"] = round(fp["machine_pages"] * PAGE_MB, 2)
                row[f"{s}_shares"] = r.get("sharing_stats", {})
            rows.append(row)
        return {"rows": rows, "sharing": list(SHARING),
                "workload": f"pmake {JOBS[scale]} in all"}
