"""Monitor calls (docs/monitor-abi.md), scheduling and virtual interrupts."""

from __future__ import annotations

from disco_core.machine import Machine
from disco_core.monitor import Monitor
from disco_core.monitor.vcpu import RunState
from tests.monitor import guests
from tests.monitor.conftest import disco_vm

ERR = 0xFFFFFFFF


def test_every_monitor_call():
    m = Machine(cpus=1, ram_bytes=1 << 20)
    mon = Monitor(m)
    vm = disco_vm(mon, guests.MONITOR_CALLS, pages=32)
    vm.console_in += b"x"
    assert mon.run(10_000_000) == "stopped" and vm.stop_reason == "exit(0)"
    w = [int.from_bytes(vm.read_guest(0x5000 + 4 * i, 4), "little") for i in range(15)]
    assert w[0] == 0 and w[1] == ord("x") and w[2] == ERR
    assert w[3:8] == [32, 0, 1, 0, m.config.clock_hz]  # pages, vCPU index, vCPUs, VM id, clock
    assert w[8:10] == [0, 0]  # ZERO_PAGE: done, the page reads as zero
    assert w[10:12] == [0, 0]  # PAGE_FREED: done, the next touch sees zero
    assert w[12] == ERR and w[13] == 0 and w[14] == ERR
    assert vm.console_text == "hello\n!"
    hints = vm.stats.count["zero_page"] + vm.stats.count["page_freed"]  # counted apart
    assert vm.stats.count["monitor_call"] + hints == 15 and hints >= 2  # with the EXIT
    assert mon.check_invariants() == []


def test_busy_vms_share_one_cpu_by_time_slices():
    m = Machine(cpus=1, ram_bytes=4 << 20)
    mon = Monitor(m, timeslice_cycles=50_000)
    vms = [disco_vm(mon, guests.COUNTER.replace("N", "60000"), f"c{i}") for i in range(3)]
    assert mon.run(100_000_000) == "stopped"
    assert all(vm.stop_reason == "exit(3)" for vm in vms)
    assert sum(vm.stats.count.get("switch", 0) for vm in vms) > 6  # they took turns


def test_posted_interrupt_wakes_an_idle_vcpu():
    m = Machine(cpus=2, ram_bytes=4 << 20)
    mon = Monitor(m)
    vm = disco_vm(mon, guests.WAIT_FOR_POST)
    assert mon.run(10_000_000) == "idle"  # nothing can run: the monitor says so
    v = vm.vcpus[0]
    assert v.state == RunState.WAITING and vm.running
    mon.post_interrupt(v, 0)  # a virtual device raises line 0 (Cause.IP2)
    assert mon.run(10_000_000) == "stopped"
    assert vm.stop_reason == "exit(4)"
