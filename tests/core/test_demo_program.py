"""Whole C programs on the test machine: the demo on 1 and 4 CPUs, the benchmark
kernels (at a small SCALE) against unicorn running the same ELF."""

from __future__ import annotations

import re

import pytest

from disco_core.guest import build_baremetal
from disco_core.machine import ExitReason
from disco_core.testmachine import TestMachine
from disco_core.unicorn_testmachine import run_elf

DEMO_OUTPUT = """\
Disco Workbench demo
crc32("123456789") = cbf43926
crc32(16384 random bytes) = 32d90f4b
quicksort of 10000 ints: min -999968, median 14841, max 999551
ackermann(2, 3) = 9, ackermann(3, 4) = 125
fib(24) = 46368
towers of hanoi, 12 disks: 4095 moves
n       |       n*n|         n*n*n|       hex|   pad
--------+----------+--------------+----------+------
1       |         1|             1|0x00000001|000001
7       |        49|           343|0x00000007|000007
-42     |      1764|        -74088|0xFFFFFFD6|-00042
255     |     65025|      16581375|0x000000FF|000255
1000    |   1000000|    1000000000|0x000003E8|001000
40000   |1600000000|64000000000000|0x00009C40|040000
char 'x', string [disco] [left  ] [ right], 100%
parallel sum of 100000 elements = 49950000
demo: all checks passed
"""

KERNELS = ["intkernel", "memstream", "callheavy"]


def run(elf, cpus: int = 1, budget: int = 200_000_000):
    tm = TestMachine(cpus=cpus)
    tm.load_elf(elf)
    return tm.run_program(budget)


@pytest.mark.parametrize("cpus", [1, 4])
def test_demo_output_is_the_same_on_any_number_of_cpus(cpus):
    result = run(build_baremetal("demo"), cpus)
    assert result.reason == ExitReason.HALT
    assert result.output.decode() == DEMO_OUTPUT
    assert result.exit_code == 0


def test_demo_matches_unicorn():
    ref = run_elf(build_baremetal("demo"))
    assert (ref.reason, ref.exit_code) == ("halt", 0)
    assert ref.output.decode() == DEMO_OUTPUT


@pytest.mark.parametrize("kernel", KERNELS)
def test_bench_kernel_checksum_matches_unicorn(kernel):
    elf = build_baremetal(f"bench/{kernel}", defines={"SCALE": 1})
    ours = run(elf)
    ref = run_elf(elf)
    assert (ref.reason, ref.exit_code) == ("halt", 0), ref
    assert re.fullmatch(rf"{kernel} checksum: [0-9a-f]{{8}}\n", ref.output.decode())
    assert ours.reason == ExitReason.HALT and ours.exit_code == 0
    assert ours.output == ref.output
