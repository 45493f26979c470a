"""Single steps per second through the GDB server, by gdb-multiarch and by a raw client.

    python bench/gdb_step.py [--steps N]

The demo program runs on the bare test machine (disco_core.gdb.bare) served on a
free loopback port; then the same `stepi N` in vm0's guest kernel (from kalloc)
on a 2-VM flash8 session, under the monitor (disco_core.gdb.vm), with vm1
running alongside. The real client is gdb-multiarch in batch mode with the
program's symbols, doing `stepi N` after a breakpoint in main. GDB steps MIPS
code in software: per stepi it reads the instruction, sets a breakpoint on the
next one (both, at a branch), continues the thread with vCont;c, gets the stop
reply and removes the breakpoint again, reading what it needs for the frame. The rate
is steps over the time between the first and the last step the target took
(gdb's start-up and symbol loading excluded). The raw client sends `vCont;s`
and reads the stop reply in a loop, then also a `g` per step (what a simple
front-end does). The last line, `gdb_steps_per_s: X`, is the real client's.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.gdb.bare import Background, BareTarget  # noqa: E402
from disco_core.gdb.client import RawClient  # noqa: E402
from disco_core.gdb.target import Resume  # noqa: E402
from disco_core.guest import build_baremetal  # noqa: E402
from disco_core.testmachine import TestMachine  # noqa: E402


class TimedTarget(BareTarget):
    """A BareTarget that notes when each resume was asked for (a step: GDB's MIPS
    support steps in software, with a breakpoint on the next instruction and a
    continue, so every resume after the breakpoint in main is one stepi)."""

    def __init__(self, machine: TestMachine) -> None:
        super().__init__(machine)
        self.step_times: list[float] = []

    def resume(self, actions: Mapping[int, Resume]) -> None:
        self.step_times.append(time.perf_counter())
        super().resume(actions)


def served(elf: Path) -> tuple[TimedTarget, Background]:
    tm = TestMachine()
    tm.load_elf(elf)
    target = TimedTarget(tm)
    return target, Background(target)


def rate(times: list[float]) -> float:
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def real_client(elf: Path, steps: int) -> float:
    gdb = shutil.which("gdb-multiarch")
    if gdb is None:
        sys.exit("gdb-multiarch is not installed (apt-get install gdb-multiarch)")
    target, bg = served(elf)
    cmd = [gdb, "-batch", "-nx", "-ex", "set architecture mips:isa32r2", "-ex", f"file {elf}",
           "-ex", f"target remote :{bg.server.port}", "-ex", "break main", "-ex", "continue",
           "-ex", f"stepi {steps}", "-ex", "p $pc", "-ex", "kill"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    bg.close()
    del target.step_times[0]  # the continue to main
    taken = len(target.step_times)
    if taken < steps:
        sys.exit(f"gdb took {taken} of {steps} steps:\n{done.stdout}{done.stderr}")
    return rate(target.step_times)


def vm_client(steps: int) -> float:
    """gdb-multiarch stepping vm0's kernel from kalloc, vm1 running on."""
    import threading

    from disco_core.gdb.service import GdbService, run
    from disco_core.kernel import build_kernel
    from disco_core.session import vms_session

    gdb = shutil.which("gdb-multiarch")
    if gdb is None:
        sys.exit("gdb-multiarch is not installed (apt-get install gdb-multiarch)")
    session = vms_session(vms=2, preset_name="flash8")
    service = GdbService(session)
    server = service.serve_vm(0, 0, held=True)
    target = service.targets[0]
    times: list[float] = []
    resume = target.resume

    def timed(actions: Mapping[int, Resume]) -> None:
        times.append(time.perf_counter())
        resume(actions)

    target.resume = timed  # type: ignore[method-assign]
    stop = threading.Event()
    owner = threading.Thread(target=run, args=(session, stop.is_set), daemon=True)
    owner.start()
    elf = build_kernel("disco")
    cmd = [gdb, "-batch", "-nx", "-ex", "set architecture mips:isa32r2", "-ex", f"file {elf}",
           "-ex", f"target remote :{server.port}", "-ex", "break kalloc", "-ex", "continue",
           "-ex", "delete", "-ex", f"stepi {steps}", "-ex", "p $pc", "-ex", "detach"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    stop.set()
    owner.join(10.0)
    service.close()
    session.close()
    del times[0]  # the continue to kalloc
    if len(times) < steps:
        sys.exit(f"gdb took {len(times)} of {steps} steps in vm0:\n{done.stdout}{done.stderr}")
    return rate(times)


def raw_client(elf: Path, steps: int, read_registers: bool) -> float:
    target, bg = served(elf)
    with RawClient(bg.server.port) as c:
        c.ask(b"qSupported:multiprocess+;swbreak+")
        c.start_noack()
        c.ask(b"?")
        for _ in range(steps):
            c.send(b"vCont;s:p1.1")
            c.reply()
            if read_registers:
                c.ask(b"g")
        c.send(b"k")
    bg.close()
    return rate(target.step_times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    args = ap.parse_args()
    elf = build_baremetal("demo", extra_flags=["-fforce-dwarf-frame"])
    raw = raw_client(elf, args.steps, read_registers=False)
    raw_g = raw_client(elf, args.steps, read_registers=True)
    vm = vm_client(args.steps)
    real = real_client(elf, args.steps)
    print(f"raw client, vCont;s + stop reply: {raw:,.0f} steps/s")
    print(f"raw client, vCont;s + stop reply + g: {raw_g:,.0f} steps/s")
    print(f"gdb-multiarch, stepi {args.steps} in vm0's kernel under the monitor: "
          f"{vm:,.0f} steps/s")
    print(f"gdb-multiarch, stepi {args.steps} on the bare machine: {real:,.0f} steps/s")
    print(f"gdb_steps_per_s: {real:.0f}")


if __name__ == "__main__":
    main()
