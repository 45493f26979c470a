"""The native guest kernel booted on preset machines (disco_core.boot).

Uses the userland (resources/guest/user, disco_core.fsimage) for the shell. A
small test program (kernel_progs/ktest.c, built with the userland's library)
checks copy-on-write, stack growth, shared memory, pipes, kill and errno from
user space.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from disco_core import fsimage
from disco_core.boot import boot
from disco_core.guest import build_program
from disco_core.kernel import EXIT_KERNEL_TRAP, EXIT_PANIC, build_kernel
from tests.guest.checksums import expected_line

HERE = Path(__file__).resolve().parent
BUDGET = 400_000_000


def ktest_elf() -> bytes:
    user = fsimage.user_dir()
    sources = [HERE / "kernel_progs" / "ktest.c", *(user / lib for lib in fsimage.LIBRARY)]
    elf = build_program(sources, include_dirs=[user], linker_script=user / "user.ld",
                        extra_flags=fsimage.LINK_FLAGS)
    return fsimage.loadable_elf(elf.read_bytes(), "ktest")


@pytest.fixture(scope="module")
def root_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_kernel()
    path = tmp_path_factory.mktemp("root") / "root.img"
    return fsimage.build_root_image(path, extra_files={"ktest": ktest_elf()})


def run(preset: str, image: Path, cmds: str | list[str], **kw: object):  # type: ignore[no-untyped-def]
    r = boot(preset, run=cmds, disk_image=image, persistent=False,
             max_instructions=BUDGET, **kw)  # type: ignore[arg-type]
    assert r.reason == "done", r.output
    return r


def test_boot_to_prompt_on_one_cpu(root_image: Path) -> None:
    r = run("test", root_image, [])
    assert "disco-unix: 1 cpus" in r.output
    assert r.output.endswith("$ ")
    assert r.prompt_cycles is not None


def test_boot_to_prompt_on_flash8(root_image: Path) -> None:
    r = run("flash8", root_image, ["ktest ncpu"])
    assert "disco-unix: 8 cpus on 8 nodes, 256 MiB" in r.output
    assert "ncpu 8" in r.output
    # Every CPU runs the kernel (at least its idle loop and timer).
    assert all(c["instructions"] > 0 for c in r.cpus)


def test_simple_commands(root_image: Path) -> None:
    r = run("test", root_image, "echo hello world; cat README | wc; ls /src | grep s01; ps")
    assert "hello world\n" in r.output
    assert "s01.c" in r.output
    assert "PID  PPID" in r.output
    assert len(r.command_cycles) == 4


@pytest.mark.parametrize("preset", ["test", "flash8"])
def test_kernel_checks_from_user_space(root_image: Path, preset: str) -> None:
    r = run(preset, root_image, ["ktest all"])
    for name in ("cow", "stack", "shm", "pipe", "kill", "errno", "fsops"):
        assert f"ok {name}" in r.output, r.output
    assert "FAIL" not in r.output


def test_shared_memory_segments_are_reclaimed(root_image: Path) -> None:
    r = run("test", root_image, ["ktest shmmany"])
    assert "ok shmmany" in r.output, r.output


def test_null_dereference_kills_only_that_process(root_image: Path) -> None:
    r = run("test", root_image, ["ktest null", "echo still here"])
    lines = [ln for ln in r.output.splitlines() if "killed:" in ln]
    assert len(lines) == 1, r.output
    assert lines[0].startswith("pid ") and "(ktest): killed: page fault (load) at pc 0x" in lines[0]
    assert lines[0].endswith("va 0x00000000")
    assert "still here\n" in r.output


def test_out_of_memory_kills_the_process_and_frees_its_memory(root_image: Path) -> None:
    r = run("test", root_image, ["ktest oom", "ktest oom", "ktest cow"])
    assert r.output.count("(ktest): killed: out of memory at pc 0x") == 2, r.output
    assert "ok cow" in r.output


def test_files_survive_a_reboot(root_image: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    shutil.copy(root_image, disk)
    r1 = boot("test", run="mkdir /d; echo persisted words > /d/f", disk_image=disk,
              max_instructions=BUDGET)
    assert r1.reason == "done"
    r2 = boot("test", run="cat /d/f", disk_image=disk, max_instructions=BUDGET)
    assert "persisted words\n" in r2.output
    assert fsimage.FsImage(disk.read_bytes()) is not None


def test_same_boot_same_cycles(root_image: Path) -> None:
    a = run("flash8", root_image, ["echo one", "ls | wc"])
    b = run("flash8", root_image, ["echo one", "ls | wc"])
    assert a.output == b.output
    assert a.cycles == b.cycles
    assert a.command_cycles == b.command_cycles
    assert a.cpus == b.cpus


def test_panic_report_and_exit_code(root_image: Path, tmp_path: Path) -> None:
    disk = tmp_path / "bad.img"
    data = bytearray(root_image.read_bytes())
    data[1024:1028] = b"XXXX"   # the superblock's magic
    disk.write_bytes(bytes(data))
    r = boot("test", run=["ls"], disk_image=disk, persistent=False, max_instructions=BUDGET)
    assert r.reason == "halt"
    assert r.exit_code == EXIT_PANIC
    assert "panic: fsinit: bad superblock" in r.output
    assert r.panicked
    assert any("fsinit" in line or "forkret" in line for line in r.backtrace), r.backtrace


def test_cli_boot_json(root_image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from disco_core.cli import main

    assert main(["boot", "--machine", "test", "--native", "--disk", str(root_image), "--scratch",
                 "--run", "echo from cli", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reason"] == "done"
    assert "from cli\n" in out["output"]
    assert out["cpus"][0]["instructions"] > 0


def test_smp_stress_background_jobs(root_image: Path) -> None:
    # Background jobs and a parallel make at once on eight CPUs; the shell and
    # init carry on afterwards. `wait` for the background jobs: which ends first,
    # pmake or the last ktest, is a matter of cycles (it moves with the kernel's code).
    r = run("flash8", root_image,
            ["ktest all & ktest all & raytrace 16 & ktest all & pmake 8", "wait", "ps"])
    for name in ("cow", "stack", "shm", "pipe", "kill", "errno", "fsops"):
        assert r.output.count(f"ok {name}") == 3, r.output
    assert "FAIL" not in r.output
    assert expected_line("raytrace 16") in r.output and expected_line("pmake 8") in r.output
    assert "init" in r.output.split("$ ps")[-1]


def test_poweroff_exit_code(root_image: Path) -> None:
    r = boot("test", run=["poweroff 7"], disk_image=root_image, persistent=False,
             max_instructions=BUDGET)
    assert r.reason == "halt"
    assert r.exit_code == 7
    assert not r.panicked


@pytest.mark.parametrize("what", ["kpanic", "kfault"])
def test_debug_kernel_panics_on_request(root_image: Path, what: str) -> None:
    kernel = build_kernel(defines={"KERNEL_DEBUG": None})
    r = boot("test", run=[f"ktest {what}"], disk_image=root_image, persistent=False,
             max_instructions=BUDGET, kernel=kernel)
    assert r.reason == "halt", r.output
    if what == "kpanic":
        assert r.exit_code == EXIT_PANIC
        assert "panic: sys_debug: deliberate panic" in r.output
        names = [line.split()[1] for line in r.backtrace]
        assert names[0].startswith("sys_debug") and any(n.startswith("syscall") for n in names)
    else:
        assert r.exit_code == EXIT_KERNEL_TRAP
        assert "panic: address error (load)" in r.output
        assert "badvaddr 0x00000001" in r.output
        assert r.backtrace[0].split()[1].startswith("sys_debug")
    assert any(line.split()[1].startswith("trap+") for line in r.backtrace), r.backtrace


def test_production_kernel_has_no_debug_call(root_image: Path) -> None:
    r = run("test", root_image, ["ktest kpanic"])
    assert "unknown sys call 99" in r.output
    assert "sys_debug returned -22" in r.output


def test_long_names_are_refused_not_truncated(root_image: Path) -> None:
    r = run("test", root_image, ["echo x > /abcdefghijklmnop", "mkdir /abcdefghijklmnopq",
                                 "ls /"])
    listing = r.output.split("$ ls /")[-1]
    assert "abcdefghijklmn" not in listing, r.output
    assert "sh: /abcdefghijklmnop: name too long" in r.output
    assert "mkdir: /abcdefghijklmnopq: name too long" in r.output


def test_commands_after_a_background_job(root_image: Path) -> None:
    # the job's output may arrive after the next prompt: the next command is still typed
    r = run("test", root_image, ["raytrace 8 &", "echo hi", "wait"])
    assert "hi\n" in r.output
    assert expected_line("raytrace 8") in r.output
