"""Named user-mode behaviours of the CPU core, on hand-encoded programs.

Each program is a list of words with the disassembly beside them, placed at
0x80100000 (kseg0) with a data buffer at 0x80200000, as in the generated
programs. Every run is stepped on our core *and* compared instruction by
instruction with unicorn (registers, pc, data buffer, exception); the asserts
then pin the architectural answer, so a test fails if both sides agree on a
wrong value.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from disco_core.machine import ExcCode, ExceptionInfo
from tests.core.diffrun import CODE_WINDOW, CoreSide, compare, reference_trace
from tests.core.progen import CODE_VA, DATA_SIZE, DATA_VA, Program
from tests.core.unicorn_ref import Fault, UnicornRef

AT, T0, T1, T2, T3, RA = 1, 8, 9, 10, 11, 31
BREAK = 0x0000_000D  # the end marker after every program


@dataclass
class Run:
    gpr: list[int]
    hi: int
    lo: int
    data: bytes
    pcs: list[int]                       # executed instructions, in order
    fault: Fault | None                  # unicorn's (derived) exception
    exception: ExceptionInfo | None      # ours


@pytest.fixture(scope="module")
def core() -> CoreSide:
    return CoreSide()


@pytest.fixture
def run(core: CoreSide):
    def run(words: list[int], regs: dict[int, int] | None = None, hi: int = 0, lo: int = 0,
            data: bytes = b"") -> Run:
        gpr = [0] * 32
        for reg, value in (regs or {}).items():
            gpr[reg] = value & 0xFFFF_FFFF
        program = Program(
            seed=-1, index=0, words=(*words, BREAK), mnemonics=("hand",) * (len(words) + 1),
            gpr=tuple(gpr), hi=hi, lo=lo, data=data.ljust(DATA_SIZE, b"\0"),
        )
        trace = reference_trace(UnicornRef({CODE_VA: CODE_WINDOW, DATA_VA: DATA_SIZE}), program)
        outcome = compare(program, trace, core)
        assert outcome.divergence is None, str(outcome.divergence)
        cpu = core.cpu
        return Run(cpu.regs().tolist(), cpu.hi, cpu.lo, core.data(program),
                   [step.pc for step in trace.steps], outcome.fault, outcome.core_exception)
    return run


def at(*offsets: int) -> list[int]:
    return [CODE_VA + offset for offset in offsets]


def test_branch_delay_slot_executes(run) -> None:
    r = run([
        0x1000_0002,  # 0x80100000  b 0x8010000c
        0x2408_0001,  # 0x80100004  addiu $t0, $zero, 1      delay slot: runs
        0x2409_0001,  # 0x80100008  addiu $t1, $zero, 1      jumped over
        0x0000_0000,  # 0x8010000c  nop
    ])
    assert r.gpr[T0] == 1 and r.gpr[T1] == 0
    assert r.pcs == at(0x0, 0x4, 0xC)


def test_likely_branch_not_taken_skips_delay_slot(run) -> None:
    r = run([
        0x5100_0002,  # 0x80100000  beql $t0, $zero, 0x8010000c   $t0 = 1: not taken
        0x2409_0001,  # 0x80100004  addiu $t1, $zero, 1      nullified
        0x240A_0001,  # 0x80100008  addiu $t2, $zero, 1
        0x0000_0000,  # 0x8010000c  nop
    ], regs={T0: 1})
    assert r.gpr[T1] == 0 and r.gpr[T2] == 1
    assert r.pcs == at(0x0, 0x8, 0xC)  # the slot is never a step of its own


def test_jal_links_past_delay_slot(run) -> None:
    r = run([
        0x0C04_0004,  # 0x80100000  jal 0x80100010
        0x2408_0001,  # 0x80100004  addiu $t0, $zero, 1      delay slot
        0x2409_0001,  # 0x80100008  addiu $t1, $zero, 1      jumped over
        0x0000_0000,  # 0x8010000c  nop
        0x0160_5009,  # 0x80100010  jalr $t2, $t3            $t3 = 0x8010001c (the end)
        0x0000_0000,  # 0x80100014  nop
        0x0000_0000,  # 0x80100018  nop                      jumped over
    ], regs={T3: CODE_VA + 0x1C})
    assert r.gpr[RA] == CODE_VA + 0x8
    assert r.gpr[T2] == CODE_VA + 0x18
    assert r.gpr[T0] == 1 and r.gpr[T1] == 0
    assert r.pcs == at(0x0, 0x4, 0x10, 0x14)


def test_exception_in_delay_slot_sets_bd_and_epc_is_branch(run) -> None:
    r = run([
        0x1000_0002,  # 0x80100000  b 0x8010000c
        0x012A_4020,  # 0x80100004  add $t0, $t1, $t2        0x7fffffff + 1: overflow
        0x0000_0000,  # 0x80100008  nop
        0x0000_0000,  # 0x8010000c  nop
    ], regs={T0: 0x5555, T1: 0x7FFF_FFFF, T2: 1})
    assert r.exception is not None and r.fault is not None
    assert r.exception.code == ExcCode.OV
    assert r.exception.bd
    assert r.exception.epc == CODE_VA  # the branch, which is re-executed on return
    assert r.gpr[T0] == 0x5555


def test_exception_after_jump_to_misaligned_address_is_at_the_target(run) -> None:
    r = run([
        0x0120_0008,  # 0x80100000  jr $t1                   $t1 = 0x8010000a
        0x2408_0001,  # 0x80100004  addiu $t0, $zero, 1      delay slot: runs
        0x0000_0000,  # 0x80100008  nop
        0x0000_0000,  # 0x8010000c  nop
    ], regs={T1: CODE_VA + 0xA})
    assert r.gpr[T0] == 1
    assert r.exception is not None
    assert r.exception.code == ExcCode.ADEL and not r.exception.bd
    assert r.exception.epc == r.exception.badvaddr == CODE_VA + 0xA


def test_lwl_lwr_unaligned_word(run) -> None:
    r = run([
        0x8928_0003,  # 0x80100000  lwl $t0, 3($t1)          $t1 = 0x80200001
        0x9928_0000,  # 0x80100004  lwr $t0, ($t1)
        0x892A_0000,  # 0x80100008  lwl $t2, ($t1)           alone: merges 2 bytes
        0x992B_0000,  # 0x8010000c  lwr $t3, ($t1)           alone: merges 3 bytes
    ], regs={T1: DATA_VA + 1, T2: 0xAABB_CCDD, T3: 0xAABB_CCDD},
        data=bytes.fromhex("0011223344556677"))
    assert r.gpr[T0] == 0x4433_2211
    assert r.gpr[T2] == 0x1100_CCDD
    assert r.gpr[T3] == 0xAA33_2211


def test_swl_swr_unaligned_word(run) -> None:
    r = run([
        0xA928_0003,  # 0x80100000  swl $t0, 3($t1)          $t1 = 0x80200001
        0xB928_0000,  # 0x80100004  swr $t0, ($t1)
        0xA928_0009,  # 0x80100008  swl $t0, 9($t1)          alone: 0x8020000a
        0xB928_000E,  # 0x8010000c  swr $t0, 0xe($t1)        alone: 0x8020000f
    ], regs={T0: 0x4433_2211, T1: DATA_VA + 1}, data=b"\xee" * 16)
    assert r.data[:16] == bytes.fromhex("ee11223344eeeeee" "223344eeeeeeee11")


@pytest.mark.parametrize("word, regs, rd", [
    (0x012A_4020, {T0: 0x5555, T1: 0x7FFF_FFFF, T2: 1}, T0),  # add $t0, $t1, $t2
    (0x012A_4820, {T1: 0x8000_0000, T2: 0x8000_0000}, T1),    # add $t1, $t1, $t2
    (0x2129_0001, {T1: 0x7FFF_FFFF}, T1),                     # addi $t1, $t1, 1
    (0x016A_4022, {T0: 0x5555, T3: 0x8000_0000, T2: 1}, T0),  # sub $t0, $t3, $t2
], ids=["add", "add-rd-is-rs", "addi", "sub"])
def test_add_overflow_traps_and_leaves_rd(run, word: int, regs: dict[int, int],
                                          rd: int) -> None:
    r = run([word], regs=regs)
    assert r.exception is not None
    assert r.exception.code == ExcCode.OV and r.exception.epc == CODE_VA
    assert not r.exception.bd
    assert r.gpr[rd] == regs.get(rd, 0)


@pytest.mark.parametrize("word, dividend, divisor", [
    (0x012A_001A, 1234, 0),                  # div $zero, $t1, $t2
    (0x012A_001A, 0xFFFF_FB2E, 0),           # div: -1234 / 0
    (0x012A_001B, 0xFFFF_FB2E, 0),           # divu $zero, $t1, $t2
    (0x012A_001A, 0x8000_0000, 0xFFFF_FFFF), # div: INT_MIN / -1
], ids=["div", "div-negative", "divu", "div-int-min-by-minus-one"])
def test_div_by_zero_matches_reference(run, word: int, dividend: int, divisor: int) -> None:
    # UNPREDICTABLE in MIPS32; the reference (QEMU) divides by 1 instead.
    r = run([word], regs={T1: dividend, T2: divisor}, hi=0x1111, lo=0x2222)
    assert (r.hi, r.lo) == (0, dividend)


def test_madd_msub_accumulate(run) -> None:
    t1, t2 = 0xFFFF_FFFE, 3  # -2 and 3
    r = run([
        0x712A_0000,  # 0x80100000  madd $t1, $t2            hi:lo += -6
        0x712A_0004,  # 0x80100004  msub $t1, $t2            hi:lo -= -6
        0x712A_0001,  # 0x80100008  maddu $t1, $t2           hi:lo += 0xfffffffe * 3
        0x712A_0001,  # 0x8010000c  maddu $t1, $t2
        0x712A_0005,  # 0x80100010  msubu $t1, $t2           hi:lo -= 0xfffffffe * 3
    ], regs={T1: t1, T2: t2}, hi=0x0000_0001, lo=0xFFFF_FFFF)
    acc = (0x1_FFFF_FFFF + t1 * t2) & (1 << 64) - 1
    assert (r.hi << 32 | r.lo) == acc


def test_ll_sc_succeeds_without_intervening_eret(run) -> None:
    r = run([
        0xC128_0000,  # 0x80100000  ll $t0, ($t1)
        0x2508_0001,  # 0x80100004  addiu $t0, $t0, 1
        0xE128_0000,  # 0x80100008  sc $t0, ($t1)            $t0 = 1: stored
        0x8D2A_0000,  # 0x8010000c  lw $t2, ($t1)
    ], regs={T1: DATA_VA + 8}, data=bytes(8) + (41).to_bytes(4, "little"))
    assert r.gpr[T0] == 1
    assert r.gpr[T2] == 42
    assert r.data[8:12] == (42).to_bytes(4, "little")


def test_r0_is_always_zero(run, core: CoreSide) -> None:
    core.cpu.gpr[0] = 0x1234
    assert core.cpu.gpr[0] == 0
    r = run([
        0x2400_0005,  # 0x80100000  addiu $zero, $zero, 5
        0x3C00_FFFF,  # 0x80100004  lui $zero, 0xffff
        0x0000_0010,  # 0x80100008  mfhi $zero               $hi = 0x1234
        0x8D20_0000,  # 0x8010000c  lw $zero, ($t1)          the word is 0xffffffff
        0x0000_0821,  # 0x80100010  move $at, $zero          addu $at, $zero, $zero
    ], regs={AT: 7, T1: DATA_VA}, hi=0x1234, data=b"\xff" * 4)
    assert r.gpr[0] == 0
    assert r.gpr[AT] == 0
