"""Debian's unmodified kernel boots natively to the busybox shell and runs commands."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from disco_core.boot import BootResult
from disco_core.linux.boot import boot_linux
from disco_core.linux.fetch import LinuxFiles
from disco_core.linux.initramfs import PROMPT, build_initramfs
from disco_core.linux.qemu_ref import boot_qemu
from disco_core.linux.vmlinuz import load_kernel

ROOT = Path(__file__).resolve().parents[2]
TEXT = "disco linux test\nline two\n"
COMMANDS = [
    "uname -a",
    "printf 'disco linux test\\nline two\\n' > /tmp/f",
    "sha256sum /tmp/f | cut -d' ' -f1",
    "seq 1 100 | awk '{s += $1} END {print s}'",
    "awk 'BEGIN {printf \"%.4f\\n\", 3.5 * 1.25}'",
    "cat /proc/cpuinfo",
    "cut -d' ' -f1 /proc/uptime; sleep 1; cut -d' ' -f1 /proc/uptime",
    "dmesg | grep -ci -e warning -e 'call trace' -e bug:",
]


def answer(result: BootResult | str, command: str) -> str:
    """The console text between a command's echo and the next prompt."""
    text = result if isinstance(result, str) else result.output
    out = text.replace("\r", "").replace("\x1b[6n", "")
    start = out.index(PROMPT + command + "\n") + len(PROMPT + command + "\n")
    return out[start:out.index(PROMPT, start)]


@pytest.fixture(scope="module")
def booted(linux_files: LinuxFiles) -> BootResult:
    return boot_linux("test", COMMANDS, max_instructions=1_500_000_000)


def test_boots_to_the_shell_and_runs_every_command(booted: BootResult) -> None:
    assert booted.reason == "done", booted.output[-2000:]
    assert len(booted.command_cycles) == len(COMMANDS)
    assert "CPU0 revision is: 00019300 (MIPS 24Kc)" in booted.output
    assert "no aliases" in booted.output  # Config7 told Linux the D-cache is PIPT


def test_uname(booted: BootResult) -> None:
    assert re.match(r"Linux \S+ 6\.\d+\.\d+-\d+-mips32r2el #1 SMP Debian .* mips GNU/Linux",
                    answer(booted, COMMANDS[0]))


def test_a_pipeline_computes_what_the_host_computes(booted: BootResult) -> None:
    assert answer(booted, COMMANDS[2]).strip() == hashlib.sha256(TEXT.encode()).hexdigest()
    assert answer(booted, COMMANDS[3]).strip() == "5050"


def test_floating_point_through_the_kernels_fpu_emulation(booted: BootResult) -> None:
    assert answer(booted, COMMANDS[4]).strip() == "4.3750"


def test_cpuinfo_shows_the_linux_cpu_model(booted: BootResult) -> None:
    info = answer(booted, COMMANDS[5])
    assert "cpu model\t\t: MIPS 24Kc" in info
    assert "userlocal" in info  # Config3.ULRI: TLS reads are rdhwr $29, not traps
    assert "Disco Workbench (test, 1 node)" in info


def test_sleep_advances_the_uptime_by_one_second(booted: BootResult) -> None:
    before, after = (float(x) for x in answer(booted, COMMANDS[6]).split())
    assert 1.0 <= after - before < 1.3


def test_dmesg_has_no_warnings(booted: BootResult) -> None:
    assert answer(booted, COMMANDS[7]).strip() == "0"


def test_two_boots_are_identical(booted: BootResult, linux_files: LinuxFiles) -> None:
    again = boot_linux("test", COMMANDS, max_instructions=1_500_000_000)
    assert again.output == booted.output
    assert (again.cycles, again.instructions, again.command_cycles) == (
        booted.cycles, booted.instructions, booted.command_cycles)


def test_cli_boots_linux_and_types_the_commands(linux_files: LinuxFiles) -> None:
    done = subprocess.run([sys.executable, "-m", "disco_core.cli", "boot", "--guest", "linux",
                           "--native", "--run", "echo from-the-cli $((6 * 7))"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "from-the-cli 42" in done.stdout


def test_cli_fetch_names_the_cached_files(linux_files: LinuxFiles) -> None:
    done = subprocess.run([sys.executable, "-m", "disco_core.cli", "linux", "fetch"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert str(linux_files.kernel) in done.stdout and str(linux_files.busybox) in done.stdout


def test_cli_bad_kernel_is_one_line(tmp_path: Path, linux_files: LinuxFiles) -> None:
    bad = tmp_path / "vmlinuz"
    bad.write_bytes(b"\x7fELF garbage")
    done = subprocess.run([sys.executable, "-m", "disco_core.cli", "boot", "--guest", "linux",
                           "--kernel", str(bad), "--run", "true"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.startswith("disco: ") and len(done.stderr.strip().splitlines()) == 1


def test_boots_on_flash8_with_memory_from_every_node(linux_files: LinuxFiles) -> None:
    r = boot_linux("flash8", ["grep -c ^processor /proc/cpuinfo", "grep MemTotal /proc/meminfo"],
                   max_instructions=1_500_000_000)
    assert r.reason == "done", r.output[-2000:]
    assert "Disco Workbench (flash8, 8 nodes)" in r.output
    assert answer(r, "grep -c ^processor /proc/cpuinfo").strip() == "1"  # one CPU for now
    total_kib = int(answer(r, "grep MemTotal /proc/meminfo").split()[1])
    assert total_kib > 200 * 1024  # all 8 x 32 MiB, less the kernel's own


def test_qemu_boots_the_same_files_to_the_same_answers(booted: BootResult,
                                                        linux_files: LinuxFiles) -> None:
    """The outside oracle: QEMU's malta (disco_core/linux/qemu_ref.py) boots the same
    kernel image and initramfs through the same UHI hand-over, and the commands whose
    answers do not depend on the machine give the same text."""
    same = COMMANDS[:5]  # uname, a file, its sha256, integer and floating-point awk
    q = boot_qemu(load_kernel(linux_files.kernel), build_initramfs(linux_files.busybox), same)
    assert "CPU0 revision is: 00019300 (MIPS 24Kc)" in q.output
    for command in same:
        assert answer(q.output, command) == answer(booted, command), command
