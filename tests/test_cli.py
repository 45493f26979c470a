"""The `disco` command line: run-elf on good and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from disco_core.guest import build_baremetal

ROOT = Path(__file__).resolve().parents[1]

PROGRAM = r"""
#include "libbare.h"

static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int cpu)
{
    printf("hello from cpu %u of %u: fib(15) = %d\n", cpu, ncpus(), fib(15));
    if (getchar() == -1 && ncpus() == 1)
        return 3;
    for (;;)
        ;   // spins when there is more than one CPU: --max-instructions stops it
}
"""


def disco(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "disco_core.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("prog") / "hello.c"
    src.write_text(PROGRAM)
    return build_baremetal(src)


def test_run_elf_prints_console_and_returns_guest_exit_code(program: Path) -> None:
    r = disco("run-elf", str(program))
    assert r.stdout == "hello from cpu 0 of 1: fib(15) = 610\n"
    assert r.returncode == 3


def test_run_elf_stats(program: Path) -> None:
    r = disco("run-elf", str(program), "--stats")
    assert r.returncode == 3
    assert "statistics" in r.stderr and "instructions" in r.stderr


def test_run_elf_budget_runs_out(program: Path) -> None:
    r = disco("run-elf", str(program), "--cpus", "2", "--max-instructions", "200000")
    assert r.returncode == 124
    assert "stopped after 200000 instructions" in r.stderr


@pytest.mark.parametrize(
    ("content", "words"),
    [(os.urandom(300), "not an ELF"), (b"", "not an ELF"),
     (b"\x7fELF\x01\x01\x01" + bytes(9), "")],
)
def test_run_elf_refuses_malformed_files(tmp_path: Path, content: bytes, words: str) -> None:
    bad = tmp_path / "bad.elf"
    bad.write_bytes(content)
    r = disco("run-elf", str(bad))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("disco: ")
    assert words in r.stderr
    assert "Traceback" not in r.stderr


def test_run_elf_refuses_a_host_executable() -> None:
    r = disco("run-elf", os.path.realpath(sys.executable))
    assert r.returncode == 2
    assert "MIPS" in r.stderr and r.stderr.count("\n") == 1


def test_run_elf_missing_file(tmp_path: Path) -> None:
    r = disco("run-elf", str(tmp_path / "nope.elf"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_run_elf_bad_cpu_count(program: Path) -> None:
    r = disco("run-elf", str(program), "--cpus", "65")
    assert r.returncode == 2
    assert "cpus = 65" in r.stderr
