"""The guest's user programs: they build and link per docs/guest-abi.md, and they
behave, run on a user-mode reference Unix (tests/guest/uemu.py) over a root
image. Runs under the guest kernel itself are in test_workloads.py."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from disco_core import fsimage
from disco_core.elf import load_elf
from disco_core.fsimage import build_root_image, read_image
from tests.guest.checksums import LARGE, LARGER, SMALL, expected_line
from tests.guest.uemu import UserEmu

ROOT = Path(__file__).resolve().parents[2]
USER = ROOT / "resources" / "guest" / "user"


@pytest.fixture(scope="module")
def programs() -> dict[str, Path]:
    return fsimage.build_user_programs()


@pytest.fixture(scope="module")
def image(programs, tmp_path_factory) -> fsimage.FsImage:
    path = tmp_path_factory.mktemp("img") / "root.img"
    return read_image(build_root_image(path, programs=programs))


def run(image: fsimage.FsImage, command: str, nprocs: int = 1, stdin: bytes = b""):
    return UserEmu.from_image(image, nprocs=nprocs, stdin=stdin).run(["/sh", "-c", command])


def sh(image: fsimage.FsImage, command: str, **kw) -> str:
    return run(image, command, **kw).text


# ------------------------------------------------------------ build and link


def test_every_program_has_a_source_and_builds(programs):
    sources = {p.stem for p in USER.glob("*.c")} - {"ulib", "printf", "umalloc", "rand"}
    assert sources == set(fsimage.PROGRAMS)
    assert set(programs) == set(fsimage.PROGRAMS)


@pytest.mark.parametrize("name", fsimage.PROGRAMS)
def test_program_is_linked_for_user_space(programs, name):
    elf = load_elf(programs[name])
    assert elf.entry == 0x00400000
    assert elf.address_of("_start") == elf.entry
    for seg in elf.segments:
        assert 0x00400000 <= seg.vaddr and seg.vaddr + seg.memsz < 0x70000000
        assert seg.vaddr % 4096 == 0  # text and data each start a page
    # Both the library's errno path and main are there.
    names = {sym.name for sym in elf.symbols}
    assert {"main", "__syscall_error", "errno"} <= names


def test_syscall_stubs_match_the_abi_table():
    abi = (ROOT / "docs" / "guest-abi.md").read_text()
    table = {name: int(num) for num, name in re.findall(r"^\| (\d+) \| `(\w+)` \|", abi, re.M)}
    usys = (USER / "usys.S").read_text()
    stubs = {name: int(num) for name, num in re.findall(r"^SYSCALL\((\w+), (\d+)\)", usys, re.M)}
    assert len(table) == 31
    assert stubs == table


def test_user_h_constants_match_the_abi():
    abi = (ROOT / "docs" / "guest-abi.md").read_text()
    header = (USER / "user.h").read_text()
    found = re.findall(r"#define (\w+)\s+(0x[0-9a-fA-F]+|\d+)", header)
    defines = {name: int(value, 0) for name, value in found}
    for name, value in re.findall(r"`(O_\w+) (0x[0-9a-f]+|\d+)`", abi):
        assert defines[name] == int(value, 0), name
    for name, value in re.findall(r"\b(E[A-Z]+) (\d+)\b", abi):
        assert defines[name] == int(value), name


def test_stripped_programs_keep_the_loadable_bytes(programs, image):
    elf = load_elf(programs["sh"])
    stripped = load_elf(image.read_file("/sh"))
    assert stripped.entry == elf.entry
    assert [(s.vaddr, s.memsz, s.data) for s in stripped.segments] == [
        (s.vaddr, s.memsz, s.data) for s in elf.segments
    ]


def test_root_image_with_every_program_is_deterministic(programs, tmp_path):
    a = build_root_image(tmp_path / "a.img", programs=programs)
    b = build_root_image(tmp_path / "b.img", programs=fsimage.build_user_programs())
    assert a.read_bytes() == b.read_bytes()
    fs = read_image(a)
    assert fs.used_blocks() == fs.reachable_blocks()


# ------------------------------------------------------------ the library


LIBTEST = r"""
#include "user.h"

int
main(int argc, char *argv[])
{
  char buf[64];
  char *end, *p, *q;
  int n, i;

  printf("[%d|%5d|%-5d|%05d|%u|%x|%X|%08x]\n", -42, 42, 42, -42, 3000000000u, 0xbeef, 0xbeef, 255);
  printf("[%s|%8s|%-8s|%c|%%|%p]\n", "str", "right", "left", 'z', (void *)0x1234);
  printf("[%ld|%lld|%llu|%llx]\n", -7L, -1234567890123LL, 18446744073709551615ULL,
         0x123456789abULL);
  n = snprintf(buf, 8, "%s-%d", "truncated", 12345);
  printf("[%s|%d]\n", buf, n);
  printf("[%ld|%ld|%ld|%ld|", strtol("  -123xyz", &end, 10), strtol("0x1f", 0, 0),
         strtol("0755", 0, 0), strtol("z", 0, 36));
  printf("%s|%d]\n", end, atoi("99 bottles"));
  printf("[%d|%d|%d|%s|%s]\n", strcmp("abc", "abd") < 0, strncmp("abcx", "abcy", 3),
         strlen("hello"), strchr("hello", 'l'), strstr("haystack", "st"));
  p = malloc(100);
  q = malloc(5000);
  memset(p, 'a', 100);
  memset(q, 'b', 5000);
  for(i = 0, n = 0; i < 5000; i++)
    n += q[i] == 'b';
  free(p);
  p = malloc(50);   // reuses the freed block
  printf("[%d|%d|%d]\n", n, p != 0, p != q);
  free(p);
  free(q);
  memmove(buf, "0123456789", 11);
  memmove(buf + 2, buf, 5);
  printf("[%s|%d]\n", buf, memcmp("ab", "ac", 2) < 0);
  if(open("/nonexistent", O_RDONLY) < 0)
    printf("[errno %d: %s]\n", errno, strerror(errno));
  srand(1);
  n = rand();
  srand(1);
  printf("[%d]\n", n == rand());
  for(i = 0; i < argc; i++)
    printf("argv[%d]=%s\n", i, argv[i]);
  return 7;
}
"""


@pytest.fixture(scope="module")
def libimage(tmp_path_factory, programs) -> fsimage.FsImage:
    tmp = tmp_path_factory.mktemp("lib")
    src = tmp / "libtest.c"
    src.write_text(LIBTEST)
    from disco_core.guest import build_program

    elf = build_program(
        [src, *(USER / lib for lib in fsimage.LIBRARY)],
        include_dirs=[USER],
        linker_script=USER / "user.ld",
        extra_flags=fsimage.LINK_FLAGS,
    )
    return read_image(build_root_image(tmp / "root.img", programs={**programs, "libtest": elf}))


def test_printf_strtol_strings_malloc_errno(libimage):
    emu = UserEmu.from_image(libimage)
    result = emu.run(["/libtest", "one", "two words"])
    assert result.status == 7  # main's return value goes to exit
    assert result.text.splitlines() == [
        "[-42|   42|42   |-0042|3000000000|beef|BEEF|000000ff]",
        "[str|   right|left    |z|%|0x00001234]",
        "[-7|-1234567890123|18446744073709551615|123456789ab]",
        "[truncat|15]",
        "[-123|31|493|35|xyz|99]",
        "[1|0|5|llo|stack]",
        "[5000|1|1]",
        "[0101234789|1]",
        "[errno 2: no such file or directory]",
        "[1]",
        "argv[0]=/libtest",
        "argv[1]=one",
        "argv[2]=two words",
    ]


# ------------------------------------------------------------ the shell and utilities


def test_echo_and_pipes(image):
    assert sh(image, "echo hello   world") == "hello world\n"
    assert sh(image, "echo a b c | wc") == "1 3 6\n"
    assert sh(image, "echo x | cat | cat | wc") == "1 1 2\n"


def test_redirections(image):
    out = sh(image, "echo one > /f; echo two >> /f; cat /f; wc < /f; cat < /f | grep two")
    assert out == "one\ntwo\n2 2 8\ntwo\n"
    assert sh(image, "echo new > /f2; echo newer > /f2; cat /f2") == "newer\n"


def test_lists_background_and_quotes(image):
    assert sh(image, "echo a; echo b ; echo c;") == "a\nb\nc\n"
    out = sh(image, "echo bg & echo fg")
    assert re.fullmatch(r"\[\d+\]\n(bg\nfg|fg\nbg)\n", out)
    assert sh(image, "echo 'a  b' \"c|d;e\" # not this") == "a  b c|d;e\n"


def test_command_not_found(image):
    assert sh(image, "nosuch; echo after") == "sh: nosuch: command not found\nafter\n"
    assert "sh: /bin/ls: command not found" in sh(image, "/bin/ls")


def test_syntax_errors(image):
    assert sh(image, "echo a |") == "sh: syntax error\n"
    assert sh(image, "echo a >") == "sh: missing file name for redirection\n"
    assert sh(image, "echo 'open") == "sh: missing '\n"


def test_overlong_line(image):
    emu = UserEmu.from_image(image)
    assert emu.run(["/sh", "-c", "echo " + "x" * 2000]).text == "sh: line too long\n"


def test_cd_and_relative_paths(image):
    out = sh(image, "mkdir /d; cd /d; echo x > y; cat y; cd ..; cat d/y; cd /nope")
    assert out == "x\nx\nsh: cd /nope: no such file or directory\n"


def test_exit_and_poweroff_builtins(image):
    assert run(image, "exit 3").status == 3
    result = run(image, "echo before; poweroff; echo not reached")
    assert (result.text, result.status) == ("before\n", 0)


def test_shell_prompts_on_the_console(image):
    result = UserEmu.from_image(image, stdin=b"echo one\necho two | wc\n").run(["/sh"])
    assert result.text == "$ one\n$ 1 1 4\n$ "


def test_shell_reads_a_pipe_without_prompting(image):
    assert sh(image, "echo 'echo one; echo two | wc' | sh") == "one\n1 1 4\n"


def test_shell_runs_a_script(image):
    out = sh(image, "echo 'echo from script' > /s; echo 'wc /README' >> /s; sh /s")
    assert out.startswith("from script\n") and out.endswith(" /README\n")


def test_ls(image):
    lines = sh(image, "ls /").splitlines()
    assert lines[0].split() == [".", "dir", "1", str(image.inode(1).size)]
    names = {line.split()[0] for line in lines}
    assert {"console", "sh", "src", "README", *fsimage.PROGRAMS} <= names
    console = next(line for line in lines if line.startswith("console"))
    assert console.split()[1] == "dev"
    assert sh(image, "ls /README").split()[:2] == ["/README", "file"]
    assert sh(image, "cd /src; ls").count(".c ") == fsimage.NSOURCES


def test_cat_and_wc(image):
    readme = image.read_file("/README")
    assert sh(image, "cat /README").encode() == readme
    lines, words, size = len(readme.splitlines()), len(readme.split()), len(readme)
    assert sh(image, "wc /README") == f"{lines} {words} {size} /README\n"
    assert sh(image, "cat /nope") == "cat: /nope: no such file or directory\n"


def test_grep(image):
    src = image.read_file("/src/s03.c").decode()
    matching = [line for line in src.splitlines() if "return" in line]
    assert sh(image, "grep return /src/s03.c").splitlines() == matching
    assert sh(image, "grep -c return /src/s03.c") == f"{len(matching)}\n"
    others = len(src.splitlines()) - len(matching)
    assert sh(image, "grep -v -c return /src/s03.c") == f"{others}\n"
    assert sh(image, "echo abc | grep -c zzz") == "0\n"
    two = sh(image, "grep -c return /src/s00.c /src/s01.c").splitlines()
    assert [line.split(":")[0] for line in two] == ["/src/s00.c", "/src/s01.c"]


def test_cp_rm_mkdir(image):
    out = sh(image, "mkdir /t /t/u; cp /README /t/u/r; cat /t/u/r | wc; rm /t/u/r; cat /t/u/r;"
                    " mkdir /t; rm /nope")
    readme = image.read_file("/README")
    assert out.splitlines() == [
        f"{len(readme.splitlines())} {len(readme.split())} {len(readme)}",
        "cat: /t/u/r: no such file or directory",
        "mkdir: /t: file exists",
        "rm: /nope: no such file or directory",
    ]


def test_ps_lists_the_shell_and_itself(image):
    lines = sh(image, "ps").splitlines()
    assert lines[0].split() == ["PID", "PPID", "STATE", "CPU", "SIZE", "NAME"]
    rows = [line.split() for line in lines[1:]]
    assert [r[-1] for r in rows] == ["sh", "ps"]
    assert rows[1][2] == "run"


def test_init_runs_the_shell_again_when_it_exits(image):
    # The first shell exits; init starts another, which powers the machine off.
    emu = UserEmu.from_image(image, stdin=b"exit\necho second\npoweroff\n")
    result = emu.run(["/init"])
    assert result.text == "init: starting sh\n$ init: starting sh\n$ second\n$ "
    assert result.status == 0


# ------------------------------------------------------------ the workloads


@pytest.mark.parametrize("command", list(SMALL) + list(LARGER))
@pytest.mark.parametrize("nprocs", [1, 3, 8])
def test_workload_checksum_is_the_same_on_any_number_of_cpus(image, command, nprocs):
    result = run(image, command, nprocs=nprocs)
    assert result.text == expected_line(command) + "\n"
    assert result.status == 0


@pytest.mark.slow
@pytest.mark.parametrize("command", list(LARGE))
def test_large_workload_checksum(image, command):
    assert sh(image, command, nprocs=8) == expected_line(command) + "\n"


def test_pmake_runs_a_process_per_unit_and_cleans_up(image):
    emu = UserEmu.from_image(image, nprocs=2)
    result = emu.run(["/sh", "-c", "pmake 6; ls /obj"])
    # sh forks pmake and ls; pmake forks 2 jobs; each unit is one compile.
    assert result.execs == 2 + 6
    assert result.forks == 2 + 2 + 6
    listing = result.text.splitlines()[1:]
    assert [line.split()[0] for line in listing] == [".", ".."]


def test_workloads_run_side_by_side(image):
    # Several instances at once (the paper runs eight pmakes): each keeps its
    # files and shared segment apart, so every line is as when run alone.
    commands = ["pmake 4", "pmake 4", "raytrace 8", "raytrace 8", "database 1", "database 1",
                "engineering 1"]
    result = run(image, " & ".join(commands) + " & wait; ls /obj; ls /db", nprocs=4)
    lines = result.text.splitlines()
    checks = sorted(line for line in lines if ": checksum " in line)
    assert checks == sorted(expected_line(c) for c in commands)
    # Only the directories' own entries are left.
    assert [line.split()[0] for line in lines if " dir " in line] == [".", ".."] * 2


def test_wait_builtin_waits_for_background_jobs(image):
    out = sh(image, "echo a > /w1 & echo b > /w2 & wait; cat /w1 /w2")
    assert out.splitlines()[-2:] == ["a", "b"]


def test_workloads_reject_bad_sizes(image):
    for name in ("pmake", "engineering", "raytrace", "database"):
        out = sh(image, f"{name} 0")
        assert out.startswith(f"usage: {name} N")


def test_database_files_have_the_table_sizes(image):
    emu = UserEmu.from_image(image)
    sizes = {}
    original = emu.sys_unlink

    def unlink(path, *rest):
        name = emu.cstr(path)
        sizes[name.split("/")[-1][0]] = len(emu.lookup(name).data)
        return original(path, *rest)

    emu.sys_unlink = unlink
    emu.run(["/database", "2"])
    assert sizes == {"f": 2 * 1024 * 32, "d": 1024 * 32}
    assert emu.root.entries["db"].entries == {}


def test_engineering_uses_megabytes(image):
    emu = UserEmu.from_image(image)
    seen = []
    original = emu.sys_sbrk

    def sbrk(n, *rest):
        seen.append(struct.unpack("<i", struct.pack("<I", n))[0])
        return original(n, *rest)

    emu.sys_sbrk = sbrk
    emu.run(["/engineering", "1"])
    assert sum(seen) > 3 * 1024 * 1024
