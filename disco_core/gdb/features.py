"""The target description GDB reads with qXfer:features:read: 32-bit MIPS, cpu/cp0/fpu.

GDB's MIPS support wants all three features even when the machine has no FPU
(ours has none: the registers read as zero). Register numbers match target.py.
"""

from __future__ import annotations

from disco_core.gdb.target import (
    EXTRA_CP0,
    REG_BADVADDR,
    REG_CAUSE,
    REG_EXTRA,
    REG_F0,
    REG_FCSR,
    REG_FIR,
    REG_HI,
    REG_LO,
    REG_PC,
    REG_STATUS,
)

ARCHITECTURE = "mips:isa32r2"
# No operating system ABI: a gdb-multiarch built for a Linux host otherwise takes
# a bare ELF for GNU/Linux, whose MIPS support steps in software (a breakpoint on
# the next instruction, about ten packets per stepi) instead of with vCont;s.
OSABI = "none"


def _reg(name: str, regnum: int, kind: str = "int", group: str = "") -> str:
    extra = f' group="{group}"' if group else ""
    return f'    <reg name="{name}" bitsize="32" type="{kind}" regnum="{regnum}"{extra}/>\n'


def _feature(name: str, regs: str) -> str:
    return f'  <feature name="org.gnu.gdb.mips.{name}">\n{regs}  </feature>\n'


def target_xml() -> str:
    cpu = "".join(_reg(f"r{i}", i) for i in range(32))
    cpu += _reg("lo", REG_LO) + _reg("hi", REG_HI) + _reg("pc", REG_PC, "code_ptr")
    cp0 = _reg("status", REG_STATUS) + _reg("badvaddr", REG_BADVADDR) + _reg("cause", REG_CAUSE)
    cp0 += "".join(_reg(name, REG_EXTRA + i, group="system")
                   for i, (name, _, _) in enumerate(EXTRA_CP0))
    fpu = "".join(_reg(f"f{i}", REG_F0 + i, "ieee_single") for i in range(32))
    fpu += _reg("fcsr", REG_FCSR, group="float") + _reg("fir", REG_FIR, group="float")
    return (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE target SYSTEM "gdb-target.dtd">\n'
        "<target>\n"
        f"  <architecture>{ARCHITECTURE}</architecture>\n"
        f"  <osabi>{OSABI}</osabi>\n"
        + _feature("cpu", cpu) + _feature("cp0", cp0) + _feature("fpu", fpu)
        + "</target>\n"
    )


DOCUMENTS: dict[str, bytes] = {"target.xml": target_xml().encode()}
