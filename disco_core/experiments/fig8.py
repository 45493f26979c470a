"""Figure 8: Engineering (flash8) and Raytrace (flash16, 256 KiB L2) in one VM with a vCPU
per CPU, under round-robin placement (the paper's IRIX on NUMA, = 100), dynamic migration
and replication, and on the same machine with every miss at the local latency (UMA);
local misses before and after. Bars: exec, local stall, remote stall, DISCO, idle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from disco_core.experiments.base import Config, Experiment, Result, check_scale, find, percent

POLICIES = ("round_robin", "migrate_replicate", "uma")
PARTS = ("exec", "local_stall", "remote_stall", "disco", "idle")
UMA = {"lat_remote": 60, "lat_hop": 0, "lat_dirty": 0}   # remote misses at the local latency
# workload -> (machine, vCPUs, machine overrides, command per scale)
WORKLOADS: dict[str, tuple[str, int, dict[str, Any], dict[str, str]]] = {
    "engineering": ("flash8", 8, {}, {"paper": "engineering 4", "quick": "engineering 1"}),
    "raytrace": ("flash16", 16, {"l2_bytes": 256 * 1024},
                 {"paper": "raytrace 96 512", "quick": "raytrace 16 64"}),
}


def policy_run(workload: str, policy: str, scale: str) -> Config:
    machine, vcpus, over, commands = WORKLOADS[workload]
    overrides = {**over, **UMA} if policy == "uma" else dict(over)
    return {"kind": "disco", "machine": machine, "overrides": overrides, "vms": 1,
            "vcpus": vcpus, "commands": [commands[check_scale(scale)]],
            "numa_policy": "round_robin" if policy == "uma" else policy}


def split(r: Result) -> dict[str, int]:
    b, w = r["breakdown"], r["numa"]
    busy = b["user"] + b["kernel"]
    return {"exec": max(0, busy - w["stall_local"] - w["stall_remote"]),
            "local_stall": w["stall_local"], "remote_stall": w["stall_remote"],
            "disco": b["disco"], "idle": b["idle"]}


class Fig8(Experiment):
    name = "fig8"
    title = "Figure 8: page migration and replication (round robin = 100)"
    paper_ref = "§5.5, Figure 8"
    chart = "grouped"

    def runs(self, scale: str) -> list[Config]:
        return [policy_run(w, p, scale) for w in WORKLOADS for p in POLICIES]

    def summarise(self, configs: Sequence[Config], results: Sequence[Result],
                  scale: str) -> dict[str, Any]:
        paper = self.paper()
        rows = []
        for w in WORKLOADS:
            found = [find(configs, results, **_match(policy_run(w, p, scale)))
                     for p in POLICIES]
            base = found[0]
            for p, r in zip(POLICIES, found, strict=True):
                parts = split(r)
                total = base["breakdown"]["total"]
                rows.append({
                    "workload": w, "policy": p, "command": r["config"]["commands"][0],
                    "relative": round(100.0 * r["cycles"] / base["cycles"], 2),
                    "local_percent": r["numa"]["local_percent"],
                    "breakdown": {k: percent(v, total) for k, v in parts.items()},
                    "migrations": r["numa"]["migrations"],
                    "replications": r["numa"]["replications"],
                    "cycles": r["cycles"],
                    "paper": paper[w][p][0], "paper_local_percent": paper[w][p][1],
                })
        return {"rows": rows, "parts": list(PARTS)}


def _match(config: Config) -> dict[str, Any]:
    return {k: config[k] for k in ("machine", "overrides", "commands", "numa_policy")}
