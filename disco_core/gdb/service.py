"""A session's GDB servers: one per VM served, serviced between the session's slices.

`GdbService(session)` is what the command line and the app attach to a
session: `serve_vm(k, address)` starts a server for VM k (a `VmTarget`) and
hooks the service into the session (`Session.slice_hooks`, `stop_claims`),
so whoever runs the session's slices (the app's engine, `run()` below)
services the servers between them without blocking: each `step_slice` first
answers what the clients sent, and a paused or idle session waits on the
clients' sockets as well as its command queue.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from disco_core.errors import DiscoError
from disco_core.gdb import server as gdb_server
from disco_core.gdb.native import SessionMachineTarget
from disco_core.gdb.server import GdbServer
from disco_core.gdb.vm import VmTarget
from disco_core.session.session import Session
from disco_core.session.targets import RunResult


class ServedTarget(Protocol):
    """What the service needs of a target beside `Target`: its claim on the session's
    stops, whether it let the machine run again, and detach."""

    woke: bool

    def claim(self, r: RunResult) -> bool: ...

    def detach(self) -> None: ...


SLICE = 200_000  # instructions per slice while serving: a stop reply within ~10 ms
# After a packet, how long to wait for the client's next one before the machine runs
# its next slice, and how long such a burst may hold the other VMs at most. GDB sends
# several packets per command (a stepi: vCont;s, a memory read or more): served in
# one burst they cost no slice each.
LINGER = 0.002
BURST = 0.05


class GdbService:
    """The GDB servers of one session (`serve_vm`), and the session's hook for them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.servers: dict[int, GdbServer] = {}  # VM index -> its server
        self.targets: dict[int, ServedTarget] = {}
        self._hooked = False

    def serve_vm(self, index: int, address: str | int = 0, held: bool = False) -> GdbServer:
        """Serve VM `index` (0-based) on `address` (port 0: a free one); `held` holds it
        before its next instruction, as `--gdb-wait` does."""
        mon = self.session.monitor
        if mon is None:
            raise DiscoError("this session runs no virtual machines: nothing to serve per VM")
        if not 0 <= index < len(mon.vms):
            raise DiscoError(f"there is no VM {index}: the session has VMs 0-{len(mon.vms) - 1}")
        if index in self.servers:
            return self.servers[index]
        target = VmTarget(self.session, mon.vms[index], held=held)
        return self._serve(index, target, GdbServer(target, address))

    def serve_machine(self, address: str | int = 0, held: bool = False) -> GdbServer:
        """Serve a session without VMs (bare metal, the native kernel): the CPUs are the
        threads, and a stop holds the whole machine."""
        if self.session.monitor is not None:
            raise DiscoError("this session runs virtual machines: serve each VM (serve_vm)")
        if 0 in self.servers:
            return self.servers[0]
        target = SessionMachineTarget(self.session, held=held)
        return self._serve(0, target, GdbServer(target, address))

    def _serve(self, index: int, target: ServedTarget, server: GdbServer) -> GdbServer:
        server.start()
        self.servers[index] = server
        self.targets[index] = target
        self.session.stop_claims.append(target.claim)
        if not self._hooked:
            self.session.slice_hooks.append(self)
            self._hooked = True
        return server

    # ---- the session's hook (SliceHook) ------------------------------------------------

    def between_slices(self) -> bool:
        deadline = time.monotonic() + BURST
        while True:
            did = False
            for server in list(self.servers.values()):
                did = server.service(0.0) or did
            if not did or time.monotonic() > deadline:
                break
            gdb_server.wait(self.servers.values(), LINGER)
        woke = False
        for target in self.targets.values():
            woke = woke or target.woke
            target.woke = False
        return woke

    def wait(self, timeout: float) -> bool:
        """Sleep until a client sends something (or connects), at most `timeout`."""
        start = time.monotonic()
        gdb_server.wait(self.servers.values(), timeout)
        return time.monotonic() - start < timeout * 0.9

    @property
    def attached(self) -> bool:
        return any(s.attached for s in self.servers.values())

    def close(self) -> None:
        """Stop serving: the clients are dropped and every VM runs on."""
        for index, server in self.servers.items():
            target = self.targets[index]
            server.close()
            target.detach()
            if target.claim in self.session.stop_claims:
                self.session.stop_claims.remove(target.claim)
        self.servers.clear()
        self.targets.clear()
        if self in self.session.slice_hooks:
            self.session.slice_hooks.remove(self)
        self._hooked = False


def attach_command(kernel: str, port: int, host: str = "") -> str:
    """The gdb-multiarch command line that attaches to a server on `port`."""
    remote = f"{host}:{port}" if host and host not in ("127.0.0.1", "localhost") else f":{port}"
    return (f"gdb-multiarch -nx -ex 'set architecture mips:isa32r2' -ex 'file {kernel}' "
            f"-ex 'target remote {remote}'")


def run(session: Session, until: Callable[[], bool], budget: int = SLICE,
        timeout: float | None = None) -> None:
    """Run the session's slices on this thread (which then owns the machine) until
    `until()` is true, sleeping on the clients while nothing can run."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not until():
        if deadline is not None and time.monotonic() > deadline:
            return
        active = session.running and not session.halted and not session.idle
        if not active:
            session.wait_for_command(0.02)
        session.step_slice(budget if session.running else 0)
