"""The user programs under the guest kernel: the paper's four workloads print the
checksums recorded in checksums.py on 1 CPU (the test preset) and on 8
(flash8), and the shell and utilities behave as on the user-mode reference.

Skipped until disco_core.boot (the kernel developer's boot API) exists.
"""

from __future__ import annotations

import re

import pytest

from disco_core import boot as boot_api
from disco_core import fsimage
from tests.guest.checksums import LARGE, LARGER, SMALL, expected_line
from tests.guest.uemu import UserEmu

WORKLOADS = [*SMALL, *LARGER]


def outputs(text: str) -> dict[str, str]:
    """What each command typed at the prompt printed, by command."""
    out: dict[str, str] = {}
    for chunk in text.split("$ ")[1:]:
        command, _, printed = chunk.partition("\n")
        out[command.strip()] = printed
    return out


@pytest.fixture(scope="module", params=["test", "flash8"])
def workload_run(request):
    result = boot_api.boot(request.param, run=WORKLOADS)
    assert result.reason == "done", result.output[-2000:]
    return request.param, outputs(result.output)


@pytest.mark.parametrize("command", WORKLOADS)
def test_workload_checksum(workload_run, command):
    preset, printed = workload_run
    assert printed[command] == expected_line(command) + "\n", f"on {preset}"


@pytest.mark.slow
def test_large_workloads_on_flash8():
    commands = list(LARGE)
    result = boot_api.boot("flash8", run=commands)
    assert result.reason == "done", result.output[-2000:]
    lines = [line for line in result.output.splitlines() if ": checksum " in line]
    assert lines == [expected_line(c) for c in commands]


SIDE_BY_SIDE = ["pmake 4", "pmake 4", "raytrace 8", "raytrace 8", "database 1", "database 1",
                "engineering 1"]


@pytest.mark.parametrize("preset", ["test", "flash8"])
def test_workloads_side_by_side(preset):
    # Each instance keeps its files and shared segment apart, so every line
    # is as when run alone, and nothing is left behind.
    result = boot_api.boot(preset, run=[" & ".join(SIDE_BY_SIDE) + " & wait", "ls /obj; ls /db"])
    assert result.reason == "done", result.output[-2000:]
    lines = result.output.splitlines()
    checks = sorted(line for line in lines if ": checksum " in line)
    assert checks == sorted(expected_line(c) for c in SIDE_BY_SIDE)
    assert [line.split()[0] for line in lines if " dir " in line] == [".", ".."] * 2


@pytest.mark.slow
def test_eight_pmakes_on_flash8():
    # The paper's Figure 6 and 7 load in one kernel: more processes than the
    # kernel's table holds at times, which pmake waits out.
    result = boot_api.boot("flash8", run=" & ".join(["pmake 16"] * 8) + " & wait")
    assert result.reason == "done", result.output[-2000:]
    checks = [line for line in result.output.splitlines() if ": checksum " in line]
    assert checks == [expected_line("pmake 16")] * 8


SHELL = [
    "echo one > /f",
    "echo two >> /f",
    "cat /f | wc",
    "grep -c o < /f",
    "grep -v one /f",
    "nosuch",
    "mkdir /d; cd /d; echo x > y; ls; cd /",
    "cp /d/y /z; rm /d/y; cat /z; cat /d/y",
    "echo 'a  b' \"c|d\"",
    "ps",
    "echo bg & echo fg",
]


@pytest.fixture(scope="module", params=["test", "flash8"])
def shell_run(request):
    result = boot_api.boot(request.param, run=SHELL)
    assert result.reason == "done", result.output[-2000:]
    return outputs(result.output)


def test_shell_and_utilities_under_the_kernel(shell_run):
    out = shell_run
    assert out["echo one > /f"] == ""
    assert out["cat /f | wc"] == "2 2 8\n"
    assert out["grep -c o < /f"] == "2\n"
    assert out["grep -v one /f"] == "two\n"
    assert out["nosuch"] == "sh: nosuch: command not found\n"
    listing = out["mkdir /d; cd /d; echo x > y; ls; cd /"].splitlines()
    assert [line.split()[0] for line in listing] == [".", "..", "y"]
    assert out["cp /d/y /z; rm /d/y; cat /z; cat /d/y"] == (
        "x\ncat: /d/y: no such file or directory\n"
    )
    assert out["echo 'a  b' \"c|d\""] == "a  b c|d\n"
    # The background job's output may come before or after the foreground's
    # (or even after the next prompt, on 8 CPUs); its pid is printed first.
    assert re.match(r"\[\d+\]\n", out["echo bg & echo fg"])
    rows = [line.split() for line in out["ps"].splitlines()[1:]]
    assert {"init", "sh", "ps"} <= {r[-1] for r in rows}


# Commands whose output does not depend on pids or inode numbers: the kernel
# and the user-mode reference must print the same.
SESSION = [
    "cat /sh | wc",
    "cp /sh /sh2; cat /sh2 | wc; rm /sh2; cat /sh2",
    "grep -c s /src/s05.c /src/s06.c",
    "cat /src/s01.c /src/s02.c /src/s03.c | grep -v return | wc",
    "ls /src | wc",
    "wc /src/s10.c /README",
    "echo one > /a; echo two >> /a; echo three >> /a; cat /a; grep -v two < /a",
    "cd /src; grep -c int s00.c; cd /",
    "mkdir /m; mkdir /m/n; cd /m/n; echo deep > f; cat /m/n/f; cd ../..; cat m/n/f",
    "rm /m/n; rm /m/n/f; rm /m/n; rm /m; ls /m",
    "cat /README | cat | cat | cat | wc",
    "echo 'sh -c \"echo nested\"' | sh",
    "nosuch",
    "grep",
    "cp",
    "ls /nonexistent",
    "mkdir /README",
    "echo x > /abcdefghijklmn; cat /abcdefghijklmn",
    "cat < /nope",
    "exit 0",  # a new shell from init: the session goes on
    "echo after exit",
]


@pytest.mark.parametrize("preset", ["test", "flash8"])
def test_shell_session_matches_the_reference(preset, tmp_path):
    result = boot_api.boot(preset, run=SESSION)
    assert result.reason == "done", result.output[-2000:]
    image = fsimage.read_image(fsimage.build_root_image(tmp_path / "root.img"))
    # poweroff ends the reference run: init would restart the shell forever.
    stdin = "".join(c + "\n" for c in [*SESSION, "poweroff"]).encode()
    emu = UserEmu.from_image(image, nprocs=8, stdin=stdin, echo=True)
    reference = emu.run(["/init"]).text
    kernel = outputs(result.output)
    expected = outputs(reference)
    for command in SESSION:
        assert kernel[command] == expected[command], command
