"""Differential run of our CPU core against unicorn on generated programs.

The comparison itself lives here and test_diff_unicorn.py uses it; run as a
command it is the long run:

    python -m tests.core.diffrun --instructions 10000000 [--seed N] [--jobs 2]
    python -m tests.core.diffrun --seed N --program I     # one program, traced

Each program (tests/core/progen.py) runs in unicorn first (unicorn_ref.py),
then on our core one `step()` at a time; after every instruction the 32 GPRs,
HI, LO and the pc must match, after every store the whole data buffer, and at
the first exception (which ends the program on both sides) its ExcCode, EPC,
BD and, for address errors, BadVAddr, and the data buffer (a faulting store
writes nothing). Then the same program runs again by one multi-instruction
`run()` through each of the core's loops (fast, timing, debug: a breakpoint
set, and timing with one) and must end where `step()` did. `--straddle`
compares longer programs placed so that a branch's delay slot is the first
word of a page.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import struct
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from capstone import CS_ARCH_MIPS, CS_MODE_LITTLE_ENDIAN, CS_MODE_MIPS32, Cs

from disco_core.machine import ExceptionInfo, ExitReason, Machine, MachineConfig, Ownership
from tests.core.progen import (
    CODE_VA,
    DATA_SIZE,
    DATA_VA,
    Program,
    ProgramGenerator,
    encode,
    random_word,
)
from tests.core.unicorn_ref import EXC_ADEL, EXC_ADES, EXC_NAMES, Fault, Step, Trace, UnicornRef

RAM_BYTES = 4 << 20
CODE_WINDOW = 0x10000
PHYS_MASK = 0x1FFF_FFFF
MAX_STEPS = 100_000

REG_NAMES = (
    "zero", "at", "v0", "v1", "a0", "a1", "a2", "a3", "t0", "t1", "t2", "t3", "t4", "t5",
    "t6", "t7", "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "t8", "t9", "k0", "k1",
    "gp", "sp", "fp", "ra",
)

_capstone = Cs(CS_ARCH_MIPS, CS_MODE_MIPS32 | CS_MODE_LITTLE_ENDIAN)


def disassemble(word: int | None, pc: int) -> str:
    if word is None:
        return "(instruction fetch)"
    for insn in _capstone.disasm(struct.pack("<I", word), pc):
        return f"{insn.mnemonic} {insn.op_str}".strip()
    return "(no disassembly)"


def describe(pc: int, word: int | None) -> str:
    shown = "--------" if word is None else f"{word:08x}"
    return f"{pc:#010x}: {shown}  {disassemble(word, pc)}"


@dataclass
class Divergence:
    """Where our core first disagreed with unicorn, with everything to reproduce it."""

    seed: int
    index: int
    step: int
    pc: int
    word: int | None
    mnemonic: str
    problems: list[str]
    before: tuple[int, ...]         # GPRs before the instruction
    hi_lo_before: tuple[int, int]
    history: list[tuple[int, int | None]]

    def __str__(self) -> str:
        where = (f"seed {self.seed}, program {self.index}" if self.seed >= 0
                 else "hand-written program")
        lines = [
            f"core diverges from unicorn: {where}, instruction #{self.step}",
            f"  at {describe(self.pc, self.word)}   [{self.mnemonic}]",
            *(f"  {p}" for p in self.problems),
            "  registers before it:",
        ]
        regs = [f"{'$' + REG_NAMES[n]:>5} {v:08x}" for n, v in enumerate(self.before)]
        regs += [f"  $hi {self.hi_lo_before[0]:08x}", f"  $lo {self.hi_lo_before[1]:08x}"]
        lines += ["    " + "  ".join(regs[i:i + 6]) for i in range(0, len(regs), 6)]
        lines.append("  previous instructions:")
        lines += [f"    {describe(pc, word)}" for pc, word in self.history] or ["    (none)"]
        if self.seed >= 0:  # hand-written programs have no seed
            lines.append(f"  reproduce: python -m tests.core.diffrun --seed {self.seed} "
                         f"--program {self.index}")
        return "\n".join(lines)


@dataclass
class Outcome:
    """One program compared."""

    index: int
    compared: int
    fault: Fault | None
    executed: Counter[str] = field(default_factory=Counter)
    divergence: Divergence | None = None
    core_exception: ExceptionInfo | None = None  # what our core reported at the fault


def reference_trace(ref: UnicornRef, program: Program) -> Trace:
    try:
        return ref.run({program.code_va: program.code, program.data_va: program.data},
                       program.code_va, program.code_va, program.gpr, program.hi, program.lo,
                       program.end_va, max_steps=MAX_STEPS)
    except RuntimeError as exc:
        exc.add_note(f"in unicorn, seed {program.seed} program {program.index}")
        raise


class CoreSide:
    """Our core, one CPU in monitored ownership so exceptions exit instead of vectoring."""

    def __init__(self) -> None:
        self.machine = Machine(MachineConfig(cpus=1, ram_bytes=RAM_BYTES))
        self.cpu = self.machine.cpus[0]
        self.cpu.ownership = Ownership.MONITORED

    def load(self, program: Program) -> None:
        m, cpu = self.machine, self.cpu
        m.write_phys(program.code_va & PHYS_MASK, program.code)
        m.write_phys(program.data_va & PHYS_MASK, program.data)
        for n in range(1, 32):
            cpu.gpr[n] = program.gpr[n]
        cpu.hi = program.hi
        cpu.lo = program.lo
        cpu.pc = program.code_va  # also drops a delay slot left pending by the last program

    def data(self, program: Program) -> bytes:
        return self.machine.read_phys(program.data_va & PHYS_MASK, DATA_SIZE)


def _fault_text(f: Fault) -> str:
    bad = "" if f.badvaddr is None else f" BadVAddr {f.badvaddr:#010x}"
    name = EXC_NAMES.get(f.code, str(f.code))
    return f"{name} (ExcCode {f.code}) EPC {f.epc:#010x} BD {int(f.bd)}{bad}"


def compare(program: Program, trace: Trace, core: CoreSide) -> Outcome:
    """Step our core through `program` and hold it against unicorn's trace."""
    core.load(program)
    machine, cpu = core.machine, core.cpu
    shadow = bytearray(program.data)  # the data buffer as unicorn left it so far
    history: deque[tuple[int, int | None]] = deque(maxlen=5)
    before = program.gpr
    hi_lo = (program.hi, program.lo)
    outcome = Outcome(program.index, 0, None)

    def diverge(k: int, step: Step, problems: list[str]) -> Outcome:
        mnemonic = "fetch" if step.word is None else program.mnemonic_at(step.pc)
        outcome.divergence = Divergence(program.seed, program.index, k, step.pc, step.word,
                                        mnemonic, problems, tuple(before), hi_lo,
                                        list(history))
        return outcome

    for k, step in enumerate(trace.steps):
        try:
            ex = machine.step(0)
        except Exception as exc:
            exc.add_note(f"while stepping seed {program.seed} program {program.index} "
                         f"instruction #{k} at {describe(step.pc, step.word)}")
            raise
        outcome.compared += 1
        if step.word is not None:
            outcome.executed[program.mnemonic_at(step.pc)] += 1
        gpr = tuple(cpu.regs().tolist())
        hi, lo = cpu.hi, cpu.lo
        problems: list[str] = []
        if gpr != step.gpr or hi != step.hi or lo != step.lo:
            problems = [
                f"${REG_NAMES[n]}: ours {ours:#010x}, unicorn {theirs:#010x}"
                for n, (ours, theirs) in enumerate(zip(gpr, step.gpr, strict=True))
                if ours != theirs
            ]
            if hi != step.hi:
                problems.append(f"$hi: ours {hi:#010x}, unicorn {step.hi:#010x}")
            if lo != step.lo:
                problems.append(f"$lo: ours {lo:#010x}, unicorn {step.lo:#010x}")

        if step.fault is not None:
            outcome.fault = step.fault
            if ex.reason != ExitReason.EXCEPTION or ex.exception is None:
                problems.insert(0, f"unicorn raises {_fault_text(step.fault)}; ours exits "
                                   f"{ex.reason.name} with pc {ex.pc:#010x}")
                return diverge(k, step, problems)
            got = outcome.core_exception = ex.exception
            want = step.fault
            mine = Fault(got.code, got.pc, got.epc, got.bd,
                         got.badvaddr if want.code in (EXC_ADEL, EXC_ADES) else None)
            if (mine.code, mine.epc, mine.bd, mine.badvaddr) != (
                    want.code, want.epc, want.bd, want.badvaddr):
                problems.insert(0, f"exception: ours {_fault_text(mine)}, "
                                   f"unicorn {_fault_text(want)}")
            # A faulting instruction (a store above all) leaves memory as it was.
            ours_data = core.data(program)
            if ours_data != shadow:
                problems += _memory_problems(program.data_va, ours_data, shadow)
            return diverge(k, step, problems) if problems else outcome

        if ex.reason != ExitReason.STEP:
            what = ex.exception.name if ex.exception is not None else ""
            problems.insert(0, f"ours exits {ex.reason.name} {what} (epc "
                               f"{ex.exception.epc if ex.exception else ex.pc:#010x}); "
                               "unicorn executes the instruction")
            return diverge(k, step, problems)
        if ex.pc != step.next_pc:
            problems.append(f"pc afterwards: ours {ex.pc:#010x}, unicorn {step.next_pc:#010x}")
        if step.store is not None:
            address, value = step.store
            offset = address - program.data_va
            shadow[offset:offset + 4] = value.to_bytes(4, "little")
            ours_data = core.data(program)
            if ours_data != shadow:
                problems += _memory_problems(program.data_va, ours_data, shadow)
        if problems:
            return diverge(k, step, problems)
        history.append((step.pc, step.word))
        before = step.gpr
        hi_lo = (step.hi, step.lo)

    if trace.ended == "end" and core.data(program) != shadow:
        last = trace.steps[-1]
        return diverge(len(trace.steps) - 1, last,
                       _memory_problems(program.data_va, core.data(program), shadow))
    return outcome


# The loops that run() may take, besides step(): (name, timing mode, breakpoint set).
# A breakpoint anywhere sends run() through the debug loop; this one is never reached.
RUN_LOOPS = (("fast", False, False), ("timing", True, False), ("debug", False, True),
             ("timing+debug", True, True))


def _end_state(core: CoreSide, program: Program) -> tuple[object, ...]:
    cpu = core.cpu
    return (tuple(cpu.regs().tolist()), cpu.hi, cpu.lo, cpu.pc, core.data(program))


def compare_loops(program: Program, outcome: Outcome, core: CoreSide) -> list[str]:
    """Run `program` again by one multi-instruction run() through each loop of RUN_LOOPS
    and hold its end against the end step() reached (which matched unicorn): registers,
    pc, the data buffer and the exception that ended it, if any. Call it right after
    compare() found no divergence, with the core still at that end."""
    want = _end_state(core, program)
    want_exc = outcome.core_exception
    machine = core.machine
    never = program.end_va + 4
    problems: list[str] = []
    for name, timing, debug in RUN_LOOPS:
        core.load(program)
        machine.timing = timing
        if debug:
            machine.add_breakpoint(never)
        try:
            ex = machine.run(outcome.compared)
        finally:
            if debug:
                machine.remove_breakpoint(never)
            machine.timing = False
        if want_exc is not None:
            got = ex.exception
            if ex.reason != ExitReason.EXCEPTION or got is None or (
                    got.code, got.epc, got.bd, got.badvaddr) != (
                    want_exc.code, want_exc.epc, want_exc.bd, want_exc.badvaddr):
                problems.append(f"{name} run(): exits {ex.reason.name} {got}; step() raised "
                                f"{want_exc}")
        elif ex.reason != ExitReason.BUDGET or ex.executed != outcome.compared:
            problems.append(f"{name} run(): exits {ex.reason.name} after {ex.executed} "
                            f"instructions; step() ran {outcome.compared}")
        got_state = _end_state(core, program)
        if got_state != want:
            names = ("registers", "hi", "lo", "pc", "data buffer")
            bad = [n for n, a, b in zip(names, got_state, want, strict=True) if a != b]
            problems.append(f"{name} run(): end state differs from step()'s in "
                            f"{', '.join(bad)}")
    return problems


def _memory_problems(base: int, ours: bytes, theirs: bytes | bytearray) -> list[str]:
    out = []
    for i in range(0, len(theirs), 4):
        if ours[i:i + 4] != theirs[i:i + 4]:
            out.append(f"memory {base + i:#010x}: ours {ours[i:i + 4].hex()}, "
                       f"unicorn {bytes(theirs[i:i + 4]).hex()} (bytes in address order)")
    return out[:8]


def loop_divergence(program: Program, problems: list[str]) -> Divergence:
    """A run() loop that ended elsewhere than step() did, as a Divergence."""
    return Divergence(program.seed, program.index, -1, program.code_va, None, "run()",
                      problems, program.gpr, (program.hi, program.lo), [])


def random_word_program(rng: random.Random, base: Program, index: int) -> Program:
    """One random instruction word (progen.random_word) then the end marker, with the
    registers and data of a generated program."""
    return Program(seed=-1, index=index, words=(random_word(rng), encode("BREAK")),
                   mnemonics=("RANDOM", "BREAK"), gpr=base.gpr, hi=base.hi, lo=base.lo,
                   data=base.data)


class DiffRunner:
    """Generator, unicorn and our core together, for one seed."""

    def __init__(self, seed: int, straddle: bool = False) -> None:
        self.seed = seed
        # Straddling programs are longer (code on several pages) and cross a page
        # boundary in a delay slot (progen.py).
        self.generator = (ProgramGenerator(seed, length=1500, straddle=True) if straddle
                          else ProgramGenerator(seed))
        self.ref = UnicornRef({CODE_VA: CODE_WINDOW, DATA_VA: DATA_SIZE})
        self.core = CoreSide()

    def program(self, index: int) -> Outcome:
        program = self.generator.program(index)
        outcome = compare(program, reference_trace(self.ref, program), self.core)
        if outcome.divergence is None:
            problems = compare_loops(program, outcome, self.core)
            if problems:
                outcome.divergence = loop_divergence(program, problems)
        return outcome

    def until(self, instructions: int, start: int = 0) -> Iterator[Outcome]:
        """Programs start, start+1, ... until `instructions` have been compared."""
        compared = 0
        index = start
        while compared < instructions:
            outcome = self.program(index)
            compared += outcome.compared
            index += 1
            yield outcome


# --- the command --------------------------------------------------------------

_worker: DiffRunner | None = None


def _work(job: tuple[int, int, int, bool]) -> tuple[int, int, str | None]:
    """Worker: programs [first, first + count) of `seed`; stops at a divergence."""
    global _worker
    seed, first, count, straddle = job
    if _worker is None or _worker.seed != seed:
        _worker = DiffRunner(seed, straddle)
    compared = 0
    for index in range(first, first + count):
        outcome = _worker.program(index)
        compared += outcome.compared
        if outcome.divergence is not None:
            return compared, index - first + 1, str(outcome.divergence)
    return compared, count, None


def _jobs(seed: int, chunk: int, straddle: bool) -> Iterator[tuple[int, int, int, bool]]:
    first = 0
    while True:
        yield seed, first, chunk, straddle
        first += chunk


def long_run(instructions: int, seed: int, jobs: int, straddle: bool = False) -> int:
    kind = ", page-straddling programs" if straddle else ""
    print(f"diffrun: seed {seed}, {instructions} instructions, {jobs} job(s){kind}",
          flush=True)
    start = time.monotonic()
    compared = programs = 0
    last_report = start
    chunk = 20
    context = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
    with context.Pool(jobs) as pool:
        for done, count, divergence in pool.imap(_work, _jobs(seed, chunk, straddle)):
            compared += done
            programs += count
            if divergence is not None:
                print(divergence)
                print(f"compared {compared} instructions in {programs} programs: "
                      "1 divergence")
                pool.terminate()
                return 1
            now = time.monotonic()
            if now - last_report >= 10 or compared >= instructions:
                rate = compared / (now - start)
                print(f"  {compared:>11,} instructions, {programs:>7,} programs, "
                      f"{rate:,.0f} instr/s", flush=True)
                last_report = now
            if compared >= instructions:
                pool.terminate()
                break
    print(f"compared {compared} instructions in {programs} programs: 0 divergences")
    return 0


def trace_program(seed: int, index: int, straddle: bool = False) -> int:
    """Print one program's reference trace, then compare it."""
    runner = DiffRunner(seed, straddle)
    program = runner.generator.program(index)
    trace = reference_trace(runner.ref, program)
    for k, step in enumerate(trace.steps):
        note = f"  -> {_fault_text(step.fault)}" if step.fault else ""
        slot = " (delay slot)" if step.delay_slot else ""
        print(f"{k:5} {describe(step.pc, step.word)}{slot}{note}")
    outcome = compare(program, trace, runner.core)
    if outcome.divergence is None:
        problems = compare_loops(program, outcome, runner.core)
        if problems:
            outcome.divergence = loop_divergence(program, problems)
    if outcome.divergence is not None:
        print(outcome.divergence)
        return 1
    print(f"compared {outcome.compared} instructions in 1 program: 0 divergences")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.core.diffrun", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instructions", type=int, default=10_000_000,
                        help="compare at least this many instructions (default 10,000,000)")
    parser.add_argument("--seed", type=int, default=None,
                        help="program seed (default: a random one, printed)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--straddle", action="store_true",
                        help="longer programs placed across page boundaries")
    parser.add_argument("--program", type=int, default=None,
                        help="trace and compare only this program of --seed")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    if args.program is not None:
        return trace_program(seed, args.program, args.straddle)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: use 1 or more")
    return long_run(args.instructions, seed, args.jobs, args.straddle)


if __name__ == "__main__":
    sys.exit(main())
