"""Several VMs run concurrently and deterministically; monitor costs are charged."""

from __future__ import annotations

from disco_core.machine import Machine
from disco_core.monitor import CostModel, Monitor
from disco_core.presets import preset
from tests.monitor import guests
from tests.monitor.conftest import disco_vm, run_disco


def two_vms_on_two_cpus():
    m = Machine(cpus=2, ram_bytes=4 << 20, tlb_entries=16)
    mon = Monitor(m)
    a = disco_vm(mon, guests.REFILL_COUNTING, "refills", pages=128)
    b = disco_vm(mon, guests.COUNTER.replace("N", "100000"), "counter")
    assert mon.run(200_000_000) == "stopped"
    assert a.stop_reason == "exit(0)" and b.stop_reason == "exit(3)"
    return m, mon


def four_vms_on_flash8():
    m = Machine(preset("flash8"))
    mon = Monitor(m)
    vms = [
        disco_vm(mon, guests.SMP_COUNTER.replace("N", "3000"), "smp", vcpus=2,
                 home_nodes=[0, 1]),
        disco_vm(mon, guests.REFILL_COUNTING, "refills", pages=128, home_nodes=[2, 3]),
        disco_vm(mon, guests.TIMER_WAIT, "timer", home_nodes=[4, 5]),
        disco_vm(mon, guests.COUNTER.replace("N", "50000"), "counter", home_nodes=[6, 7]),
    ]
    assert mon.run(500_000_000) == "stopped"
    assert [vm.stop_reason for vm in vms] == ["exit(6)", "exit(0)",
                                              f"exit({guests.TICKS})", "exit(3)"]
    # pages come from the home nodes
    for vm in vms:
        nodes = {mon.memmap.node_of(p) for p in vm.pmap.mpn if p >= 0}
        assert nodes <= set(vm.home_nodes), (vm.name, nodes)
    return m, mon


def fingerprint(m: Machine, mon: Monitor) -> tuple:
    return (m.digest(), [c.cycles for c in m.cpus],
            [(vm.stop_reason, vm.stats.as_dict(), bytes(vm.console_out)) for vm in mon.vms])


def test_two_vms_on_two_cpus_are_deterministic():
    first = fingerprint(*two_vms_on_two_cpus())
    assert fingerprint(*two_vms_on_two_cpus()) == first


def test_four_vms_on_flash8_are_deterministic():
    m, mon = four_vms_on_flash8()
    smp = mon.vm_by_name("smp")
    assert {v.last_cpu for v in smp.vcpus} == {0, 1}  # its two vCPUs ran side by side
    assert mon.check_invariants() == []
    assert fingerprint(*four_vms_on_flash8()) == fingerprint(m, mon)


def test_monitor_costs_show_up_in_cpu_cycles_and_stats():
    mon, vm = run_disco(guests.REFILL_COUNTING, pages=128, tlb_entries=8)
    free, vm0 = run_disco(guests.REFILL_COUNTING, pages=128, tlb_entries=8,
                          costs=CostModel.zero())
    charged = mon.m.cpus[0].cycles - free.m.cpus[0].cycles
    assert charged == vm.stats.total_cycles > 0
    assert vm0.stats.total_cycles == 0
    cats = vm.stats.by_category()
    for cat in ("tlb_write", "privileged", "monitor_call", "kernel_tlb_fault",
                "l2tlb_refill", "reflected"):
        assert cats[cat][0] > 0 and cats[cat][1] > 0, cat
    assert cats["tlb_write"][0] == vm.stats.count["tlbwr"] + vm.stats.count.get("tlbwi", 0)


def test_slicing_the_run_does_not_change_results():
    """run(a); run(b) reaches the same state as run(a + b), as for the bare machine."""

    def make():
        m = Machine(cpus=2, ram_bytes=4 << 20, tlb_entries=16)
        mon = Monitor(m, timeslice_cycles=30_000)
        disco_vm(mon, guests.REFILL_COUNTING, "refills", pages=128)
        disco_vm(mon, guests.TIMER_WAIT, "timer")
        disco_vm(mon, guests.COUNTER.replace("N", "30000"), "counter")
        return m, mon

    m1, mon1 = make()
    assert mon1.run(150_000) == "budget"  # stopped mid-way, every VM still running
    whole = fingerprint(m1, mon1)
    m2, mon2 = make()
    for _ in range(15):
        assert mon2.run(7_919) == "budget"
    mon2.run(150_000 - 15 * 7_919)
    assert fingerprint(m2, mon2) == whole
