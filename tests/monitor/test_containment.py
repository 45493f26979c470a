"""Fault containment: a guest that panics, does something illegal or spins stops
alone; the other VM on the machine finishes; the stopped VM can be restarted."""

from __future__ import annotations

import pytest

from disco_core.machine import Machine
from disco_core.monitor import Monitor, VMState
from tests.monitor import guests
from tests.monitor.conftest import disco_vm, run_disco

BAD = {
    "panic": (guests.PANIC, "guest panic: oh no 42!"),
    "illegal": (guests.KERNEL_TOUCH.replace("{ADDR}", "0xBF000000"), "illegal operation"),
    "spin": (guests.SPIN, "watchdog"),
}


@pytest.mark.parametrize("what", sorted(BAD))
def test_a_bad_vm_stops_alone_and_restarts(what):
    body, reason = BAD[what]
    m = Machine(cpus=2, ram_bytes=4 << 20)
    mon = Monitor(m, watchdog_cycles=2_000_000)
    bad = disco_vm(mon, body, "bad")
    good = disco_vm(mon, guests.COUNTER.replace("N", "200000"), "good")
    assert mon.run(100_000_000) == "stopped"
    assert bad.state == VMState.STOPPED and reason in bad.stop_reason
    assert good.stop_reason == "exit(3)" and good.console_text == "." * (200000 // 1024)
    assert any(reason in r and "'bad'" in r for r in mon.reports)
    # restart the stopped VM: it runs again from its image
    mon.restart_vm(bad)
    assert bad.state == VMState.RUNNING and bad.starts == 2
    assert mon.run(100_000_000) == "stopped"
    assert reason in bad.stop_reason
    if what == "panic":
        assert bad.console_text == "AA"  # it printed once per run
    assert mon.check_invariants() == []


def test_timer_interrupts_wake_a_waiting_guest():
    mon, vm = run_disco(guests.TIMER_WAIT)
    assert vm.stop_reason == f"exit({guests.TICKS})", vm.stop_reason
    assert vm.stats.count["wait"] >= guests.TICKS
    assert vm.stats.count["interrupt"] >= guests.TICKS


def test_idle_vm_gives_its_cpu_away():
    """A waiting VM does not hold a CPU: with one CPU, a counter VM still finishes."""
    m = Machine(cpus=1, ram_bytes=4 << 20)
    mon = Monitor(m)
    waiter = disco_vm(mon, guests.TIMER_WAIT, "waiter")
    counter = disco_vm(mon, guests.COUNTER.replace("N", "100000"), "counter")
    assert mon.run(100_000_000) == "stopped"
    assert waiter.stop_reason == f"exit({guests.TICKS})"
    assert counter.stop_reason == "exit(3)"


def test_running_out_of_machine_memory_stops_the_vm_alone():
    m = Machine(cpus=1, ram_bytes=128 << 12)  # 128 machine pages for a VM of 512
    mon = Monitor(m)
    greedy = disco_vm(mon, guests.SCAN, "greedy", pages=512)
    assert mon.run(50_000_000) == "stopped"
    assert "out of machine memory" in greedy.stop_reason


def test_one_vcpu_panicking_stops_every_vcpu_of_its_vm():
    from disco_core.monitor.vcpu import RunState

    m = Machine(cpus=2, ram_bytes=4 << 20)
    mon = Monitor(m, timeslice_cycles=20_000)
    smp = disco_vm(mon, guests.SMP_ONE_PANICS, "smp", vcpus=3)
    good = disco_vm(mon, guests.COUNTER.replace("N", "100000"), "good")
    assert mon.run(100_000_000) == "stopped"
    assert smp.stop_reason == "guest panic: " and good.stop_reason == "exit(3)"
    assert all(v.state == RunState.STOPPED and v.cpu is None for v in smp.vcpus)
    assert all(cur is None or cur.vm is not smp for cur in mon.current)
