"""The workbench's Linux session: Debian's kernel booted natively, its console the
ns16550a (`./workbench --session linux`, File > New machine)."""

from __future__ import annotations

from collections.abc import Callable

from disco_core.session.session import Guest, Session


def linux_session(program: str | None = None, preset_name: str = "flash8",
                  progress: Callable[[str], None] | None = None) -> Session:
    """Linux on CPU 0 of the preset, booting from reset when the session runs.
    `program` is ignored (the shell runs what is typed at the console)."""
    from disco_core.linux.boot import LinuxBooted
    from disco_core.linux.fetch import fetch
    from disco_core.linux.initramfs import build_initramfs

    if progress is not None:
        progress("fetching Debian's mipsel kernel and busybox (once), building the initramfs")
    files = fetch(log=False)
    booted = LinuxBooted(preset_name, kernel=files.kernel,
                         initrd=build_initramfs(files.busybox))
    guest = Guest("linux", (0,), booted.uart, None, tty=True)
    return Session(booted.machine, [guest], title=f"Linux {files.kernel_version} on "
                                                  f"{preset_name}")
