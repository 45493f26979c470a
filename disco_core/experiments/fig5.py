"""Figure 5: uniprocessor overhead. Each workload natively and in one VM under the monitor
on a one-CPU FLASH node (caches and memory timed), native = 100, split User / Kernel /
DISCO / Idle (simulate.py says how the split is measured).

Beyond the paper, each workload also runs under the monitor with ASID remapping instead
of a TLB flush on a vCPU switch (the `asid_remap` column), with each variant's TLB flushes
at vCPU switches beside it: on one CPU with one vCPU there is nothing to switch to, so
the two should differ only by what remapping itself does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from disco_core.errors import DiscoError
from disco_core.experiments.base import (
    Config,
    Experiment,
    Result,
    check_scale,
    find,
    find_all,
    shares,
    tlb_flushes,
    vcpu_switches,
)

# The paper's uniprocessor: one R10000-like CPU with its caches and local memory.
UNIPROCESSOR = {"machine": "test", "overrides": {"timing": True}}
PARTS = ("user", "kernel", "disco", "idle")
WORKLOADS = {
    "paper": ["pmake 16", "engineering 2", "raytrace 24", "database 4"],
    "quick": ["pmake 4", "engineering 1", "raytrace 8", "database 1"],
}


def uniprocessor_runs(command: str) -> list[Config]:
    native = {**UNIPROCESSOR, "kind": "native", "commands": [command]}
    disco = {**UNIPROCESSOR, "kind": "disco", "commands": [command], "vms": 1, "vcpus": 1,
             "numa_policy": "none"}
    return [native, disco]


def remapped(config: Config) -> Config:
    """The same monitored run with ASID remapping instead of TLB flushes on vCPU switch."""
    return {**config, "asid_remap": True}


def pair(configs: Sequence[Config], results: Sequence[Result],
         command: str) -> tuple[Result, Result]:
    n = find(configs, results, kind="native", commands=[command])
    d = find(configs, results, kind="disco", commands=[command])
    if n["checksums"].get(command) is None or n["checksums"] != d["checksums"]:
        raise DiscoError(f"{command}: native and disco runs disagree on the result "
                         f"({n['checksums']} vs {d['checksums']})")
    return n, d


class Fig5(Experiment):
    name = "fig5"
    title = "Figure 5: uniprocessor overhead (native = 100)"
    paper_ref = "§5.2, Figure 5"
    chart = "stacked"

    def runs(self, scale: str) -> list[Config]:
        out = []
        for w in WORKLOADS[check_scale(scale)]:
            native, disco = uniprocessor_runs(w)
            out += [native, disco, remapped(disco)]
        return out

    def summarise(self, configs: Sequence[Config], results: Sequence[Result],
                  scale: str) -> dict[str, Any]:
        rows = []
        paper = self.paper()
        for command in WORKLOADS[scale]:
            n, d = pair(configs, results, command)
            # Disco's run comes first, its ASID-remapping twin after it (runs())
            r = find_all(configs, results, kind="disco", commands=[command])[-1]
            if r["checksums"] != d["checksums"]:
                raise DiscoError(f"{command}: the ASID-remapping run disagrees on the result "
                                 f"({r['checksums']} vs {d['checksums']})")
            base = n["cycles"]
            workload = command.split()[0]
            rows.append({
                "workload": workload, "command": command,
                "relative": round(100.0 * d["cycles"] / base, 2),
                # both bars in percent of the native run's cycles (times its CPUs)
                "breakdown": shares(d["breakdown"], n["breakdown"]["total"], PARTS),
                "native_breakdown": shares(n["breakdown"], n["breakdown"]["total"], PARTS),
                "relative_asid_remap": round(100.0 * r["cycles"] / base, 2),
                "breakdown_asid_remap": shares(r["breakdown"], n["breakdown"]["total"], PARTS),
                "native_cycles": base, "disco_cycles": d["cycles"],
                "asid_remap_cycles": r["cycles"],
                "tlb_flushes": tlb_flushes(d), "tlb_flushes_asid_remap": tlb_flushes(r),
                "vcpu_switches": vcpu_switches(d),
                "vcpu_switches_asid_remap": vcpu_switches(r),
                "native_checksum": n["checksums"][command],
                "disco_checksum": d["checksums"][command],
                "paper": paper.get(workload),
            })
        return {"rows": rows, "parts": list(PARTS),
                "machine": "1 CPU, 64 MiB, timing (caches, 300 ns memory)"}
