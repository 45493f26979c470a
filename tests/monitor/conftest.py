"""Helpers for the monitor tests: run a guest under Disco and natively."""

from __future__ import annotations

import pytest

from disco_core.machine import ExitReason, Machine
from disco_core.monitor import Monitor, VMSpec
from tests.monitor import guests


def disco_vm(mon: Monitor, body: str, name: str = "vm", pages: int = 64, **kw: object):
    code = guests.build(body, guests.DISCO_KB)
    spec = VMSpec(name, memory_pages=pages, image=[(guests.CODE_PA, code)],
                  entry=guests.DISCO_KB + guests.CODE_PA, **kw)  # type: ignore[arg-type]
    vm = mon.create_vm(spec)
    mon.start_vm(vm)
    return vm


def run_disco(body: str, pages: int = 64, tlb_entries: int = 64, l2tlb_size: int = 1024,
              **mon_kw: object):
    """One VM alone on a 1-CPU machine, run until it stops; returns (monitor, vm)."""
    m = Machine(cpus=1, ram_bytes=16 << 20, tlb_entries=tlb_entries)
    mon = Monitor(m, **mon_kw)  # type: ignore[arg-type]
    vm = disco_vm(mon, body, pages=pages, l2tlb_size=l2tlb_size)
    assert mon.run(50_000_000) == "stopped"
    return mon, vm


def run_native(body: str, tlb_entries: int = 64) -> Machine:
    """The same program on the bare machine in kernel mode at kseg0."""
    m = Machine(cpus=1, ram_bytes=16 << 20, tlb_entries=tlb_entries)
    m.write_phys(guests.CODE_PA, guests.build(body, guests.NATIVE_KB))
    c = m.cpus[0]
    c.set_cp0(12, 0)
    c.pc = guests.NATIVE_KB + guests.CODE_PA
    ex = m.run(50_000_000)
    assert ex.reason == ExitReason.WAIT, ex
    return m


@pytest.fixture
def native():
    return run_native
