"""Building the guest kernel (resources/guest/kernel/, docs/guest-kernel.md).

`build_kernel()` compiles every source of the chosen flavour with the guest
toolchain; disco_core.guest caches the ELF by the contents of the sources, the
headers beside them and the linker script, so an unchanged tree is not rebuilt.
"""

from __future__ import annotations

from pathlib import Path

from disco_core.guest import build_program, resources_dir

FLAVOURS = ("native", "disco")
# The disco flavour runs under the monitor: linked in the relocated kseg0,
# devices through monitor calls (docs/monitor-abi.md).
_LINKER_SCRIPTS = {"native": "kernel.ld", "disco": "kernel_disco.ld"}

# Exit codes of the native kernel (written to the power device).
EXIT_PANIC = 0x70          # panic(): an inconsistency the kernel detected
EXIT_KERNEL_TRAP = 0x71    # an exception in kernel mode
EXIT_INIT_EXITED = 0x72    # the first process exited
EXIT_NO_MACHDESC = 0x73    # no machine-description block


def kernel_dir() -> Path:
    return resources_dir() / "guest" / "kernel"


def kernel_sources(flavour: str = "native") -> list[Path]:
    """The kernel's sources: everything in the directory except other flavours' HALs.

    A HAL file belongs to one flavour: ``hal_<flavour>.c`` or ``hal_<part>_<flavour>.c``.
    """
    if flavour not in FLAVOURS:
        raise ValueError(f"no kernel flavour {flavour!r}: choose one of {', '.join(FLAVOURS)}")
    d = kernel_dir()
    out = []
    for p in sorted(d.iterdir()):
        if p.suffix not in (".c", ".S"):
            continue
        if p.name.startswith("hal_") and not p.stem.endswith(f"_{flavour}"):
            continue
        out.append(p)
    # entry.S first, so _start is the first thing in .text.start (the linker keeps it first anyway).
    out.sort(key=lambda p: (p.name != "entry.S", p.name))
    return out


def build_kernel(flavour: str = "native", *, opt: str = "-O2",
                 defines: dict[str, str | None] | None = None) -> Path:
    """Build (or fetch from the cache) the kernel ELF of a flavour."""
    d = kernel_dir()
    sources = kernel_sources(flavour)
    if flavour == "disco":
        defines = {**(defines or {}), "DISCO": None}
    return build_program(sources, include_dirs=[d], linker_script=d / _LINKER_SCRIPTS[flavour],
                         opt=opt, defines=defines,
                         extra_flags=("-fno-omit-frame-pointer",))
