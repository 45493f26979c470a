"""Privileged-architecture behaviours of the CPU core (MIPS32 PRA, MD00090).

Each test assembles a small kernel-mode program, with handlers at the
exception vectors where it needs them, runs it natively on the test machine
and checks the registers the handlers saved. Handlers save CP0 state into
$s registers and halt through the exit device.
"""

from __future__ import annotations

import pytest

from disco_core.guest import assemble
from disco_core.machine import CpuState, ExitReason, Ownership
from disco_core.testmachine import TestMachine

MAIN = 0x80001000
REFILL = 0x80000000
GENERAL = 0x80000180
INTERRUPT = 0x80000200

HALT = """
    lui $k1, 0xbfd0
    sw $zero, 0x10($k1)
1:  b 1b
    nop
"""

# save Cause, EPC, BadVAddr, EntryHi, Context, Status in s0..s5, then halt
SAVE_AND_HALT = """
    mfc0 $s0, $13
    mfc0 $s1, $14
    mfc0 $s2, $8
    mfc0 $s3, $10
    mfc0 $s4, $4
    mfc0 $s5, $12
""" + HALT


def machine(main: str, vectors: dict[int, str] | None = None, cpus: int = 1) -> TestMachine:
    tm = TestMachine(cpus=cpus, ram_bytes=16 << 20)
    for base, src in {MAIN: main, **(vectors or {})}.items():
        code = assemble(".set noreorder\n" + src, base=base)
        tm.write_phys(base & 0x1FFFFFFF, code)
    tm.cpus[0].pc = MAIN
    return tm


def run(tm: TestMachine, budget: int = 200_000) -> None:
    ex = tm.run(budget)
    assert ex.reason == ExitReason.HALT, ex


def reg(tm: TestMachine, name: str) -> int:
    names = {"zero": 0, "at": 1, "v0": 2, "v1": 3, "a0": 4, "a1": 5, "a2": 6, "a3": 7,
             "t0": 8, "t1": 9, "t2": 10, "t3": 11, "s0": 16, "s1": 17, "s2": 18, "s3": 19,
             "s4": 20, "s5": 21, "s6": 22, "s7": 23, "k0": 26, "k1": 27}
    return tm.cpus[0].gpr[names[name]]


def exccode(cause: int) -> int:
    return (cause >> 2) & 0x1F


def tlb_entry(index: int, va: int, pa: int, asid: int = 0, flags0: int = 0b110,
              flags1: int = 0b110, pagemask: int = 0) -> str:
    """Assembly writing one TLB entry pair (flags: D, V, G bits of EntryLo)."""
    lo0 = ((pa >> 12) << 6) | flags0
    lo1 = (((pa + 0x1000) >> 12) << 6) | flags1
    return f"""
    li $t0, {index}
    mtc0 $t0, $0
    li $t0, {pagemask:#x}
    mtc0 $t0, $5
    li $t0, {(va & 0xFFFFE000) | asid:#x}
    mtc0 $t0, $10
    li $t0, {lo0:#x}
    mtc0 $t0, $2
    li $t0, {lo1:#x}
    mtc0 $t0, $3
    tlbwi
"""


def test_tlb_refill_uses_refill_vector() -> None:
    tm = machine("""
        li $t1, 0x00402468
        lw $t2, 0($t1)
        nop
    """, {REFILL: SAVE_AND_HALT, GENERAL: "li $s7, 1\n" + HALT})
    run(tm)
    assert reg(tm, "s7") == 0, "went to the general vector"
    assert exccode(reg(tm, "s0")) == 2  # TLBL
    assert reg(tm, "s1") == MAIN + 8  # EPC: the lw
    assert reg(tm, "s2") == 0x00402468  # BadVAddr
    assert reg(tm, "s3") & 0xFFFFE000 == 0x00402000  # EntryHi.VPN2
    assert (reg(tm, "s4") >> 4) & 0x7FFFF == 0x00402468 >> 13  # Context.BadVPN2
    assert reg(tm, "s5") & 0b10  # Status.EXL


def test_tlb_miss_with_exl_set_uses_general_vector_and_keeps_epc() -> None:
    tm = machine("""
        li $t0, 0x12345678
        mtc0 $t0, $14          # EPC sentinel
        li $t0, 0x2            # EXL = 1: kernel mode, nested
        mtc0 $t0, $12
        li $t1, 0x00500000
        sw $t1, 0($t1)
        nop
    """, {REFILL: "li $s7, 1\n" + HALT, GENERAL: SAVE_AND_HALT})
    run(tm)
    assert reg(tm, "s7") == 0, "went to the refill vector with EXL set"
    assert exccode(reg(tm, "s0")) == 3  # TLBS
    assert reg(tm, "s1") == 0x12345678  # EPC unchanged under EXL
    assert reg(tm, "s2") == 0x00500000


def test_exception_in_delay_slot_sets_bd_and_epc_is_branch() -> None:
    tm = machine("""
        nop
        beq $zero, $zero, 1f
        syscall
    1:  nop
    """, {GENERAL: SAVE_AND_HALT})
    run(tm)
    assert exccode(reg(tm, "s0")) == 8  # Sys
    assert reg(tm, "s0") & 0x80000000  # Cause.BD
    assert reg(tm, "s1") == MAIN + 4  # EPC = the branch


def test_nested_exception_with_exl_set_does_not_overwrite_epc() -> None:
    tm = machine("""
        nop
        syscall
        nop
    """, {GENERAL: """
        addiu $s6, $s6, 1
        li $t0, 1
        bne $s6, $t0, 2f
        nop
        mfc0 $s7, $14          # EPC of the first exception
        break                  # nested: EXL is still set
        nop
    2:  mfc0 $s1, $14
        mfc0 $s0, $13
    """ + HALT})
    run(tm)
    assert reg(tm, "s6") == 2
    assert reg(tm, "s7") == MAIN + 4
    assert reg(tm, "s1") == MAIN + 4, "nested exception overwrote EPC"
    assert exccode(reg(tm, "s0")) == 9  # Bp


def test_tlb_invalid_exception_goes_to_general_vector() -> None:
    tm = machine(tlb_entry(3, 0x00600000, 0x00200000, flags0=0b100) + """
        li $t1, 0x00600010
        lw $t2, 0($t1)
        nop
    """, {REFILL: "li $s7, 1\n" + HALT, GENERAL: SAVE_AND_HALT})
    run(tm)
    assert reg(tm, "s7") == 0
    assert exccode(reg(tm, "s0")) == 2
    assert reg(tm, "s2") == 0x00600010


def test_tlb_modified_exception_on_store_to_clean_page() -> None:
    tm = machine(tlb_entry(3, 0x00600000, 0x00200000, flags0=0b010) + """
        li $t1, 0x00600010
        lw $t2, 0($t1)         # reading a clean page is fine
        sw $t2, 0($t1)
        nop
    """, {GENERAL: SAVE_AND_HALT})
    run(tm)
    assert exccode(reg(tm, "s0")) == 1  # Mod
    assert reg(tm, "s2") == 0x00600010


def test_tlb_mapping_reaches_physical_page_and_odd_half() -> None:
    tm = machine(tlb_entry(1, 0x00700000, 0x00300000) + """
        li $t1, 0x00700000
        li $t2, 0xcafe
        sw $t2, 4($t1)         # even page -> 0x00300004
        li $t2, 0xbeef
        sw $t2, 0x1008($t1)    # odd page -> 0x00301008
    """ + HALT)
    run(tm)
    assert int.from_bytes(tm.read_phys(0x00300004, 4), "little") == 0xCAFE
    assert int.from_bytes(tm.read_phys(0x00301008, 4), "little") == 0xBEEF


def test_asid_and_global_matching() -> None:
    tm = machine(tlb_entry(1, 0x00800000, 0x00300000, asid=5)
                 + tlb_entry(2, 0x00900000, 0x00310000, asid=9, flags0=0b111, flags1=0b111)
                 + """
        li $t0, 5
        mtc0 $t0, $10          # ASID 5
        li $t1, 0x00800000
        lw $t2, 0($t1)         # matches entry 1
        li $t3, 0x00900000
        lw $t2, 0($t3)         # global entry 2 matches any ASID
        li $t0, 6
        mtc0 $t0, $10          # ASID 6
        lw $t2, 0($t3)         # still global
        li $s6, 1
        lw $t2, 0($t1)         # entry 1 no longer matches: refill
        nop
    """, {REFILL: SAVE_AND_HALT, GENERAL: "li $s7, 1\n" + HALT})
    run(tm)
    assert reg(tm, "s6") == 1, "a global or matching-ASID access missed"
    assert reg(tm, "s7") == 0
    assert exccode(reg(tm, "s0")) == 2
    assert reg(tm, "s3") & 0xFF == 6  # EntryHi keeps the current ASID


def test_wired_entries_survive_tlbwr_and_random_stays_in_range() -> None:
    tm = machine("""
        li $t0, 10
        mtc0 $t0, $6           # Wired = 10
        li $s6, 0
        li $s7, 64
        li $t2, 0x00000000
    1:  li $t0, 0x00A00000
        addu $t0, $t0, $t2
        mtc0 $t0, $10
        mtc0 $zero, $2
        mtc0 $zero, $3
        mfc0 $t3, $1           # Random
        sltiu $t4, $t3, 10
        addu $s6, $s6, $t4     # count Random < Wired
        tlbwr
        addiu $t2, $t2, 0x2000
        addiu $s7, $s7, -1
        bnez $s7, 1b
        nop
    """ + HALT)
    his = [0x80000000 + i * 0x2000 for i in range(64)]
    run(tm)
    assert reg(tm, "s6") == 0, "Random went below Wired"
    cpu = tm.cpus[0]
    for i in range(10):
        assert cpu.tlb(i)[0] == his[i], f"wired entry {i} was replaced"
    written = {cpu.tlb(i)[0] for i in range(10, 64)}
    assert len(written & {0x00A00000 + k * 0x2000 for k in range(64)}) > 20


def test_tlbp_finds_entry_and_sets_probe_failure() -> None:
    tm = machine(tlb_entry(7, 0x00B00000, 0x00300000, asid=3) + """
        li $t0, 0x00B00003
        mtc0 $t0, $10
        tlbp
        mfc0 $s0, $0
        li $t0, 0x00C00003
        mtc0 $t0, $10
        tlbp
        mfc0 $s1, $0
        li $t0, 7
        mtc0 $t0, $0
        tlbr
        mfc0 $s2, $10
        mfc0 $s3, $2
    """ + HALT)
    run(tm)
    assert reg(tm, "s0") == 7
    assert reg(tm, "s1") & 0x80000000
    assert reg(tm, "s2") == 0x00B00003
    assert reg(tm, "s3") == ((0x00300000 >> 12) << 6) | 0b110


def test_supervisor_mode_segment_violation() -> None:
    # map supervisor code at sseg 0xC0000000 -> physical 0x00100000, then ERET into it
    sup = assemble(""".set noreorder
        li $t1, 0x80002000
        lw $t2, 0($t1)          # kseg0 from supervisor mode: address error
        nop
    """, base=0xC0000000)
    tm = machine(tlb_entry(0, 0xC0000000, 0x00100000) + """
        li $t0, 0xC0000000
        mtc0 $t0, $14
        li $t0, 0x0000000A      # KSU = supervisor, EXL = 1
        mtc0 $t0, $12
        eret
        nop
    """, {GENERAL: SAVE_AND_HALT})
    tm.write_phys(0x00100000, sup)
    run(tm)
    assert exccode(reg(tm, "s0")) == 4  # AdEL
    assert reg(tm, "s2") == 0x80002000
    assert reg(tm, "s1") == 0xC0000008


def test_user_mode_cannot_reach_kseg_or_cp0() -> None:
    user = assemble(""".set noreorder
        mfc0 $t0, $12           # privileged from user mode
        nop
    """, base=0x00400000)
    tm = machine(tlb_entry(0, 0x00400000, 0x00100000) + """
        li $t0, 0x00400000
        mtc0 $t0, $14
        li $t0, 0x00000012      # KSU = user, EXL = 1
        mtc0 $t0, $12
        eret
        nop
    """, {GENERAL: SAVE_AND_HALT})
    tm.write_phys(0x00100000, user)
    run(tm)
    assert exccode(reg(tm, "s0")) == 11  # CpU
    assert (reg(tm, "s0") >> 28) & 3 == 0  # CE = 0
    assert reg(tm, "s1") == 0x00400000


def test_fpu_instruction_is_coprocessor_unusable() -> None:
    tm = machine("""
        .word 0x46020000        # add.s $f0, $f0, $f2
        nop
    """, {GENERAL: SAVE_AND_HALT})
    run(tm)
    assert exccode(reg(tm, "s0")) == 11
    assert (reg(tm, "s0") >> 28) & 3 == 1  # CE = 1


def test_reserved_instruction() -> None:
    tm = machine(".word 0xfc000000\nnop\n", {GENERAL: SAVE_AND_HALT})
    run(tm)
    assert exccode(reg(tm, "s0")) == 10


def test_ll_sc_succeeds_then_is_broken_by_eret() -> None:
    tm = machine("""
        li $t1, 0x80003000
        ll $t2, 0($t1)
        addiu $t2, $t2, 1
        sc $t2, 0($t1)
        move $s6, $t2           # 1: succeeded
        ll $t2, 0($t1)
        syscall                 # the handler returns with ERET
        addiu $t2, $t2, 1
        sc $t2, 0($t1)
        move $s7, $t2           # 0: the reservation is gone
    """ + HALT, {GENERAL: """
        mfc0 $k0, $14
        addiu $k0, $k0, 4
        mtc0 $k0, $14
        eret
        nop
    """})
    run(tm)
    assert reg(tm, "s6") == 1
    assert reg(tm, "s7") == 0
    assert int.from_bytes(tm.read_phys(0x3000, 4), "little") == 1


def test_software_interrupt_masking() -> None:
    tm = machine("""
        li $t0, 0x00000100      # Cause.IP0: software interrupt 0 pending
        mtc0 $t0, $13
        li $t0, 0x00000001      # IE = 1, IM0 = 0: masked
        mtc0 $t0, $12
        li $s6, 1               # still here
        li $t0, 0x00000101      # IM0 = 1: taken now
        mtc0 $t0, $12
        li $s7, 1               # not reached before the interrupt
        nop
    """, {GENERAL: SAVE_AND_HALT})
    run(tm)
    assert reg(tm, "s6") == 1
    assert reg(tm, "s7") == 0
    assert exccode(reg(tm, "s0")) == 0  # Int
    assert reg(tm, "s1") == MAIN + 0x1C  # EPC: the instruction after the mtc0


def test_interrupt_vector_with_cause_iv() -> None:
    tm = machine("""
        li $t0, 0x00800100      # IV = 1, IP0
        mtc0 $t0, $13
        li $t0, 0x00000101
        mtc0 $t0, $12
        nop
    """, {GENERAL: "li $s7, 1\n" + HALT, INTERRUPT: SAVE_AND_HALT})
    run(tm)
    assert reg(tm, "s7") == 0
    assert exccode(reg(tm, "s0")) == 0


def test_count_compare_timer_interrupt() -> None:
    tm = machine("""
        mfc0 $t0, $9
        addiu $t0, $t0, 500
        mtc0 $t0, $11           # Compare = Count + 500
        li $t0, 0x00008001      # IM7, IE
        mtc0 $t0, $12
        li $s6, 0
    1:  addiu $s6, $s6, 1
        b 1b
        nop
    """, {GENERAL: "mfc0 $s7, $9\n" + SAVE_AND_HALT})
    run(tm)
    cause = reg(tm, "s0")
    assert exccode(cause) == 0
    assert cause & (1 << 30)  # Cause.TI
    assert cause & (1 << 15)  # IP7
    # Count runs at half the clock: 500 counts = 1000 cycles, ~3 instructions a loop
    assert 300 <= reg(tm, "s6") <= 340


def test_writing_compare_clears_timer_interrupt() -> None:
    tm = machine("""
        mfc0 $t0, $9
        addiu $t0, $t0, 20
        mtc0 $t0, $11
        li $t1, 200
    1:  addiu $t1, $t1, -1
        bnez $t1, 1b
        nop
        mfc0 $s0, $13           # TI set (interrupts are off)
        mtc0 $zero, $11
        mfc0 $s1, $13           # TI clear
    """ + HALT)
    run(tm)
    assert reg(tm, "s0") & (1 << 30)
    assert not reg(tm, "s1") & (1 << 30)


def test_wait_idles_until_timer_interrupt() -> None:
    tm = machine("""
        mfc0 $t0, $9
        li $t1, 100000
        addu $t0, $t0, $t1
        mtc0 $t0, $11
        li $t0, 0x00008001
        mtc0 $t0, $12
        wait
        li $s7, 1
    """, {GENERAL: "mfc0 $s6, $9\n" + SAVE_AND_HALT})
    ex = tm.run(1000)  # only a handful of instructions run: time passes while waiting
    assert ex.reason == ExitReason.HALT
    assert exccode(reg(tm, "s0")) == 0
    assert reg(tm, "s1") == MAIN + 0x20  # EPC: after the WAIT (li 100000 is two words)
    assert tm.cpus[0].cycles >= 200000


def test_wait_without_pending_interrupt_exits_to_host() -> None:
    tm = machine("""
        wait
        li $s7, 1
    """ + HALT, {GENERAL: SAVE_AND_HALT})
    ex = tm.run(1000)
    assert ex.reason == ExitReason.WAIT
    assert tm.cpus[0].state == CpuState.WAITING
    tm.cpus[0].set_irq(0, True)  # a device raises IP2; IM2 is clear, so no wake
    assert tm.run(1000).reason == ExitReason.WAIT
    tm.cpus[0].set_cp0(12, 0x00000400)  # IM2, IE = 0: wakes without taking it
    assert tm.run(1000).reason == ExitReason.HALT
    assert reg(tm, "s7") == 1


def test_ebase_moves_the_vectors() -> None:
    tm = machine("""
        li $t0, 0x80004000
        mtc0 $t0, $15, 1
        syscall
        nop
    """, {0x80004180: SAVE_AND_HALT, GENERAL: "li $s7, 1\n" + HALT})
    run(tm)
    assert reg(tm, "s7") == 0
    assert exccode(reg(tm, "s0")) == 8


def test_bev_selects_boot_vectors() -> None:
    tm = machine("""
        li $t0, 0x00400000      # BEV
        mtc0 $t0, $12
        syscall
    """)
    for _ in range(4):
        tm.step(0)
    assert tm.cpus[0].pc == 0xBFC00380


def test_bus_error_outside_ram_and_devices() -> None:
    tm = machine("""
        li $t1, 0xBF000000      # kseg1 -> physical 0x1F000000: no device there
        lw $t2, 0($t1)
        nop
    """, {GENERAL: SAVE_AND_HALT})
    run(tm)
    assert exccode(reg(tm, "s0")) == 7  # DBE


def test_eret_from_error_level() -> None:
    tm = machine("""
        la $t0, 1f
        mtc0 $t0, $30           # ErrorEPC
        li $t0, 0x00000004      # ERL
        mtc0 $t0, $12
        eret
        nop
        li $s7, 1
    1:  mfc0 $s5, $12
    """ + HALT)
    run(tm)
    assert reg(tm, "s7") == 0
    assert reg(tm, "s5") & 0x4 == 0


def test_cpu_identity_registers() -> None:
    tm = machine("""
        mfc0 $s0, $15           # PRId
        mfc0 $s1, $15, 1        # EBase
        mfc0 $s2, $16           # Config
        mfc0 $s3, $16, 1        # Config1
        rdhwr $s4, $0           # CPUNum
    """ + HALT)
    run(tm)
    assert reg(tm, "s0") == 0x00000900
    assert reg(tm, "s1") == 0x80000000
    assert (reg(tm, "s2") >> 10) & 7 == 1  # AR = Release 2
    assert (reg(tm, "s2") >> 7) & 7 == 1  # MT = standard TLB
    assert (reg(tm, "s3") >> 25) & 0x3F == 63  # MMUSize - 1
    assert not reg(tm, "s3") & 1  # no FPU
    assert reg(tm, "s4") == 0


def test_monitored_cpu_exits_instead_of_vectoring() -> None:
    tm = machine("""
        nop
        beq $zero, $zero, 1f
        syscall
    1:  nop
    """)
    tm.cpus[0].ownership = Ownership.MONITORED
    ex = tm.run(100)
    assert ex.reason == ExitReason.EXCEPTION
    assert ex.exception is not None
    e = ex.exception
    assert (e.code, e.pc, e.epc, e.bd) == (8, MAIN + 8, MAIN + 4, True)
    assert e.insn == 0x0000000C
    assert tm.cpus[0].pc == MAIN + 8  # did not vector
    assert tm.cpus[0].cp0(13) & 0x7C == 0  # Cause untouched
    tm.cpus[0].advance()  # the monitor "emulated" it: continue at the branch target
    assert tm.cpus[0].pc == MAIN + 12


def test_monitored_tlb_miss_reports_refill() -> None:
    tm = machine("""
        li $t1, 0x00402000
        lw $t2, 0($t1)
    """)
    tm.cpus[0].ownership = Ownership.MONITORED
    ex = tm.run(100)
    assert ex.exception is not None
    assert (ex.exception.code, ex.exception.refill, ex.exception.badvaddr) == (2, True, 0x00402000)


@pytest.mark.parametrize("cpus", [2, 4])
def test_secondary_cpus_start_parked(cpus: int) -> None:
    tm = machine(HALT, cpus=cpus)
    assert [c.state for c in tm.cpus[1:]] == [CpuState.PARKED] * (cpus - 1)
    run(tm)


def test_host_tlb_write_and_flush() -> None:
    tm = machine("""
        li $t1, 0x00700004
        lw $s0, 0($t1)
    """ + HALT, {REFILL: "li $s7, 1\n" + HALT})
    tm.write_phys(0x00300004, (0x1234).to_bytes(4, "little"))
    cpu = tm.cpus[0]
    cpu.write_tlb(5, 0x00700000, ((0x00300000 >> 12) << 6) | 0b111, 0, 0)
    assert cpu.tlb(5) == (0x00700000, ((0x00300000 >> 12) << 6) | 0b110, 0, 0)
    run(tm)
    assert reg(tm, "s0") == 0x1234 and reg(tm, "s7") == 0
    cpu.flush_tlb()
    cpu.pc = MAIN
    tm.clear_halt()
    run(tm)
    assert reg(tm, "s7") == 1  # the mapping is gone: refill


def test_cause_dc_stops_count() -> None:
    # Release 2's Cause.DC (bit 27) is writable and stops Count where it stands; clearing
    # it lets Count go on from there (found by the QEMU co-simulation, docs/qemu-cosim.md)
    tm = machine("""
        li $t0, 0x08000000
        mtc0 $t0, $13          # DC = 1
        mfc0 $s0, $13
        mfc0 $s1, $9           # Count, stopped
        li $t1, 200
    1:  addiu $t1, $t1, -1
        bnez $t1, 1b
        nop
        mfc0 $s2, $9           # the same Count
        mtc0 $zero, $13        # DC = 0
        li $t1, 200
    2:  addiu $t1, $t1, -1
        bnez $t1, 2b
        nop
        mfc0 $s3, $9           # Count moved on again
    """ + HALT)
    run(tm)
    assert reg(tm, "s0") & 0x0800_0000, "Cause.DC did not stick"
    assert reg(tm, "s2") == reg(tm, "s1"), "Count ran while Cause.DC was set"
    assert 0 < reg(tm, "s3") - reg(tm, "s2") < 2000


def test_cause_dc_holds_back_the_timer() -> None:
    # with Count stopped short of Compare, the timer interrupt never comes
    tm = machine("""
        mtc0 $zero, $9
        li $t0, 50
        mtc0 $t0, $11          # Compare = 50
        li $t0, 0x08000000
        mtc0 $t0, $13          # DC = 1 at Count ~ 0
        li $t0, 0x8001         # IE, IM7
        mtc0 $t0, $12
        li $t1, 500
    1:  addiu $t1, $t1, -1
        bnez $t1, 1b
        nop
        li $s7, 1              # reached: no interrupt was taken
    """ + HALT, {GENERAL: "li $s6, 1\n" + HALT, INTERRUPT: "li $s6, 2\n" + HALT})
    run(tm)
    assert reg(tm, "s6") == 0, "the timer fired while Count was stopped"
    assert reg(tm, "s7") == 1
