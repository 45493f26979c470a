"""The Linux CPU model: Config registers from the simulated caches, UserLocal
through rdhwr $29; the classic model is unchanged."""

from __future__ import annotations

from dataclasses import replace

import pytest

from disco_core.errors import ConfigError
from disco_core.machine import CPU_CLASSIC, CPU_LINUX, Machine, MachineConfig
from disco_core.mips import ExcCode

CODE = 0x1000
RDHWR_V1_29 = (0x1F << 26) | (3 << 16) | (29 << 11) | 0x3B   # rdhwr $3, $29
MTC0_HWRENA = (0x10 << 26) | (4 << 21) | (8 << 16) | (7 << 11)  # mtc0 $8, HWREna


def machine(model: int, **kw: object) -> Machine:
    return Machine(MachineConfig(ram_bytes=1 << 20, cpu_model=model, **kw))  # type: ignore[arg-type]


def config_regs(m: Machine) -> list[int]:
    return [m.cpus[0].cp0(16, sel) for sel in (0, 1, 2, 3, 7)]


def test_classic_config_registers_are_as_before() -> None:
    with machine(CPU_CLASSIC) as m:
        c0, c1, c2, c3, c7 = config_regs(m)
        assert c1 == 0xFEA97088  # the R10000-flavoured caches, as every machine had
        assert (c2, c3, c7) == (1 << 31, 0, 0)


def test_linux_config_describes_the_simulated_caches() -> None:
    with machine(CPU_LINUX, l1_bytes=32 << 10, l1_ways=2, l2_bytes=1 << 20, l2_ways=2,
                 line_bytes=128) as m:
        _, c1, c2, c3, c7 = config_regs(m)
        for shift in (16, 7):  # I then D: sets 64 << S, line 2 << L, ways A + 1
            s, line, a = (c1 >> (shift + 6)) & 7, (c1 >> (shift + 3)) & 7, (c1 >> shift) & 7
            assert (64 << s, 2 << line, a + 1) == (128, 128, 2)
        assert (c1 >> 25) & 63 == 63  # 64 TLB pairs
        assert c2 >> 31 == 1
        assert (64 << ((c2 >> 8) & 15), 2 << ((c2 >> 4) & 15), (c2 & 15) + 1) == (4096, 128, 2)
        assert c3 & (1 << 13)  # ULRI
        assert c7 & (1 << 16) and c7 & (1 << 10)  # AR, IAR: no aliases


def run_rdhwr(m: Machine) -> tuple[int, int]:
    """rdhwr $3, $29 with UserLocal = 0x1234abcd; (v1, ExcCode of the trap or -1)."""
    cpu = m.cpus[0]
    words = [MTC0_HWRENA, RDHWR_V1_29, 0]
    m.write_phys(CODE, b"".join(w.to_bytes(4, "little") for w in words))
    cpu.set_cp0(12, 0)
    cpu.set_cp0(4, 0x1234ABCD, sel=2)  # UserLocal
    cpu.set_cp0(15, 0x80000000, sel=1)
    cpu.gpr[8] = 1 << 29
    cpu.pc = 0x80000000 | CODE
    m.step()
    m.step()
    cause = cpu.cp0(13)
    trapped = (cause >> 2) & 31 if cpu.pc == 0x80000180 else -1  # the general vector
    return cpu.gpr[3], trapped


def test_rdhwr_29_reads_userlocal_on_the_linux_model() -> None:
    with machine(CPU_LINUX) as m:
        v1, trapped = run_rdhwr(m)
        assert trapped == -1 and v1 == 0x1234ABCD
        assert m.cpus[0].cp0(7) == 1 << 29  # HWREna keeps ULR


def test_rdhwr_29_is_reserved_on_the_classic_model() -> None:
    with machine(CPU_CLASSIC) as m:
        _, trapped = run_rdhwr(m)
        assert trapped == ExcCode.RI
        assert m.cpus[0].cp0(7) == 0  # HWREna has no ULR bit


def test_unknown_cpu_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cpu_model"):
        Machine(replace(MachineConfig(), cpu_model=7))
