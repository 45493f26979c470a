"""Co-simulation of the privileged architecture against QEMU's system emulator.

    python -m tests.core.qemu_cosim --instructions 100000 [--seed S]
    python -m tests.core.qemu_cosim --seed S --program I --trace   # one program, every step

Each program (tests/core/privgen.py) runs in `qemu-system-mipsel -M malta
-cpu 24Kc` (MIPS32 Release 2, no FPU, 16 TLB entry pairs), driven through its
GDB stub one instruction at a time, and in our core (one CPU, 16 TLB entries,
native ownership so exceptions vector). QEMU steps a branch and its delay slot
as one step, so our core is stepped until it reaches the pc QEMU reports, and
there the two are compared: the GPRs, HI, LO, pc, Status, Cause (without TI
and IP7, which the host-timed timer drives in QEMU) and BadVAddr; the CP0
registers the programs copy into GPRs are compared with them. At the end of a
program the pages it may have stored to are compared. The campaign ends with
the line `divergences: D` (docs/qemu-cosim.md).

One QEMU process serves a whole batch of programs; every program starts by
putting CP0 and the TLB into a known state. After a divergence both sides are
replaced, so one difference does not spread into the next programs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field

from disco_core.gdb.client import RawClient
from disco_core.machine import ExitReason, Machine, MachineConfig
from tests.core.diffrun import REG_NAMES, describe
from tests.core.privgen import (
    BEV_MIRROR,
    BEV_VECTORS,
    CAUSE_CE,
    CAUSE_TIMER,
    DATA_PHYS,
    EBASES,
    MFC0_CAUSE,
    MFC0_CONTEXT,
    PROGRAM,
    TLB_ENTRIES,
    USER_PHYS,
    PrivilegedGenerator,
    Program,
    fixed_code,
)
from tests.core.unicorn_ref import EXC_NAMES

EXC_NAME = {0: "Int", 1: "Mod", 2: "TLBL", 3: "TLBS", **EXC_NAMES}

QEMU = "qemu-system-mipsel"
QEMU_CPU = "24Kc"
RAM_BYTES = 64 << 20
PAGE = 0x1000
MAX_STEPS = 20_000   # QEMU steps per program; a generated program needs far fewer
CATCH_UP = 4         # our steps per QEMU step (a branch and its slot are one QEMU step)
CHUNK = 1024         # bytes per GDB memory packet (QEMU's PacketSize is 4096 hex digits)
PHYS = 0x1FFF_FFFF

# the `g` packet's order for MIPS: 32 GPRs, then sr, lo, hi, bad, cause, pc
R_SR, R_LO, R_HI, R_BAD, R_CAUSE, R_PC = 32, 33, 34, 35, 36, 37
FIELDS = ("status", "lo", "hi", "badvaddr", "cause", "pc")


class CosimError(RuntimeError):
    """QEMU is missing, would not start, or broke the protocol."""


@dataclass(frozen=True)
class State:
    """What is compared at a step point."""

    gpr: tuple[int, ...]
    status: int
    lo: int
    hi: int
    badvaddr: int
    cause: int
    pc: int

    def masked(self, word: int) -> State:
        """This state with the register `word` (an mfc0) wrote masked as MASK_RESULT says."""
        rt = (word >> 16) & 31
        gpr = list(self.gpr)
        gpr[rt] &= MASK_RESULT[word & 0xFFE0_FFFF] & 0xFFFF_FFFF
        return State(tuple(gpr), self.status, self.lo, self.hi, self.badvaddr, self.cause,
                     self.pc)

    def differences(self, theirs: State) -> list[str]:
        out = [f"${REG_NAMES[n]}: ours {a:#010x}, qemu {b:#010x}"
               for n, (a, b) in enumerate(zip(self.gpr, theirs.gpr, strict=True)) if a != b]
        for name in FIELDS:
            a, b = getattr(self, name), getattr(theirs, name)
            if a != b:
                out.append(f"{name}: ours {a:#010x}, qemu {b:#010x}")
        return out


MASK_RESULT = {MFC0_CAUSE: ~(CAUSE_TIMER | CAUSE_CE), MFC0_CONTEXT: 0xFF80_0000}


def _is_branch(word: int) -> bool:
    op = word >> 26
    if op == 0:
        return word & 0x3E == 0x08  # JR, JALR
    if op == 1:
        return (word >> 16) & 0x1F in (0, 1, 2, 3, 16, 17, 18, 19)
    return op in (2, 3, 4, 5, 6, 7, 20, 21, 22, 23)


def _qemu_between(prog: Program, pc: int, theirs: State) -> bool:
    """Whether QEMU stopped where our core never stands still: at a delay slot it has
    not yet executed (after an untaken branch, or a likely one it will skip), or with
    an enabled software interrupt it will take on its next step, not this one."""
    if theirs.pc == pc + 4:
        word = _word_at(prog, pc)
        if word is not None and _is_branch(word):
            return True
    st = theirs.status
    return bool(theirs.cause & st & 0x300) and st & 0x7 == 1


def _cause(value: int) -> int:
    """Cause as compared: no timer/board interrupt bits; CE only after Coprocessor Unusable
    (it is UNPREDICTABLE after every other exception, PRA §9.1 Cause)."""
    value &= ~CAUSE_TIMER
    return value if (value >> 2) & 0x1F == 11 else value & ~CAUSE_CE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class QemuSide:
    """qemu-system-mipsel held at reset, driven through its GDB stub."""

    def __init__(self, cpu_model: str = QEMU_CPU) -> None:
        exe = shutil.which(QEMU)
        if exe is None:
            raise CosimError(f"{QEMU} not found: install the Debian package qemu-system-mips")
        self._dir = tempfile.TemporaryDirectory(prefix="disco-qemu-")
        bios = os.path.join(self._dir.name, "bios.bin")
        with open(bios, "wb") as f:  # never executed: programs start in RAM
            f.write(bytes(PAGE))
        port = _free_port()
        self.proc = subprocess.Popen(
            [exe, "-M", "malta", "-cpu", cpu_model, "-m", f"{RAM_BYTES >> 20}M",
             "-bios", bios, "-S", "-gdb", f"tcp:127.0.0.1:{port}", "-nographic",
             "-nodefaults", "-monitor", "none", "-serial", "none", "-parallel", "none",
             "-nic", "none"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.gdb = RawClient(port, timeout=10)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    self.close()
                    raise CosimError(f"{QEMU} did not start: {err.strip()}") from None
                time.sleep(0.05)
        self.gdb.start_noack()
        # single-step with interrupts and timers enabled (QEMU's default masks them)
        self._ok(self.gdb.ask(b"Qqemu.sstep=0x1"), "Qqemu.sstep")
        self._last_g = b""

    def close(self) -> None:
        if hasattr(self, "gdb"):
            self.gdb.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self._dir.cleanup()

    @staticmethod
    def _ok(reply: bytes, what: str) -> None:
        if reply != b"OK":
            raise CosimError(f"QEMU answered {what} with {reply!r}")

    def write(self, va: int, data: bytes) -> None:
        for off in range(0, len(data), CHUNK):
            part = data[off:off + CHUNK]
            self._ok(self.gdb.ask(b"M%x,%x:%s" % (va + off, len(part), part.hex().encode())),
                     "a memory write")

    def read(self, va: int, n: int) -> bytes:
        out = bytearray()
        for off in range(0, n, CHUNK):
            reply = self.gdb.ask(b"m%x,%x" % (va + off, min(CHUNK, n - off)))
            if reply.startswith(b"E"):
                raise CosimError(f"QEMU could not read {va + off:#x}: {reply!r}")
            out += bytes.fromhex(reply.decode())
        return bytes(out)

    def state(self) -> State:
        g = self.gdb.ask(b"g")
        self._last_g = g
        v = struct.unpack("<38I", bytes.fromhex(g[:38 * 8].decode()))
        return State(v[:32], v[R_SR], v[R_LO], v[R_HI], v[R_BAD], _cause(v[R_CAUSE]), v[R_PC])

    def set_pc(self, pc: int) -> None:
        """Only where no branch is pending: QEMU keeps a pending branch across a pc write."""
        g = self._last_g or self.gdb.ask(b"g")
        g = g[:R_PC * 8] + struct.pack("<I", pc).hex().encode() + g[(R_PC + 1) * 8:]
        self._ok(self.gdb.ask(b"G" + g), "a register write")

    def step(self) -> None:
        reply = self.gdb.ask(b"vCont;s:1")
        if not reply.startswith(b"T"):
            raise CosimError(f"QEMU answered a step with {reply!r}")


class CoreSide:
    """Our core: one CPU that takes its exceptions itself, as QEMU's does."""

    def __init__(self) -> None:
        self.machine = Machine(MachineConfig(cpus=1, ram_bytes=RAM_BYTES,
                                             tlb_entries=TLB_ENTRIES))
        self.cpu = self.machine.cpus[0]

    def close(self) -> None:
        self.machine.close()

    def write(self, va: int, data: bytes) -> None:
        self.machine.write_phys(va & PHYS, data)

    def read(self, va: int, n: int) -> bytes:
        return self.machine.read_phys(va & PHYS, n)

    def state(self) -> State:
        c = self.cpu
        return State(tuple(c.regs().tolist()), c.cp0(12), c.lo, c.hi, c.cp0(8),
                     _cause(c.cp0(13)), c.pc)

    def set_pc(self, pc: int) -> None:
        self.cpu.pc = pc

    def step_to(self, pc: int) -> int:
        """Step until the CPU is at `pc`; the steps taken (0: never). QEMU steps a taken
        branch and its delay slot as one step, an untaken one or a jump alone."""
        for n in range(1, CATCH_UP + 1):
            ex = self.machine.step(0)
            if ex.reason not in (ExitReason.BUDGET, ExitReason.STEP):
                raise CosimError(f"our core stopped stepping: {ex}")
            if self.cpu.pc == pc:
                return n
        return 0


@dataclass
class Divergence:
    program: Program
    step: int
    pc: int
    word: int | None
    problems: list[str]
    history: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        p = self.program
        lines = [f"core diverges from QEMU: seed {p.seed}, program {p.index}, step {self.step}",
                 f"  after {describe(self.pc, self.word)}",
                 *(f"  {x}" for x in self.problems),
                 "  previous step points: " + " ".join(f"{x:#010x}" for x in self.history),
                 f"  reproduce: python -m tests.core.qemu_cosim --seed {p.seed} "
                 f"--program {p.index} --trace"]
        return "\n".join(lines)


_FIXED = fixed_code()


def _word_at(prog: Program, pc: int) -> int | None:
    """The instruction word at `pc` as the program and the fixed code place it."""
    for base, blob in ((PROGRAM, prog.code), (0x7F00_0000, prog.user_code), *_FIXED.items()):
        if base <= pc < base + len(blob):
            return int.from_bytes(blob[pc - base:pc - base + 4], "little")
    return None


class Cosim:
    """A QEMU process and a machine of ours, reused across programs."""

    def __init__(self, cpu_model: str = QEMU_CPU) -> None:
        self.cpu_model = cpu_model
        self.qemu: QemuSide | None = None
        self.core: CoreSide | None = None
        self.steps = 0
        self.instructions = 0
        self.seen: Counter[str] = Counter()  # what the compared steps covered

    def close(self) -> None:
        if self.qemu is not None:
            self.qemu.close()
            self.qemu = None
        if self.core is not None:
            self.core.close()
            self.core = None

    def _sides(self) -> tuple[QemuSide, CoreSide]:
        if self.qemu is None or self.core is None:
            self.close()
            self.qemu, self.core = QemuSide(self.cpu_model), CoreSide()
            for va, blob in fixed_code().items():
                self.qemu.write(va, blob)
                self.core.write(va, blob)
        return self.qemu, self.core

    def _count(self, st: State) -> None:
        mode = "kernel" if st.status & 0x6 or not st.status & 0x18 else (
            "user" if st.status & 0x10 else "supervisor")
        self.seen[f"steps in {mode} mode"] += 1
        for base in (*EBASES, BEV_VECTORS):
            off = st.pc - base
            if off in (0x000, 0x180, 0x200):
                code = (st.cause >> 2) & 0x1F
                where = {0x000: "refill vector", 0x180: "general vector",
                         0x200: "interrupt vector"}[off]
                self.seen[f"{EXC_NAME.get(code, str(code))} at the {where}"
                          f"{' (BEV)' if base == BEV_VECTORS else ''}"] += 1
                if st.cause & 0x8000_0000:
                    self.seen["exceptions in a delay slot"] += 1

    def run(self, prog: Program, trace: bool = False) -> Divergence | None:
        qemu, core = self._sides()
        zero = bytes(PAGE)
        for side in (qemu, core):
            side.write(PROGRAM, prog.code)
            side.write(0x8000_0000 | USER_PHYS, prog.user_code)
            for pa in prog.touched:
                side.write(0x8000_0000 | pa, zero)
            side.set_pc(PROGRAM)
        before = core.cpu.instructions
        history: list[int] = []
        pc = PROGRAM
        div: Divergence | None = None
        for k in range(MAX_STEPS):
            for _ in range(4):  # a step QEMU's timer cut short executes nothing: again
                qemu.step()
                theirs = qemu.state()
                if theirs.pc != pc:
                    break
            self.steps += 1
            for _ in range(2):
                if not _qemu_between(prog, pc, theirs):
                    break
                qemu.step()
                theirs = qemu.state()
                self.steps += 1
            word = _word_at(prog, pc)
            if word is not None and (word & 0xFFE0_FFFF) in MASK_RESULT:
                # a raw mfc0 of Cause/Context: the next instruction masks it (privgen.copy)
                theirs = theirs.masked(word)
            reached = core.step_to(theirs.pc)
            for _ in range(CATCH_UP if not reached else 0):
                # our core stood still nowhere QEMU did (it took an interrupt and ran the
                # vector's first instruction in one step): let QEMU catch up with it
                qemu.step()
                theirs = qemu.state()
                self.steps += 1
                if theirs.pc == core.cpu.pc:
                    reached = 1
                    break
            ours = core.state()
            if word is not None and (word & 0xFFE0_FFFF) in MASK_RESULT:
                ours = ours.masked(word)
            if trace:
                print(f"{k:5d} {describe(pc, _word_at(prog, pc))} -> {theirs.pc:#010x}")
            if not reached:
                div = Divergence(prog, k, pc, _word_at(prog, pc),
                                 [f"pc: ours {ours.pc:#010x}, qemu {theirs.pc:#010x} "
                                  f"(after {CATCH_UP} steps of ours)",
                                  *[d for d in ours.differences(theirs) if not d.startswith("pc")]],
                                 history[-8:])
                break
            problems = ours.differences(theirs)
            if problems:
                div = Divergence(prog, k, pc, _word_at(prog, pc), problems, history[-8:])
                break
            history.append(theirs.pc)
            pc = theirs.pc
            self._count(theirs)
            if BEV_VECTORS <= pc < BEV_VECTORS + 0x400:
                # the BEV vectors are in the boot ROM, which our machine lacks: both sides
                # go on at the same handler in RAM (the vector itself has been compared)
                pc = BEV_MIRROR + (pc - BEV_VECTORS)
                qemu.set_pc(pc)
                core.set_pc(pc)
            if pc == prog.end_va:
                break
        else:
            div = Divergence(prog, MAX_STEPS, pc, None, ["the program did not reach its end"])
        self.instructions += core.cpu.instructions - before
        if div is None:
            for pa in (DATA_PHYS, *prog.touched):
                a, b = core.read(0x8000_0000 | pa, PAGE), qemu.read(0x8000_0000 | pa, PAGE)
                if a != b:
                    at = next(i for i in range(PAGE) if a[i] != b[i])
                    div = Divergence(prog, -1, prog.end_va, None,
                                     [f"memory at pa {pa + at:#x}: ours {a[at]:#04x}, "
                                      f"qemu {b[at]:#04x}"], history[-8:])
                    break
        if div is not None:
            self.close()  # fresh sides for the next program
        return div


@dataclass
class Campaign:
    programs: int = 0
    steps: int = 0
    instructions: int = 0
    divergences: list[Divergence] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)


def campaign(instructions: int, seed: int, cpu_model: str = QEMU_CPU, first: int = 0,
             verbose: bool = False) -> Campaign:
    """Programs from `seed` until at least `instructions` of ours were compared."""
    gen = PrivilegedGenerator(seed)
    sim = Cosim(cpu_model)
    out = Campaign()
    try:
        index = first
        while sim.instructions < instructions:
            div = sim.run(gen.program(index))
            out.programs += 1
            if div is not None:
                out.divergences.append(div)
                if verbose:
                    print(div, flush=True)
            index += 1
    finally:
        sim.close()
    out.steps, out.instructions, out.seen = sim.steps, sim.instructions, sim.seen
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.core.qemu_cosim",
                                 description="compare our core's privileged architecture "
                                             "with QEMU's on generated programs")
    ap.add_argument("--instructions", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--program", type=int, help="run this one program only")
    ap.add_argument("--trace", action="store_true", help="print every step point")
    ap.add_argument("--cpu", default=QEMU_CPU, help=f"QEMU's CPU model (default {QEMU_CPU})")
    args = ap.parse_args(argv)
    if args.instructions <= 0:
        ap.error("--instructions must be positive")
    try:
        if args.program is not None:
            sim = Cosim(args.cpu)
            try:
                prog = PrivilegedGenerator(args.seed)
                div = sim.run(prog.program(args.program), trace=args.trace)
            finally:
                sim.close()
            print(div if div else f"program {args.program}: no divergence "
                  f"({sim.instructions} instructions)")
            print(f"divergences: {int(div is not None)}")
            return 0
        t0 = time.monotonic()
        result = campaign(args.instructions, args.seed, args.cpu, verbose=True)
    except CosimError as exc:
        print(f"qemu_cosim: {exc}", file=sys.stderr)
        return 2
    took = time.monotonic() - t0
    for what, n in sorted(result.seen.items()):
        print(f"  {n:8d}  {what}")
    print(f"programs: {result.programs}  QEMU steps: {result.steps}  instructions "
          f"co-simulated: {result.instructions}  ({result.instructions / took:.0f}/s)")
    print(f"divergences: {len(result.divergences)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
