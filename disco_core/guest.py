"""The guest toolchain: zig's bundled clang and lld, aimed at bare MIPS32r2 little-endian.

Every guest program (bare-metal tests, benchmarks, the guest kernel) is built
here, so the target flags live in one place. docs/toolchain.md explains each
flag. Builds are cached by content: the sources, the headers they may
include, the flags and the zig version.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from disco_core.errors import ToolchainError

log = logging.getLogger(__name__)

# zig's compiler_rt for "-none" is hard-float and lld refuses to link it with
# soft-float objects; the "eabi" flavour is built soft-float.
TARGET = "mipsel-freestanding-eabi"
# noabicalls must be a CPU feature too: zig appends the CPU's feature list after
# the driver flags, so -mno-abicalls alone is overridden and compiler_rt would be
# built for abicalls.
CPU = "mips32r2+soft_float+noabicalls"

# Flags shared by C and assembly.
TARGET_FLAGS: tuple[str, ...] = (
    "-target", TARGET,
    f"-mcpu={CPU}",
    "-fno-pic",
    "-mno-abicalls",
)

# Flags for C sources on top of TARGET_FLAGS.
C_FLAGS: tuple[str, ...] = (
    "-std=gnu11",
    "-G0",
    "-ffreestanding",
    "-fno-builtin",
    "-fno-asynchronous-unwind-tables",
    "-Wall",
    "-g",
    # Call frame information in .debug_frame (nothing loaded changes: the PT_LOAD
    # segments of the kernels, user programs and demos are byte for byte the same):
    # GDB then unwinds without scanning prologues one memory read at a time, about
    # 5x fewer packets per stepi (docs/gdb.md, "Symbols").
    "-fforce-dwarf-frame",
)

SOURCE_SUFFIXES = (".c", ".S", ".s")
HEADER_SUFFIXES = (".h", ".inc", ".def")

ASM_PREAMBLE = """\
\t.set\tnoreorder
\t.set\tmips32r2
\t.text
\t.globl\t__snippet
__snippet:
"""

# Code first at the base; any data the snippet declares follows it. The GOT that
# o32 always reserves is dropped: nothing in a static snippet refers to it.
ASM_LINKER_SCRIPT = """\
ENTRY(__snippet)
SECTIONS
{{
  . = 0x{base:08x};
  .text : {{ *(.text .text.*) }}
  .data : {{ *(.rodata .rodata.*) *(.data .data.*) *(.sdata .sdata.*) }}
  .bss : {{ *(.bss .bss.*) *(.sbss .sbss.*) }}
  /DISCARD/ : {{
    *(.got) *(.MIPS.abiflags) *(.reginfo) *(.pdr) *(.eh_frame*) *(.gnu.attributes)
  }}
}}
"""


def resources_dir() -> Path:
    """The guest sources, linker scripts and icons (docs/packaging.md).

    An installed wheel (or an app bundle) has them as the package data
    ``disco_core/resources/``; a checkout, or an editable install of it, has them
    in the repository's top-level ``resources/``. They must be real files: the
    guest compiler reads them by path.
    """
    installed = importlib.resources.files("disco_core") / "resources"
    if isinstance(installed, Path) and installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "resources"


def cache_dir() -> Path:
    """Where builds are cached: ``$DISCO_CACHE_DIR``, else the XDG cache directory."""
    explicit = os.environ.get("DISCO_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "disco-workbench"


def _zig_env(cache: Path) -> dict[str, str]:
    # zig's own caches sit under ours so compiler_rt (about 10 s to build) is
    # built once per cache, not once per temporary directory.
    env = dict(os.environ)
    env["ZIG_GLOBAL_CACHE_DIR"] = str(cache / "zig")
    env["ZIG_LOCAL_CACHE_DIR"] = str(cache / "zig")
    return env


def _zig_command() -> list[str]:
    """How to start zig: ``python -m ziglang``, or in an app bundle the bundled binary.

    A PyInstaller bundle's ``sys.executable`` is the bundle's own program, not a
    Python that can run ``-m``; the bundle carries the ziglang package's ``zig``
    (packaging/disco-workbench.spec).
    """
    if getattr(sys, "frozen", False):
        spec = importlib.util.find_spec("ziglang")
        if spec is not None and spec.origin is not None:
            return [str(Path(spec.origin).parent / "zig")]
    return [sys.executable, "-m", "ziglang"]


def _run_zig(args: Sequence[str], what: str, cache: Path) -> str:
    """Run ``python -m ziglang <args>``; returns stderr, raises ToolchainError on failure."""
    cmd = [*_zig_command(), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_zig_env(cache))
    except OSError as e:
        raise ToolchainError(f"cannot run the guest compiler ({cmd[0]} -m ziglang): {e}") from e
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        if "No module named ziglang" in detail:
            raise ToolchainError(
                "the guest compiler is missing: install it with 'pip install ziglang==0.17.0'"
            )
        raise ToolchainError(f"{what} failed:\n{detail}")
    return proc.stderr


@functools.cache
def zig_version() -> str:
    """The version of the installed ``ziglang`` compiler (part of every cache key)."""
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [*_zig_command(), "version"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_zig_env(cache))
    if proc.returncode != 0:
        raise ToolchainError(
            "the guest compiler is missing or broken ('python -m ziglang version' failed: "
            f"{proc.stderr.strip()}); install it with 'pip install ziglang==0.17.0'"
        )
    return proc.stdout.strip()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _headers(dirs: Iterable[Path], recursive: Iterable[Path]) -> list[tuple[str, str]]:
    """(path, digest) of every header a build might include.

    Hashing every header beside the sources and under the include directories is
    cruder than asking the compiler for dependencies, but never misses one that
    lives there.
    """
    found: set[Path] = set()
    for d in dirs:
        if d.is_dir():
            found.update(p for p in d.iterdir() if p.suffix in HEADER_SUFFIXES and p.is_file())
    for d in recursive:
        if d.is_dir():
            found.update(p for p in d.rglob("*") if p.suffix in HEADER_SUFFIXES and p.is_file())
    return [(str(p), _file_digest(p)) for p in sorted(found)]


def _atomic_write(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _define_flags(defines: Mapping[str, object] | None) -> list[str]:
    flags = []
    for name, value in sorted((defines or {}).items()):
        flags.append(f"-D{name}" if value is None else f"-D{name}={value}")
    return flags


def build_program(
    sources: Iterable[str | os.PathLike[str]],
    *,
    output: str | os.PathLike[str] | None = None,
    include_dirs: Iterable[str | os.PathLike[str]] = (),
    defines: Mapping[str, object] | None = None,
    opt: str = "-O2",
    linker_script: str | os.PathLike[str] | None = None,
    extra_flags: Sequence[str] = (),
) -> Path:
    """Compile and link C and assembly sources (.c, .S, .s) into one MIPS ELF.

    ``defines`` maps a macro name to its value (``None`` for a bare ``-DNAME``).
    ``linker_script`` defaults to ``resources/baremetal/link.ld``. The ELF is
    built into the cache and its path returned; with ``output`` it is also
    copied there and that path is returned. Raises ToolchainError with the
    compiler's messages when the build fails.
    """
    srcs = [Path(s).resolve() for s in sources]
    if not srcs:
        raise ToolchainError("build_program needs at least one source file")
    for src in srcs:
        if src.suffix not in SOURCE_SUFFIXES:
            expected = ", ".join(SOURCE_SUFFIXES)
            raise ToolchainError(f"{src} is not a C or assembly source (expected {expected})")
        if not src.is_file():
            raise ToolchainError(f"source file {src} does not exist")
    script = Path(linker_script or resources_dir() / "baremetal" / "link.ld").resolve()
    if not script.is_file():
        raise ToolchainError(f"linker script {script} does not exist")
    incs = [Path(d).resolve() for d in include_dirs]

    flags = [
        *TARGET_FLAGS,
        *C_FLAGS,
        opt,
        *(f"-I{d}" for d in incs),
        *_define_flags(defines),
        *extra_flags,
        f"-Wl,-T,{script}",
        # zig passes its own --entry, which beats the script's ENTRY().
        f"-Wl,--entry={_script_entry(script)}",
    ]
    key_material = {
        "zig": zig_version(),
        "flags": flags,
        "sources": [(str(s), _file_digest(s)) for s in srcs],
        "headers": _headers({s.parent for s in srcs}, incs),
        "linker_script": _file_digest(script),
    }
    key = hashlib.sha256(json.dumps(key_material, sort_keys=True).encode()).hexdigest()

    cache = cache_dir()
    cached = cache / "programs" / f"{(output and Path(output).stem) or srcs[0].stem}-{key[:24]}.elf"
    if not cached.is_file():
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Another process may be building the same program: each writes its own
        # temporary file and the last rename wins with identical contents.
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.stem}.", suffix=".tmp")
        os.close(fd)
        try:
            names = ", ".join(s.name for s in srcs)
            cmd = ["cc", *flags, "-o", tmp, *map(str, srcs)]
            stderr = _run_zig(cmd, f"building {names}", cache)
            if stderr.strip():
                log.warning("building %s:\n%s", names, stderr.strip())
            os.replace(tmp, cached)
        finally:
            Path(tmp).unlink(missing_ok=True)

    if output is None:
        return cached
    dest = Path(output)
    _atomic_write(dest, cached.read_bytes())
    dest.chmod(0o755)
    return dest


def _script_entry(script: Path) -> str:
    match = re.search(r"\bENTRY\s*\(\s*([A-Za-z_.$][\w.$]*)\s*\)", script.read_text())
    return match.group(1) if match else "_start"


def build_baremetal(
    name_or_sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    output: str | os.PathLike[str] | None = None,
    include_dirs: Iterable[str | os.PathLike[str]] = (),
    defines: Mapping[str, object] | None = None,
    opt: str = "-O2",
    extra_flags: Sequence[str] = (),
) -> Path:
    """Build a bare-metal program for the test machine with crt0 and libbare.

    ``name_or_sources`` is a program name looked up under ``resources/`` (``"demo"``
    is ``resources/baremetal/demo.c``, ``"bench/intkernel"`` is
    ``resources/bench/intkernel.c``), a source path, or a list of source paths.
    """
    baremetal = resources_dir() / "baremetal"
    if isinstance(name_or_sources, (str, os.PathLike)):
        program = [_find_program(name_or_sources)]
    else:
        program = [Path(s) for s in name_or_sources]
    runtime = [baremetal / "crt0.S", baremetal / "libbare.c"]
    # The program comes first so the cached ELF is named after it.
    return build_program(
        [*program, *runtime],
        output=output,
        include_dirs=[baremetal, *include_dirs],
        defines=defines,
        opt=opt,
        linker_script=baremetal / "link.ld",
        extra_flags=extra_flags,
    )


def _find_program(name: str | os.PathLike[str]) -> Path:
    path = Path(name)
    if path.suffix in SOURCE_SUFFIXES and path.is_file():
        return path
    res = resources_dir()
    candidates = [res / "baremetal" / path, res / path]
    for base in candidates:
        for cand in (base, base.with_name(base.name + ".c")):
            if cand.suffix in SOURCE_SUFFIXES and cand.is_file():
                return cand
    tried = ", ".join(str(c.relative_to(res)) + "[.c]" for c in candidates)
    raise ToolchainError(f"no bare-metal program {str(name)!r}: looked for {tried} in {res}")


def assemble(asm: str, base: int = 0x80001000) -> bytes:
    """Assemble MIPS32r2 assembly into the flat bytes of its code placed at ``base``.

    The text is assembled under ``.set noreorder`` (write delay slots yourself)
    and ``.set mips32r2``, so privileged instructions (mtc0, eret, tlbwi, ...)
    are accepted. Data directives end up in the same flat image after the code.
    Raises ToolchainError with the assembler's messages on a mistake.
    """
    if not 0 <= base <= 0xFFFFFFFF or base % 4:
        raise ToolchainError(f"assemble base {base:#x} must be a word-aligned 32-bit address")
    source = ASM_PREAMBLE + asm + "\n"
    script = ASM_LINKER_SCRIPT.format(base=base)
    flags = [*TARGET_FLAGS, "-nostdlib"]
    key_material = {"zig": zig_version(), "flags": flags, "source": source, "script": script}
    key = hashlib.sha256(json.dumps(key_material, sort_keys=True).encode()).hexdigest()

    cache = cache_dir()
    cached = cache / "asm" / f"{key[:32]}.bin"
    if cached.is_file():
        return cached.read_bytes()

    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache, prefix=".asm-"))
    try:
        (work / "snippet.s").write_text(source)
        (work / "snippet.ld").write_text(script)
        elf = work / "snippet.elf"
        link = [f"-Wl,-T,{work / 'snippet.ld'}", "-Wl,--entry=__snippet"]
        cmd = ["cc", *flags, *link, "-o", str(elf), str(work / "snippet.s")]
        _run_zig(cmd, "assembling", cache)
        code = _flat_image(elf, base)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _atomic_write(cached, code)
    return code


def _flat_image(elf: Path, base: int) -> bytes:
    """The loadable bytes of a linked snippet from ``base`` to its last initialised byte."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    image = bytearray()
    with elf.open("rb") as f:
        for sec in ELFFile(f).iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_type"] != "SHT_PROGBITS":
                continue
            if sec["sh_size"] == 0:
                continue
            offset = sec["sh_addr"] - base
            if offset < 0:
                raise ToolchainError(f"{sec.name} landed at {sec['sh_addr']:#x}, below {base:#x}")
            data = sec.data()
            if len(image) < offset + len(data):
                image.extend(bytes(offset + len(data) - len(image)))
            image[offset : offset + len(data)] = data
    return bytes(image)
