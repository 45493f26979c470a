"""`disco boot --gdb` and `disco gdb`: boot the guest kernel, serve it, run it (docs/gdb.md).

With `--vms N` every VM gets a server of its own (`GdbService`), VM k on port
PORT + k (the one `--gdb-vm` names, alone, on PORT); the native kernel gets one
server whose threads are the machine's CPUs (`BareTarget`). The owner's loop is the
caller's thread; `run()` returns when `until()` says so, or when nothing is
left to run and no client is attached.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from disco_core.boot import PROMPT, prefixed, split_commands
from disco_core.errors import DiscoError
from disco_core.gdb import service as gdb_service
from disco_core.gdb.bare import BareTarget
from disco_core.gdb.server import GdbServer, parse_address
from disco_core.gdb.service import GdbService, attach_command
from disco_core.session.session import Session

GDB = "gdb-multiarch"


@dataclass
class Served:
    """A booted session and its servers: (name, port) per served target, in order."""

    session: Session
    kernel: Path
    host: str
    ports: list[tuple[str, int]]
    service: GdbService | None = None  # with VMs
    bare: BareTarget | None = None  # the native kernel
    bare_server: GdbServer | None = None
    commands: list[str] = field(default_factory=list)
    _marks: dict[str, int] = field(default_factory=dict)
    _seen: dict[str, int] = field(default_factory=dict)
    _partial: dict[str, bytes] = field(default_factory=dict)

    def attach_commands(self) -> list[tuple[str, str]]:
        return [(name, attach_command(str(self.kernel), port, self.host))
                for name, port in self.ports]

    @property
    def attached(self) -> bool:
        if self.service is not None:
            return self.service.attached
        return self.bare_server is not None and self.bare_server.attached

    @property
    def finished(self) -> bool:
        """Nothing more will run: every VM stopped, or the machine halted."""
        mon = self.session.monitor
        if mon is not None:
            return not any(vm.running for vm in mon.vms)
        return self.bare is not None and self.bare.finished

    def close(self) -> None:
        if self.service is not None:
            self.service.close()
        if self.bare_server is not None:
            self.bare_server.close()
        self.session.close()

    # ---- the consoles ----------------------------------------------------------------

    def type_commands(self) -> None:
        """Type the next --run command into each guest whose console shows a new prompt."""
        if not self.commands:
            return
        for guest in self.session.guests:
            out = guest.console.output
            mark = self._marks.get(guest.name, 0)
            found = out.find(PROMPT, mark)
            if found < 0:
                continue
            self._marks[guest.name] = found + len(PROMPT)
            typed = self._marks.get(guest.name + "#", 0)
            if typed < len(self.commands):
                guest.console.feed(self.commands[typed].encode() + b"\n")
                self._marks[guest.name + "#"] = typed + 1

    def echo(self, write: Callable[[str], object]) -> None:
        """New console output, whole lines, prefixed by the guest's name with VMs."""
        vms = self.session.monitor is not None
        for guest in self.session.guests:
            out = guest.console.output
            seen = self._seen.get(guest.name, 0)
            if len(out) <= seen:
                continue
            data = self._partial.get(guest.name, b"") + bytes(out[seen:])
            self._seen[guest.name] = len(out)
            if not vms:
                write(data.decode("utf-8", "replace"))
                continue
            *lines, self._partial[guest.name] = data.split(b"\n")
            for line in lines:
                write(prefixed(guest.name, line.decode("utf-8", "replace")) or f"[{guest.name}]\n")


def serve_boot(machine: str, address: str, vms: int | None = None, vcpus: int = 1,
               vm: int | None = None, wait: bool = False, run: str | None = None) -> Served:
    """Boot (the native kernel, or `vms` VMs) and serve it on `address`, held if `wait`."""
    from disco_core.kernel import build_kernel
    from disco_core.session import kernel_session, vms_session

    host, port = parse_address(address)
    commands = split_commands(run)
    if vms is None:
        if vm is not None:
            raise DiscoError("--gdb-vm chooses one of the VMs: use it with --vms N")
        session = kernel_session(preset_name=machine)
        target = BareTarget(session.machine, held=wait)
        try:
            server = GdbServer(target, f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
            server.start()
        except BaseException:
            session.close()
            raise
        return Served(session, build_kernel("native"), host, [("machine", server.port)],
                      bare=target, bare_server=server, commands=commands)
    session = vms_session(preset_name=machine, vms=vms, vcpus=vcpus)
    mon = session.monitor
    assert mon is not None
    service = GdbService(session)
    served = Served(session, build_kernel("disco"), host, [], service=service, commands=commands)
    try:
        if vm is not None and not 0 <= vm < len(mon.vms):
            raise DiscoError(f"--gdb-vm {vm}: the VMs are 0-{len(mon.vms) - 1}")
        for k in [vm] if vm is not None else range(len(mon.vms)):
            at = port + k if port and vm is None else port  # --gdb-vm: on PORT itself
            server = service.serve_vm(k, f"[{host}]:{at}" if ":" in host else f"{host}:{at}",
                                      held=wait)
            served.ports.append((mon.vms[k].name, server.port))
    except BaseException:
        served.close()
        raise
    return served


def run(served: Served, until: Callable[[], bool] = lambda: False,
        echo: Callable[[str], object] | None = None) -> None:
    """The owner's loop: until `until()`, or everything has stopped and no client is on."""

    def done() -> bool:
        served.type_commands()
        if echo is not None:
            served.echo(echo)
        return until() or (served.finished and not served.attached)

    if served.bare is not None and served.bare_server is not None:
        target, server = served.bare, served.bare_server
        while not done():
            ran = target.run_slice()
            server.service(0.0 if ran else 0.02)
        return
    gdb_service.run(served.session, done)


def launch_gdb(served: Served, gdb_args: list[str]) -> int:
    """Start gdb-multiarch on the first served target; run the machine until it exits."""
    name, port = served.ports[0]
    gdb = start_gdb(served.kernel, port, gdb_args)
    print(f"disco: serving {name} on port {port} to {GDB}", file=sys.stderr)
    try:
        run(served, until=lambda: gdb.poll() is not None)
    finally:
        if gdb.poll() is None:
            gdb.terminate()
        code = gdb.wait()
    return code


def start_gdb(kernel: Path, port: int, gdb_args: list[str]) -> subprocess.Popen[bytes]:
    """gdb-multiarch on `kernel`, attached to the server on `port`, with `gdb_args`."""
    cmd = [GDB, "-nx", "-ex", "set architecture mips:isa32r2", "-ex", f"file {kernel}",
           "-ex", f"target remote :{port}", *gdb_args]
    try:
        return subprocess.Popen(cmd)
    except FileNotFoundError:
        raise DiscoError(f"{GDB} is not installed (the Debian package gdb-multiarch)") from None
