"""Memory footprints and NUMA counters: what the VMs would take unshared, what they take.

- **virtual footprint** of a VM: the guest pages its pmap backs with machine
  memory, i.e. what the VM would need if nothing were shared;
- **machine footprint**: the machine pages really in use. Per VM, a page
  shared by k users counts 1/k to each (so the VMs' machine footprints add up
  to the machine's), and the replicas the NUMA manager made of a page count
  like the page; per node, the machine pages that node's memory holds for
  VMs (the monitor's own pages are not counted).

`numa_report` also gives the miss classes (local, remote, dirty three-hop) and
the manager's moves, over the whole run and since a mark (the workload).
docs/numa.md describes every field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from disco_core.monitor.pmap import NO_PAGE

if TYPE_CHECKING:
    from disco_core.monitor.monitor import Monitor

PAGE_KIB = 4


def numa_counters(mon: Monitor) -> dict[str, int]:
    """Cumulative counters to take differences of: misses by class, moves, time."""
    tab = mon.m.cpu_stats_table()
    st = mon.numa.stats
    return {
        "cycles": int(tab["cycles"].max()),
        "misses_local": int(tab["misses_local"].sum()),
        "misses_remote": int(tab["misses_remote"].sum()),
        "misses_dirty": int(tab["misses_dirty"].sum()),
        "stall_local": int(tab["cycles_local"].sum()),
        "stall_remote": int(tab["cycles_remote"].sum()) + int(tab["cycles_dirty"].sum()),
        "hot_reports": st.hot_reports, "migrations": st.migrations,
        "replications": st.replications, "collapses": st.collapses,
        "numa_cycles": st.cycles,
        "shared_pages": mon.sharing_stats().get("shares", 0),
    }


def local_percent(c: dict[str, int]) -> float:
    """Local misses as a share of the L2 misses memory (or another cache) served."""
    total = c["misses_local"] + c["misses_remote"] + c["misses_dirty"]
    return 100.0 * c["misses_local"] / total if total else 100.0


def footprints(mon: Monitor) -> dict[str, Any]:
    """Per VM and per node: virtual and machine footprints, in pages."""
    mm = mon.memmap
    vms = {}
    node_virtual = [0] * mm.nodes
    for vm in mon.vms:
        virtual = private = 0
        machine = 0.0
        for mpn in vm.pmap.mpn:
            if mpn == NO_PAGE:
                continue
            virtual += 1
            node_virtual[mm.node_of(mpn)] += 1
            e = mm.entries[mpn]
            copies = 1 + len(e.replicas)
            if len(e.users) == 1:
                private += 1
            machine += copies / len(e.users)
        vms[vm.name] = {"virtual_pages": virtual, "machine_pages": round(machine, 2),
                        "private_pages": private, "shared_pages": virtual - private}
    # machine pages behind guest pages: pages with VM users and their replicas (not
    # the monitor's own pages, which no VM would need unshared either)
    node_machine = [0] * mm.nodes
    for mpn, e in mm.entries.items():
        if e.users:
            node_machine[mm.node_of(mpn)] += 1
            for r in e.replicas.values():
                node_machine[mm.node_of(r)] += 1
    total_virtual = sum(v["virtual_pages"] for v in vms.values())
    return {
        "vms": vms,
        "nodes": [{"node": n, "virtual_pages": node_virtual[n], "machine_pages": used}
                  for n, used in enumerate(node_machine)],
        "virtual_pages": total_virtual,
        "machine_pages": sum(node_machine),
    }


def numa_report(mon: Monitor, mark: dict[str, int] | None = None) -> dict[str, Any]:
    now = numa_counters(mon)
    out: dict[str, Any] = {
        "policy": mon.numa.policy, "sharing": mon.sharing,
        "clock_hz": mon.m.config.clock_hz, "sharing_stats": mon.sharing_stats(),
        "run": dict(now, local_percent=round(local_percent(now), 2)),
        "skipped": dict(mon.numa.stats.skipped),
        "footprint": footprints(mon),
    }
    if mark is not None:
        w = {k: now[k] - mark[k] for k in now}
        out["workload"] = {**w, "local_percent": round(local_percent(w), 2)}
    return out


def format_numa(report: dict[str, Any]) -> str:
    """The statistics table's NUMA and footprint part (disco boot --vms)."""
    run = report["run"]
    hz = int(report["clock_hz"])
    seconds = max(run["cycles"], 1) / hz
    lines = [f"NUMA: policy {report['policy']}, sharing {report['sharing']}",
             f"  {'local misses':16} {run['local_percent']:>9.1f} %   "
             f"(L2 misses served by the local node)"]
    w = report.get("workload")
    if isinstance(w, dict):
        lines.append(f"  {'  workload':16} {w['local_percent']:>9.1f} %   "
                     "(from the first command typed)")
    for k in ("migrations", "replications", "collapses"):
        lines.append(f"  {k:16} {run[k]:>9}     {run[k] / seconds:>9.0f}/s")
    lines.append(f"  {'NUMA cycles':16} {run['numa_cycles']:>9}")
    for k, n in sorted(report.get("sharing_stats", {}).items()):
        lines.append(f"  {k:16} {n:>9}")
    fp = report["footprint"]
    lines.append("")
    lines.append(f"{'footprint':10} {'virtual KiB':>12} {'machine KiB':>12}")
    for name, v in fp["vms"].items():
        lines.append(f"{name:10} {v['virtual_pages'] * PAGE_KIB:>12} "
                     f"{v['machine_pages'] * PAGE_KIB:>12.0f}")
    for n in fp["nodes"]:
        lines.append(f"{'node ' + str(n['node']):10} {n['virtual_pages'] * PAGE_KIB:>12} "
                     f"{n['machine_pages'] * PAGE_KIB:>12}")
    lines.append(f"{'total':10} {fp['virtual_pages'] * PAGE_KIB:>12} "
                 f"{fp['machine_pages'] * PAGE_KIB:>12}")
    return "\n".join(lines)
