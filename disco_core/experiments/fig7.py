"""Figure 7: Pmake on 8 CPUs: the SMP kernel on the bare machine (= 100) against 1, 2, 4
and 8 VMs sharing out the same CPUs and jobs (Figure 6's runs with Disco's sharing),
split User / Kernel / DISCO / Idle. Beside each Disco bar, the same runs with ASID
remapping instead of TLB flushes on vCPU switch, and each variant's TLB flushes at
vCPU switches (k VMs of 8/k vCPUs on 8 CPUs: a vCPU has a CPU of its own, so there is
little or nothing to flush)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from disco_core.errors import DiscoError
from disco_core.experiments.base import (
    Config,
    Experiment,
    Result,
    find,
    find_all,
    shares,
    tlb_flushes,
    vcpu_switches,
)
from disco_core.experiments.fig5 import PARTS, remapped
from disco_core.experiments.fig6 import JOBS, MACHINE, VM_COUNTS, scaled_runs


class Fig7(Experiment):
    name = "fig7"
    title = "Figure 7: Pmake on 8 CPUs, 1-8 VMs against the SMP kernel (= 100)"
    paper_ref = "§5.4, Figure 7"
    chart = "stacked"

    def runs(self, scale: str) -> list[Config]:
        native = {"kind": "native", "machine": MACHINE, "commands": [f"pmake {JOBS[scale]}"]}
        disco = scaled_runs(scale, "disco")
        return [native, *disco, *(remapped(c) for c in disco)]

    def summarise(self, configs: Sequence[Config], results: Sequence[Result],
                  scale: str) -> dict[str, Any]:
        paper = self.paper()
        n = find(configs, results, kind="native")
        base = n["breakdown"]["total"]
        rows = [{"workload": "SMP kernel", "vms": 0, "relative": 100.0,
                 "breakdown": shares(n["breakdown"], base, PARTS),
                 "cycles": n["cycles"], "paper": paper["IRIX"]}]
        for k in VM_COUNTS:
            # Disco's run first, its ASID-remapping twin after it (runs())
            both = find_all(configs, results, kind="disco", vms=k, sharing="disco")
            d, r = both[0], both[-1]
            if r["checksums"] != d["checksums"]:
                raise DiscoError(f"{k} VMs: the ASID-remapping runs disagree on the result "
                                 f"({r['checksums']} vs {d['checksums']})")
            rows.append({"workload": f"{k} VM" + ("s" if k > 1 else ""), "vms": k,
                         "relative": round(100.0 * d["cycles"] / n["cycles"], 2),
                         "relative_asid_remap": round(100.0 * r["cycles"] / n["cycles"], 2),
                         "breakdown": shares(d["breakdown"], base, PARTS),
                         "breakdown_asid_remap": shares(r["breakdown"], base, PARTS),
                         "cycles": d["cycles"], "asid_remap_cycles": r["cycles"],
                         "tlb_flushes": tlb_flushes(d),
                         "tlb_flushes_asid_remap": tlb_flushes(r),
                         "vcpu_switches": vcpu_switches(d),
                         "vcpu_switches_asid_remap": vcpu_switches(r),
                         "paper": paper[str(k)]})
        return {"rows": rows, "parts": list(PARTS),
                "workload": f"pmake {JOBS[scale]} in all on {MACHINE}"}
