"""One experiment run: a configuration in, a JSON-ready result out (docs/experiments.md).

A run boots the guest kernel natively (``kind = "native"``) or its disco flavour
as ``vms`` virtual machines under the monitor (``kind = "disco"``), waits for
every console's first shell prompt, types each VM's command and measures from
the guest's first read of the command to the prompt after it: the paper's
"measured region", after boot and warm-up. The result is a pure function of the
configuration (the simulation is deterministic); only ``wall_seconds`` is host
time and nothing in the simulation sees it.

The breakdown (Figures 5 and 7's User / Kernel / DISCO / Idle) over the
measured region, summed over the CPUs, in simulated cycles:

- ``disco``: the cycles the monitor charged (its exits and background work,
  costs.py), exactly, from the VMs' statistics;
- ``idle``: the rest of the region's cycles times the CPUs: a CPU waiting for
  an interrupt, or running the monitor's idle loop (real kernel mode under the
  monitor);
- ``user`` / ``kernel``: the rest (instructions and their stall), split by the
  mode each CPU is in at the end of each run slice of SAMPLE_INSTRUCTIONS (a
  deterministic sampling profile, as SimOS's sampled annotations were): the
  guest kernel is real kernel mode natively and real supervisor mode under the
  monitor.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from disco_core.errors import DiscoError

SAMPLE_INSTRUCTIONS = 20_000     # instructions per run slice: the profile's resolution
BUDGET = 6_000_000_000           # instructions per run at most
CHECKSUM = re.compile(r"^(\w+ \d+): checksum (0x[0-9a-f]{8})", re.M)
KINDS = ("native", "disco")

# The keys a run configuration may have, with their defaults (docs/experiments.md).
DEFAULTS: dict[str, Any] = {
    "kind": "native",
    "machine": "test",
    "overrides": {},        # MachineConfig fields over the preset's
    "commands": [],         # one command per VM (natively: the one command)
    "vms": 1,
    "vcpus": 1,
    "numa_policy": "migrate_replicate",
    "sharing": "disco",
    "asid_remap": False,
    "numa": {},             # NumaParams fields
    "costs": {},            # CostModel fields over costs.DEFAULT
}


def normalise(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration with every key present; unknown keys are an error."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise DiscoError(f"unknown run configuration key(s): {', '.join(unknown)}")
    out = {**DEFAULTS, **config}
    if out["kind"] not in KINDS:
        raise DiscoError(f"run kind {out['kind']!r}: choose native or disco")
    if not out["commands"]:
        raise DiscoError("a run needs at least one command")
    if out["kind"] == "native" and len(out["commands"]) != 1:
        raise DiscoError("a native run types one command")
    if out["kind"] == "disco" and len(out["commands"]) not in (1, out["vms"]):
        raise DiscoError(f"{len(out['commands'])} commands for {out['vms']} VMs")
    return out


def _mode_of(cpu: Any, monitored: bool) -> str:
    """user, kernel or idle for a CPU at a slice boundary."""
    from disco_core.machine import CpuState

    if cpu.state != CpuState.RUNNING:
        return "idle"
    status = cpu.cp0(12)
    if status & 0x6:             # EXL or ERL: kernel mode whatever KSU says
        ksu = 0
    else:
        ksu = (status >> 3) & 3
    if ksu == 2:
        return "user"
    if monitored:
        # the guest kernel runs in real supervisor mode; real kernel mode is the
        # monitor's idle loop (its own work is charged, not executed)
        return "kernel" if ksu == 1 else "idle"
    return "kernel"


class Profile:
    """The per-CPU counters at the start of the measured region, and the sampled split."""

    def __init__(self, machine: Any, monitored: bool) -> None:
        self.machine = machine
        self.monitored = monitored
        self.start: list[tuple[int, int, int]] | None = None
        self.last: list[int] = []
        self.split = {"user": 0, "kernel": 0, "idle": 0}

    def _busy(self) -> list[tuple[int, int, int]]:
        tab = self.machine.cpu_stats_table()
        return [(int(r["cycles"]), int(r["instructions"]), int(r["stall_cycles"])) for r in tab]

    def begin(self) -> None:
        self.start = self._busy()
        self.last = [i + s for _, i, s in self.start]

    def sample(self) -> None:
        if self.start is None:
            return
        now = self._busy()
        for k, (cpu, (_, i, s)) in enumerate(zip(self.machine.cpus, now, strict=True)):
            busy = i + s
            self.split[_mode_of(cpu, self.monitored)] += busy - self.last[k]
            self.last[k] = busy

    def breakdown(self, cycles: int, charged: int) -> dict[str, int]:
        """The split of `cycles` (the measured region) times the CPUs: what is not
        user, kernel or the monitor's is idle."""
        assert self.start is not None
        self.sample()
        total = cycles * len(self.machine.cpus)
        user, kernel = self.split["user"], self.split["kernel"]
        room = max(0, total - charged)
        if user + kernel > room:
            # the last slice ran on past the prompt that ended the region: trim the
            # samples to the region, keeping their proportions
            user, kernel = user * room // (user + kernel), kernel * room // (user + kernel)
        return {"user": user, "kernel": kernel, "disco": charged,
                "idle": total - user - kernel - charged if room else 0, "total": total}


def checksums(text: str) -> dict[str, str]:
    """The workload result lines of a console: ``{"pmake 4": "0x2fb1f4c4"}``."""
    return {m.group(1): m.group(2) for m in CHECKSUM.finditer(text)}


def run(config: Mapping[str, Any]) -> dict[str, Any]:
    """Simulate one configuration; the result is JSON-ready (docs/experiments.md)."""
    cfg = normalise(config)
    start = time.perf_counter()
    if cfg["kind"] == "native":
        result = _run_native(cfg)
    else:
        result = _run_disco(cfg)
    result["wall_seconds"] = round(time.perf_counter() - start, 3)
    return result


def _root(tmp: str) -> Path:
    from disco_core.boot import root_image

    return root_image(Path(tmp) / "root.img")


def _run_native(cfg: dict[str, Any]) -> dict[str, Any]:
    from disco_core.boot import PROMPT, Booted
    from disco_core.devices import DiskImage
    from disco_core.machine import ExitReason

    command = cfg["commands"][0]
    with tempfile.TemporaryDirectory(prefix="disco-exp-") as tmp:
        disk = DiskImage.open(_root(tmp), persistent=False)
        b = Booted(cfg["machine"], disk=disk, overrides=dict(cfg["overrides"]))
        try:
            prof = Profile(b.machine, monitored=False)
            cpu0 = b.machine.cpus[0]
            mark, typed_at, cycles = 0, 0, None
            while b.instructions < BUDGET:
                r = b.step(SAMPLE_INSTRUCTIONS)
                prof.sample()
                if r in (ExitReason.HALT, ExitReason.WAIT):
                    raise DiscoError(f"native {command!r}: the guest stopped ({r.name})")
                out = b.devices.uart.output
                found = out.find(PROMPT, mark)
                if found < 0:
                    continue
                shown = b.clock.last_cycles if out.endswith(PROMPT) else cpu0.cycles
                mark = found + len(PROMPT)
                if prof.start is None:
                    prof.begin()
                    b.type(command.encode() + b"\n")
                    typed_at = cpu0.cycles
                else:
                    cycles = shown - typed_at
                    break
            if cycles is None:
                raise DiscoError(f"native {command!r}: did not finish in {BUDGET} instructions")
            text = b.output.decode("utf-8", "replace")
            breakdown = prof.breakdown(cycles, 0)
            return {
                "kind": "native", "cycles": cycles, "breakdown": breakdown,
                "checksums": checksums(text), "instructions": b.instructions,
                "vms": [{"name": "native", "cycles": cycles, "checksums": checksums(text)}],
                "monitor": {}, "exits": {},
            }
        finally:
            b.close()


def _cost_model(over: Mapping[str, int]) -> Any:
    from disco_core.monitor.costs import DEFAULT

    names = {f.name for f in fields(DEFAULT)}
    bad = sorted(set(over) - names)
    if bad:
        raise DiscoError(f"no cost {', '.join(bad)} in the cost model (costs.py)")
    return replace(DEFAULT, **over)


def _numa_params(over: Mapping[str, int]) -> Any:
    from disco_core.monitor.numa import NumaParams

    names = {f.name for f in fields(NumaParams)}
    bad = sorted(set(over) - names)
    if bad:
        raise DiscoError(f"no NUMA parameter {', '.join(bad)} (numa.py NumaParams)")
    p = NumaParams(**over)
    p.check()
    return p


def _run_disco(cfg: dict[str, Any]) -> dict[str, Any]:
    from disco_core.boot import PROMPT, vm_specs
    from disco_core.elf import load_elf
    from disco_core.kernel import build_kernel
    from disco_core.machine import Machine
    from disco_core.monitor import Monitor
    from disco_core.monitor.footprint import numa_counters, numa_report
    from disco_core.monitor.numa import MOVING, check_policy
    from disco_core.monitor.vdisk import VirtualDisk
    from disco_core.presets import preset

    n = int(cfg["vms"])
    commands = list(cfg["commands"]) * (n if len(cfg["commands"]) == 1 else 1)
    image = load_elf(build_kernel("disco"))
    params = _numa_params(cfg["numa"])
    overrides = dict(cfg["overrides"])
    if check_policy(cfg["numa_policy"]) in MOVING:
        overrides.setdefault("hot_threshold", params.hot_threshold)
    with tempfile.TemporaryDirectory(prefix="disco-exp-") as tmp:
        base = _root(tmp)
        disks = [VirtualDisk.copy_on_write(base) for _ in range(n)]
        machine = Machine(preset(cfg["machine"], **overrides))
        try:
            mon = Monitor(machine, costs=_cost_model(cfg["costs"]),
                          asid_remap=bool(cfg["asid_remap"]), numa_policy=cfg["numa_policy"],
                          numa_params=params, sharing=cfg["sharing"])
            vms = [mon.create_vm(s) for s in vm_specs(  # type: ignore[arg-type]
                machine, image, n, disks, None, int(cfg["vcpus"]))]
            for vm in vms:
                mon.start_vm(vm)
            prof = Profile(machine, monitored=True)
            marks = [0] * n
            state = ["boot"] * n        # boot -> typed -> done
            began = [0] * n
            cycles = [0] * n
            charged0 = 0
            mark: dict[str, int] | None = None
            executed = 0
            while executed < BUDGET and "done" != min(state):
                before = sum(c.instructions for c in machine.cpus)
                r = mon.run(SAMPLE_INSTRUCTIONS)
                executed += sum(c.instructions for c in machine.cpus) - before
                prof.sample()
                for i, vm in enumerate(vms):
                    if not vm.running:
                        raise DiscoError(f"{vm.name} stopped: {vm.stop_reason}")
                    out = vm.console_out
                    found = out.find(PROMPT, marks[i])
                    if found < 0 or state[i] == "done":
                        continue
                    marks[i] = found + len(PROMPT)
                    vm_now = machine.cpus[vm.vcpus[0].last_cpu or 0].cycles
                    shown = vm.console_cycles if out.endswith(PROMPT) else vm_now
                    if state[i] == "boot":
                        if mark is None:
                            mark = numa_counters(mon)
                            charged0 = sum(v.stats.total_cycles for v in vms)
                            exits0 = {v.name: dict(v.stats.count) for v in vms}
                            cyc0 = {v.name: dict(v.stats.cycles) for v in vms}
                            tlb0 = (mon.hw.switch_flushes, mon.hw.asid_recycles)
                            prof.begin()
                        vm.input_cycles = None
                        mon.console_input(vm, commands[i].encode() + b"\n")
                        began[i] = vm_now
                        state[i] = "typed"
                    else:
                        start_at = vm.input_cycles if vm.input_cycles is not None else began[i]
                        cycles[i] = shown - start_at
                        state[i] = "done"
                if r in ("stopped", "halt", "idle") and min(state) != "done":
                    raise DiscoError(f"the monitor stopped ({r}) before every VM finished")
            if min(state) != "done":
                raise DiscoError(f"the VMs did not finish in {BUDGET} instructions")
            charged = sum(v.stats.total_cycles for v in vms) - charged0
            exits: dict[str, list[int]] = {}
            for v in vms:
                for k, c in v.stats.count.items():
                    e = exits.setdefault(k, [0, 0])
                    e[0] += c - exits0[v.name].get(k, 0)
                    e[1] += v.stats.cycles[k] - cyc0[v.name].get(k, 0)
            exits = {str(k): e for k, e in sorted(exits.items()) if e[0]}
            # what ASID remapping changes: hardware TLB flushes at vCPU switches (and,
            # remapping, the full flushes when every machine ASID is in use)
            tlb = {"switch_flushes": mon.hw.switch_flushes - tlb0[0],
                   "asid_recycles": mon.hw.asid_recycles - tlb0[1],
                   "switches": exits.get("switch", [0, 0])[0]}
            from disco_core.monitor.stats import CATEGORIES, CATEGORY

            monitor = {c: [0, 0] for c in CATEGORIES}
            for k, (c, cy) in exits.items():
                m = monitor.setdefault(CATEGORY.get(k, "other"), [0, 0])
                m[0] += c
                m[1] += cy
            sums: dict[str, str] = {}
            per_vm = []
            for i, v in enumerate(vms):
                found_sums = checksums(v.console_text)
                sums.update(found_sums)
                per_vm.append({"name": v.name, "cycles": cycles[i], "checksums": found_sums})
            report = numa_report(mon, mark)
            problems = mon.check_invariants()
            if problems:
                raise DiscoError(f"monitor invariants broken: {problems[:3]}")
            return {
                "kind": "disco", "cycles": max(cycles),
                "breakdown": prof.breakdown(max(cycles), charged),
                "checksums": sums, "instructions": executed, "vms": per_vm,
                "monitor": monitor, "exits": exits, "tlb": tlb,
                "numa": report.get("workload", {}), "footprint": report["footprint"],
                "sharing_stats": report["sharing_stats"], "clock_hz": report["clock_hz"],
            }
        finally:
            for d in disks:
                d.close()
            machine.close()
