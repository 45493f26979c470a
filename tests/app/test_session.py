"""The Qt-free Session: commands between slices, snapshots, breakpoints, stepping."""

from __future__ import annotations

import numpy as np
import pytest

from disco_core.session import (
    AddBreakpoint,
    AddWatchpoint,
    FeedConsole,
    Focus,
    Pause,
    RemoveBreakpoint,
    RemoveWatchpoint,
    Resume,
    RunTo,
    Session,
    SetTiming,
    Step,
    StepOut,
    StepOver,
    baremetal_session,
)


@pytest.fixture
def session():  # type: ignore[no-untyped-def]
    s = baremetal_session()
    yield s
    s.close()


def run_until_stopped(s: Session, slices: int = 400) -> list:  # type: ignore[type-arg]
    events = []
    for _ in range(slices):
        events += s.step_slice(200_000)
        if not s.running:
            break
    return events


def slices_agree(timing: bool) -> bool:
    a, b = baremetal_session(timing=timing), baremetal_session(timing=timing)
    try:
        for _ in range(10):
            a.step_slice(150_000)
        b.step_slice(1_500_000)
        return a.machine.digest() == b.machine.digest()
    finally:
        a.close()
        b.close()


def test_slice_size_never_changes_results() -> None:
    assert slices_agree(timing=False)


def test_slice_size_never_changes_results_in_timing_mode() -> None:
    assert slices_agree(timing=True)


def test_snapshot_is_a_copy(session: Session) -> None:
    session.step_slice(3_000_000)
    snap = session.snapshot()
    misses = snap.miss_counters.copy()
    regs = snap.regs.copy()
    session.step_slice(3_000_000)
    assert np.array_equal(snap.miss_counters, misses) and np.array_equal(snap.regs, regs)
    later = session.snapshot()
    assert later.seq == snap.seq + 1 and later.instructions == snap.instructions + 3_000_000
    assert later.miss_counters.sum() > misses.sum()
    assert snap.miss_counters.shape == (session.machine.ram_bytes // 4096, 8)
    assert b"numademo: 8 CPUs" in later.consoles[0].tail
    assert later.consoles[0].total == len(later.consoles[0].tail)
    assert later.guests == (("native", tuple(range(8))),)
    assert later.debug.tlb.shape == (64, 4) and len(later.debug.code) > 0


def test_breakpoint_on_a_symbol_for_one_cpu(session: Session) -> None:
    image = session.guests[0].image
    assert image is not None
    target = image.address_of("stream_update")
    session.submit(AddBreakpoint("stream_update", cpu=6))
    events = run_until_stopped(session)
    assert [e.kind for e in events][-2:] == ["breakpoint", "paused"]
    snap = session.snapshot()
    assert snap.stopped_cpu == 6 and int(snap.pc[6]) == target and snap.debug.cpu == 6
    assert snap.debug.code_address <= target < snap.debug.code_address + len(snap.debug.code)
    assert [b.label for b in snap.breakpoints] == [f"0x{target:08x} <stream_update>"]
    session.submit(RemoveBreakpoint(target, cpu=6))
    session.submit(Resume())
    session.step_slice(1_000_000)
    assert session.running and session.snapshot().breakpoints == ()


def test_step_over_a_call_and_out_of_a_function(session: Session) -> None:
    image = session.guests[0].image
    assert image is not None
    session.submit(AddBreakpoint("run_rounds", cpu=0))
    run_until_stopped(session)
    # Step until CPU 0 is at a call, then step over it: it lands after the delay slot.
    for _ in range(200):
        pc = session.machine.cpus[0].pc
        if session.target.is_call_at(0, pc):
            break
        session.submit(Step(0))
        session.step_slice(0)
    else:
        pytest.fail("no call in run_rounds")
    session.submit(StepOver(0))
    run_until_stopped(session, slices=2000)
    assert session.machine.cpus[0].pc == pc + 8 and session.stopped_cpu == 0
    session.submit(RunTo(0, "stream_update"))
    run_until_stopped(session, slices=2000)
    assert session.machine.cpus[0].pc == image.address_of("stream_update")
    ra = session.machine.cpus[0].gpr[31]
    session.submit(StepOut(0))
    run_until_stopped(session, slices=2000)
    assert session.machine.cpus[0].pc == ra


def test_step_is_one_instruction_and_errors_are_events(session: Session) -> None:
    session.step_slice(1_000_000)
    session.submit(Pause())
    assert [e.kind for e in session.step_slice(1_000_000)] == ["paused"]
    before = session.machine.cpu_stats_table()["instructions"].copy()
    session.submit(Step(3))
    session.step_slice(1_000_000)
    after = session.machine.cpu_stats_table()["instructions"]
    assert (after - before).tolist() == [0, 0, 0, 1, 0, 0, 0, 0]
    session.submit(Step(99))
    session.submit(AddBreakpoint("no_such_symbol"))
    session.submit(Focus(42))
    kinds = [e.kind for e in session.step_slice(0)]
    assert kinds == ["error", "error", "error"]


def test_timing_focus_and_console_input(session: Session) -> None:
    session.submit(SetTiming(False))
    session.submit(Focus(4, memory_address=0x80010000))
    session.submit(FeedConsole("native", b"hello"))
    session.step_slice(10_000)
    snap = session.snapshot()
    assert not snap.timing and snap.debug.cpu == 4 and snap.debug.memory_address == 0x80010000
    assert len(snap.debug.memory) == 256
    assert bytes(session.machine.console.input) == b"hello"  # type: ignore[attr-defined]
    with pytest.raises(KeyError):
        session.guest("vm1")


def test_kernel_session_boots_to_the_shell() -> None:
    from disco_core.session import kernel_session

    s = kernel_session(preset_name="flash8")
    try:
        for _ in range(200):
            s.step_slice(2_000_000)
            if b"$ " in s.snapshot().consoles[0].tail:
                break
        s.submit(FeedConsole("native", b"echo workbench\n"))
        for _ in range(200):
            s.step_slice(2_000_000)
            if s.snapshot().consoles[0].tail.count(b"workbench") >= 2:
                break
        tail = s.snapshot().consoles[0].tail
        assert b"workbench\n" in tail.split(b"echo workbench", 1)[1]
    finally:
        s.close()


def test_watchpoint_on_a_variable_stops_after_the_write(session: Session) -> None:
    address = session.resolve("bar_count")
    session.submit(AddWatchpoint("bar_count", 4, "w"))
    events = run_until_stopped(session)
    hits = [e for e in events if e.kind == "watchpoint"]
    assert hits and "<bar_count>" in hits[0].message and "wrote" in hits[0].message
    snap = session.snapshot()
    assert [(w.address, w.access) for w in snap.watchpoints] == [(address, "w")]
    session.submit(RemoveWatchpoint(address, 4, "w"))
    session.submit(Resume())
    session.step_slice(100_000)
    assert session.snapshot().watchpoints == ()
    session.submit(AddWatchpoint("bar_count", 4, "x"))
    assert [e.kind for e in session.step_slice(0)] == ["error"]


@pytest.fixture(scope="module")
def vms():  # type: ignore[no-untyped-def]
    """Four VMs booted to their shell prompts (shared by the tests below, which leave
    the session running with no breakpoints)."""
    from disco_core.session import vms_session

    s = vms_session(vms=4)
    for _ in range(200):
        s.step_slice(500_000)
        if all(g.console.output.endswith(b"$ ") for g in s.guests):
            break
    yield s
    s.close()


def run_vms(s: Session, until, slices: int = 200) -> list:  # type: ignore[no-untyped-def, type-arg]
    events = []
    for _ in range(slices):
        events += s.step_slice(500_000)
        if until() or not s.running:
            break
    return events


def test_vm_session_gives_every_vm_a_console_of_its_own(vms: Session) -> None:
    s = vms
    assert [g.name for g in s.guests] == ["vm0", "vm1", "vm2", "vm3"]
    assert all(g.console.output.endswith(b"$ ") for g in s.guests)
    assert s.targets == ["vm0 vCPU 0", "vm1 vCPU 0", "vm2 vCPU 0", "vm3 vCPU 0"]
    s.submit(FeedConsole("vm2", b"echo only in vm2\n"))
    run_vms(s, lambda: b"only in vm2\n$ " in s.guests[2].console.output)
    seen = [b"only in vm2\n" in g.console.output for g in s.guests]
    assert seen == [False, False, True, False]
    snap = s.snapshot()
    assert len(snap.consoles) == 4 and snap.vms is not None
    assert snap.vms.names == ("vm0", "vm1", "vm2", "vm3")
    # every VM's memory sits on its home node; its pages are its own
    assert all(snap.vms.memory[i, i] > 0 for i in range(4))
    assert set(np.unique(snap.vms.page_owner)) <= {-2, -1, 0, 1, 2, 3}
    assert snap.vms.instructions.min() > 0 and snap.vms.exits.min() > 0


def test_vm_breakpoint_stops_only_its_vm_and_a_step_is_one_guest_instruction(
        vms: Session) -> None:
    s = vms
    kexec = s.resolve("kexec")
    assert kexec >= 0xC0000000  # the disco kernel's relocated kseg0
    s.submit(AddBreakpoint("kexec", vm="vm1"))
    assert [e.kind for e in s.step_slice(0)] == ["breakpoint-set"]
    # vm3 runs kexec too (the same kernel at the same address): resumed unseen
    s.submit(FeedConsole("vm3", b"echo three\n"))
    events = run_vms(s, lambda: s.guests[3].console.output.endswith(b"three\n$ "))
    assert s.running and not [e for e in events if e.kind == "breakpoint"]
    s.submit(FeedConsole("vm1", b"echo one\n"))
    events = run_vms(s, lambda: False)
    assert not s.running
    hits = [e for e in events if e.kind == "breakpoint"]
    assert len(hits) == 1 and hits[0].cpu == 1 and hits[0].pc == kexec
    assert "vm1 vCPU 0" in hits[0].message and "<kexec>" in hits[0].message
    snap = s.snapshot()
    d = snap.debug
    assert d.cpu == 1 and d.pc == kexec and d.where.startswith("vm1 vCPU 0 on CPU")
    # the CPU that stopped runs vm1's vCPU (its home CPU, unless the scheduler
    # lent it another idle one)
    assert s.monitor.current[snap.stopped_cpu].vm.name == "vm1"
    assert d.code_address <= kexec < d.code_address + len(d.code)
    assert dict(d.vcp0)["Status"] != dict(d.cp0)["Status"]  # the guest's CP0, not the real
    assert d.pmap is not None and d.pmap.shape == (s.monitor.vms[1].pmap.npages,)
    # a step executes exactly one guest instruction of that vCPU, on its CPU only
    for _ in range(3):
        before = s.snapshot()
        s.submit(Step(1))
        events = s.step_slice(200_000)
        after = s.snapshot()
        assert [e.kind for e in events] == ["step"]
        assert after.debug.pc == before.debug.pc + 4  # kexec's prologue has no branches
        changed = np.flatnonzero(after.cpu_stats["instructions"]
                                 != before.cpu_stats["instructions"])
        assert list(changed) == [before.stopped_cpu]
        assert after.instructions - before.instructions == 1
        assert after.vms.instructions[1] - before.vms.instructions[1] == 1
    s.submit(RemoveBreakpoint("kexec", vm="vm1"))
    s.submit(Resume())
    run_vms(s, lambda: s.guests[1].console.output.endswith(b"one\n$ "))
    assert s.running and s.guests[1].console.output.endswith(b"one\n$ ")
    assert s.snapshot().breakpoints == ()


def test_vm_step_errors_run_to_and_the_monitor_event_log(vms: Session) -> None:
    from disco_core.session import TraceMonitor

    s = vms
    s.submit(AddBreakpoint("kexec", vm="vm9"))
    s.submit(Focus(0, 0, "sideways"))
    s.submit(Step(7))
    s.submit(AddBreakpoint("kexec", cpu=1, vm="vm2"))
    events = s.step_slice(0)
    errors = [e.message for e in events if e.kind == "error"]
    assert len(errors) == 4 and len(events) == 4
    assert "vm9" in errors[0] and "sideways" in errors[1] and "vCPU 7 does not exist" in errors[2]
    assert "vm1 vCPU 0 is not in VM vm2" in errors[3]
    s.submit(Resume())
    s.submit(TraceMonitor(True))
    s.submit(RunTo(2, "kexec"))
    s.submit(FeedConsole("vm2", b"echo two\n"))
    events = run_vms(s, lambda: False)
    stops = [e for e in events if e.kind == "step"]
    assert len(stops) == 1 and stops[0].cpu == 2 and stops[0].pc == s.resolve("kexec")
    # the guest-virtual view of kexec is the kernel image's bytes; physical and
    # machine views of the same bytes agree
    kexec = s.resolve("kexec")
    virt = s.read(2, kexec, 16)
    gpa = kexec - 0xC0000000
    assert virt == s.read(2, gpa, 16, "physical")
    ma = s.translate(2, kexec)
    assert ma is not None and ma >= 0 and virt == s.read(2, ma, 16, "machine")
    s.submit(Focus(2, gpa, "physical"))
    s.step_slice(0)
    d = s.snapshot().debug
    assert d.memory_space == "physical" and d.memory[:16] == virt
    s.submit(Focus(2, kexec, "virtual"))
    s.submit(Resume())
    run_vms(s, lambda: s.guests[2].console.output.endswith(b"two\n$ "))
    kinds = {e.kind for e in s.snapshot().debug.monitor_events}
    assert "tlbwr" in kinds or "tlbwi" in kinds
    text = [e.text for e in s.snapshot().debug.monitor_events if e.kind == "tlbwr"][0]
    assert "VA 0x" in text and "→ MA 0x" in text and "on node 2" in text
    s.submit(TraceMonitor(False))
    s.step_slice(0)


def test_vm_debugging_is_deterministic() -> None:
    """The same commands on the same slices give the same machine, bit for bit, even
    with a breakpoint for one VM that another VM passes (resumed unseen) and a step."""
    from disco_core.session import vms_session

    def run() -> tuple[str, list[bytes]]:
        s = vms_session(vms=2)
        try:
            for _ in range(8):
                s.step_slice(500_000)
            s.submit(AddBreakpoint("kexec", vm="vm1"))
            s.submit(FeedConsole("vm0", b"echo zero\n"))
            s.submit(FeedConsole("vm1", b"echo one\n"))
            for _ in range(40):
                s.step_slice(500_000)
                if not s.running:
                    break
            assert not s.running
            s.submit(Step(1))
            s.submit(RemoveBreakpoint("kexec", vm="vm1"))
            s.submit(Resume())
            for _ in range(6):
                s.step_slice(500_000)
            return s.machine.digest(), [bytes(g.console.output) for g in s.guests]
        finally:
            s.close()

    first, second = run(), run()
    assert first == second
    assert first[1][0].endswith(b"zero\n$ ")


def test_vm_watchpoint_stops_only_its_vm(vms: Session) -> None:
    """The kernel's `ticks` counter sits at the same address in every VM; a
    watchpoint for vm2 stops vm2's vCPU after its write, the others' writes pass."""
    s = vms
    s.submit(AddWatchpoint("ticks", 4, "w", vm="vm2"))
    assert [e.kind for e in s.step_slice(0)] == ["watchpoint-set"]
    events = run_vms(s, lambda: False, slices=400)
    hits = [e for e in events if e.kind == "watchpoint"]
    assert not s.running and len(hits) == 1 and hits[0].cpu == 2
    assert "vm2 vCPU 0 wrote" in hits[0].message and "<ticks>" in hits[0].message
    assert s.snapshot().watchpoints[0].vm == "vm2"
    s.submit(RemoveWatchpoint("ticks", 4, "w", vm="vm2"))
    s.submit(Resume())
    s.step_slice(500_000)
    assert s.running and s.snapshot().watchpoints == ()


def test_vm_translation_through_the_virtual_tlb_and_the_l2tlb(vms: Session) -> None:
    """VCpu.guest_physical: a user page the guest mapped goes through the virtual
    TLB's EntryLo (for the ASID in EntryHi); a page only the L2TLB still holds
    through its guest page; both end in the pmap's machine page
    (VCpu.machine_address, Session.translate)."""
    from disco_core.mips import EH_ASID, EH_VPN2, LO_V, PAGE_SHIFT, PAGE_SIZE, lo_pfn
    from disco_core.monitor.vcpu import TlbEntry

    s = vms
    s.submit(FeedConsole("vm1", b"ls\n"))  # user programs: user-space mappings
    run_vms(s, lambda: s.guests[1].console.output.endswith(b"$ "), slices=50)
    checked_tlb = checked_l2 = 0
    for i, v in enumerate(s.target.vcpus):  # type: ignore[attr-defined]
        mpn = s.target.vm(i).pmap.mpn  # type: ignore[attr-defined]
        entryhi, tlb = v.cp0.entryhi, v.tlb
        try:  # as the guest sees it while each process's ASID is current
            for e in v.tlb:
                v.cp0.entryhi = (entryhi & ~EH_ASID) | (e.hi & EH_ASID)
                for half, lo in ((0, e.lo0), (PAGE_SIZE, e.lo1)):
                    va = (e.hi & EH_VPN2) + half
                    if lo & LO_V and e.mask == 0 and va < 0x80000000 and v.tlb_match(va) is e:
                        gpa = lo_pfn(lo) << PAGE_SHIFT
                        assert v.guest_physical(va + 0x10) == gpa + 0x10
                        if mpn[gpa >> PAGE_SHIFT] >= 0:
                            want = (mpn[gpa >> PAGE_SHIFT] << PAGE_SHIFT) + 0x10
                            assert s.translate(i, va + 0x10) == want
                        checked_tlb += 1
            v.tlb = [TlbEntry() for _ in tlb]  # as after the guest's TLBWRs replaced them
            for vpn, asid, _lo, gpn in v.l2tlb_rows():
                v.cp0.entryhi = (entryhi & ~EH_ASID) | (asid & EH_ASID)
                if vpn << PAGE_SHIFT < 0x80000000:
                    assert v.guest_physical((vpn << PAGE_SHIFT) + 4) == (gpn << PAGE_SHIFT) + 4
                    checked_l2 += 1
        finally:
            v.cp0.entryhi, v.tlb = entryhi, tlb
        assert v.guest_physical(0x80000000) is None  # kseg0: not the guest's own map
    assert checked_tlb > 0 and checked_l2 > 0


def test_target_memory_writes(session: Session, vms: Session) -> None:
    """Targets.write stores as the target sees memory: a CPU's virtual addresses;
    a vCPU's guest-physical pages through the pmap, never a page VMs share."""
    address = session.resolve("bar_count")
    session.target.write(0, address, b"\x11\x22\x33\x44")
    assert session.read(0, address, 4) == b"\x11\x22\x33\x44"
    s = vms
    gpa = 0x7FF000  # a page of vm1's free memory: the kernel has not touched it
    s.target.write(1, gpa, b"disco", "physical")
    assert s.read(1, gpa, 5, "physical") == b"disco"
    assert s.read(2, gpa, 5, "physical") != b"disco"  # vm2's page of that address
    pmap = s.target.vm(1).pmap  # type: ignore[attr-defined]
    shared = [g for g in sorted(pmap.readonly) if g not in pmap.replicated]
    assert shared  # kernel text, shared read-only between the VMs
    with pytest.raises(ValueError, match="shared read-only"):
        s.target.write(1, shared[0] << 12, b"\0", "physical")
