"""One GDB client's protocol state: commands in, target calls, replies out.

A `Handler` runs on the machine owner's thread (the server's `service()`, called
between run slices, hands it each parsed command), so it may call the target
directly. It holds what
the protocol remembers between packets: the selected threads, whether the client
speaks multiprocess, the points the client set, and the stop events not yet
reported (several threads can stop in one slice; GDB hears of one per resume,
as gdbserver does it, and the others are reported at the next resume).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from disco_core.errors import DiscoError
from disco_core.gdb import protocol as p
from disco_core.gdb.features import DOCUMENTS
from disco_core.gdb.target import (
    REG_PC,
    REGISTER_COUNT,
    SIGINT,
    SIGTRAP,
    PointKind,
    Resume,
    StopEvent,
    StopKind,
    Target,
    TargetError,
)

_WATCH_FIELD = {
    StopKind.WATCH: b"watch",
    StopKind.READ_WATCH: b"rwatch",
    StopKind.ACCESS_WATCH: b"awatch",
}
# Registers sent with every stop (pc, sp, fp, ra) so that a stepi costs GDB no
# extra register read for the frame it prints.
_EXPEDITED = (REG_PC, 29, 30, 31)
MAX_WATCH = 1 << 16  # the longest range one watchpoint may cover
_RESUME_OF = {p.Action.CONTINUE: Resume.CONTINUE, p.Action.STEP: Resume.STEP,
              p.Action.STOP: Resume.STOP}


class Handler:
    """Answers one client's commands against a target.

    `handle()` returns the reply packets for a command (none while the target runs
    after a resume); `poll()` returns a stop reply once the target has stopped.
    """

    def __init__(self, target: Target, on_noack: Callable[[], None] = lambda: None) -> None:
        self.target = target
        self._on_noack = on_noack
        self.multiprocess = False
        self.client_features: frozenset[str] = frozenset()
        self.running = False  # a resume is outstanding: GDB waits for a stop reply
        self.closed = False  # detached or killed: the connection should end
        self._attach_stop = False  # the stop we owe GDB for its first '?'
        self._pending: deque[StopEvent] = deque()
        self._last_stop: StopEvent | None = None
        self._g_thread = 0  # Hg: registers and memory (0: any)
        self._c_thread = 0  # Hc: legacy c/s (a stop makes the stopped thread current)
        self._hc_thread = 0  # the thread the client's last Hc named (0: any), for bc/bs
        self._points: dict[tuple[PointKind, int, int], int] = {}
        self._absorb_step: int | None = None

    # ---- thread ids ---------------------------------------------------------------

    def _tid(self, thread: int) -> bytes:
        return p.format_thread_id(self.target.pid, thread, self.multiprocess)

    def _matches(self, tid: p.ThreadId, thread: int) -> bool:
        if tid.pid not in (None, p.ALL, p.ANY, self.target.pid):
            return False
        return tid.tid in (p.ALL, p.ANY, thread)

    def _current(self) -> int:
        if self._g_thread:
            return self._g_thread
        if self._last_stop is not None:
            return self._last_stop.thread
        threads = self.target.threads()
        if not threads:
            raise TargetError("the target has no threads")
        return threads[0]

    def _resolve(self, tid: p.ThreadId) -> int:
        """A thread named by the client (0 or -1: the current one)."""
        if tid.pid not in (None, p.ALL, p.ANY, self.target.pid):
            raise TargetError(f"process {tid.pid} is not this target's ({self.target.pid})")
        if tid.tid in (p.ALL, p.ANY):
            return self._current()
        if tid.tid not in self.target.threads():
            raise TargetError(f"thread {tid.tid} does not exist")
        return tid.tid

    # ---- stop replies -------------------------------------------------------------

    def stop_reply(self, ev: StopEvent) -> bytes:
        if ev.kind == StopKind.EXITED:
            tail = b";process:%x" % self.target.pid if self.multiprocess else b""
            return b"W%02x" % (ev.code & 0xFF) + tail
        signal = SIGINT if ev.kind == StopKind.INTERRUPT else SIGTRAP
        fields: list[tuple[bytes, bytes]] = [(b"thread", self._tid(ev.thread))]
        if ev.kind in _WATCH_FIELD:
            fields.append((_WATCH_FIELD[ev.kind], b"%x" % ev.address))
        elif ev.kind == StopKind.BREAKPOINT:
            hw = any(k == PointKind.HARDWARE and a == ev.address for k, a, _ in self._points)
            if hw and "hwbreak+" in self.client_features:
                fields.append((b"hwbreak", b""))
            elif "swbreak+" in self.client_features:
                fields.append((b"swbreak", b""))
        elif ev.kind in (StopKind.REPLAY_BEGIN, StopKind.REPLAY_END):
            fields.append((b"replaylog", b"begin" if ev.kind == StopKind.REPLAY_BEGIN else b"end"))
        try:
            fields += [(b"%02x" % n, p.reg_hex(self.target.read_register(ev.thread, n)))
                       for n in _EXPEDITED]
        except TargetError:
            pass
        return p.stop_reply(signal, fields)

    def _report(self, ev: StopEvent) -> bytes:
        self.running = False
        self._last_stop = ev
        self._g_thread = self._c_thread = ev.thread
        if ev.kind in _WATCH_FIELD:
            # The machine reports a watchpoint after the access completed; GDB's MIPS
            # support expects it before, and moves the thread over the access with
            # the watchpoints out (a single step done with a breakpoint on the next
            # instruction). That move has in effect been made: the resume that
            # follows is answered at once with a plain stop where the thread is.
            self._absorb_step = ev.thread
        if self._attach_stop:
            self._attach_stop = False
            ev = StopEvent(ev.thread, StopKind.STEP)  # an attach is no SIGINT to the user
        return self.stop_reply(ev)

    def _stale(self, ev: StopEvent) -> bool:
        """A queued breakpoint stop whose breakpoint the client has removed since."""
        if ev.kind != StopKind.BREAKPOINT:
            return False
        return not any(k in (PointKind.SOFTWARE, PointKind.HARDWARE) and a == ev.address
                       for k, a, _ in self._points)

    def poll(self) -> bytes | None:
        """The stop reply GDB waits for, once the target has one."""
        if not self.running:
            return None
        self._pending.extend(self.target.poll_stops())
        while self._pending:
            ev = self._pending.popleft()
            if not self._stale(ev):
                return self._report(ev)
        return None

    def interrupt(self) -> None:
        if self.running:
            self.target.interrupt()

    # ---- commands -----------------------------------------------------------------

    def handle(self, cmd: p.Command) -> list[bytes]:
        """The replies to one command; an empty list when the answer is a later stop."""
        try:
            return self._handle(cmd)
        except DiscoError:  # TargetError, or the machine refusing (a full watch table, ...)
            return [p.error(p.Errno.INVALID)]

    def _handle(self, cmd: p.Command) -> list[bytes]:  # noqa: C901 - one case per packet
        t = self.target
        match cmd:
            case p.QuerySupported(features):
                return [self._supported(features)]
            case p.StartNoAck():
                self._on_noack()
                return [p.OK]
            case p.ReadFeatures(annex, offset, length):
                doc = DOCUMENTS.get(annex)
                if doc is None:
                    return [p.error(p.Errno.INVALID)]
                return [p.xfer_slice(doc, offset, min(length, p.PACKET_SIZE // 2))]
            case p.HaltReason():
                return self._halt_reason()
            case p.ReadRegisters():
                return [p.regs_hex(t.read_registers(self._current())[:REGISTER_COUNT])]
            case p.WriteRegisters(values):
                thread = self._current()
                for n, v in enumerate(values[:REGISTER_COUNT]):
                    t.write_register(thread, n, v)
                return [p.OK]
            case p.ReadRegister(number):
                if number >= REGISTER_COUNT:
                    return [p.error(p.Errno.INVALID)]
                return [p.reg_hex(t.read_register(self._current(), number))]
            case p.WriteRegister(number, value):
                if number >= REGISTER_COUNT:
                    return [p.error(p.Errno.INVALID)]
                t.write_register(self._current(), number, value)
                return [p.OK]
            case p.ReadMemory(address, length):
                return [self._read_memory(address, length)]
            case p.WriteMemory(address, data):
                return [self._write_memory(address, data)]
            case p.Point():
                return [self._point(cmd)]
            case p.VContQuery():
                return [b"vCont;c;C;s;S;t"]
            case p.VCont(actions):
                return self._resume(self._vcont_actions(actions))
            case p.LegacyResume(action, address):
                return self._legacy_resume(action, address)
            case p.Reverse(step):
                if not t.can_reverse:
                    return [p.EMPTY]
                # A watchpoint stop is answered by GDB with a step over the access in
                # the direction it runs; backwards that step is a real one (the stop
                # stands after the access, GDB must see the value before it).
                self._absorb_step = None
                self._pending.clear()  # the history is another point now: kept stops are gone
                # GDB sends Hc0 ("any") and selects the user's thread with Hg alone
                # (`thread 2`, then reverse-stepi): the thread is the Hc one if the
                # client named one, else the current (Hg, else the last stop's).
                t.reverse(self._hc_thread or self._current(), step)
                self.running = True
                return []
            case p.SetThread(op, thread):
                chosen = 0 if thread.tid in (p.ALL, p.ANY) else self._resolve(thread)
                if op == "g":
                    self._g_thread = chosen
                else:
                    self._c_thread = self._hc_thread = chosen
                return [p.OK]
            case p.ThreadAlive(thread):
                alive = any(self._matches(thread, x) for x in t.threads())
                return [p.OK if alive and thread.tid > 0 else p.error(p.Errno.NO_THREAD)]
            case p.ThreadInfoFirst():
                return [p.thread_list(self._tid(x) for x in t.threads())]
            case p.ThreadInfoNext():
                return [b"l"]
            case p.CurrentThread():
                return [b"QC" + self._tid(self._current())]
            case p.ThreadExtraInfo(thread):
                return [p.hex_text(t.thread_info(self._resolve(thread)))]
            case p.MonitorCommand(text):
                return self._monitor(text)
            case p.Attached():
                return [b"1"]
            case p.SymbolLookup():
                return [p.OK]
            case p.Detach(pid):
                if pid not in (None, t.pid):
                    return [p.error(p.Errno.INVALID)]
                self.detach()
                return [p.OK]
            case p.Kill(reply):
                t.kill()
                self.closed = True
                return [p.OK] if reply else []
            case p.Unknown():
                return [p.EMPTY]
        return [p.EMPTY]

    def _supported(self, features: tuple[str, ...]) -> bytes:
        self.client_features = frozenset(features)
        self.multiprocess = "multiprocess+" in self.client_features
        ours = [f"PacketSize={p.PACKET_SIZE:x}", "qXfer:features:read+", "QStartNoAckMode+",
                "vContSupported+", "swbreak+", "hwbreak+"]
        if self.multiprocess:
            ours.append("multiprocess+")
        if self.target.can_reverse:
            ours += ["ReverseStep+", "ReverseContinue+"]
        return ";".join(ours).encode()

    def _halt_reason(self) -> list[bytes]:
        if self._last_stop is not None and not self.running:
            return [self.stop_reply(self._last_stop)]
        # First contact: GDB wants the target stopped. Stop it and answer with the stop.
        self._attach_stop = True
        self.running = True
        self.target.interrupt()
        reply = self.poll()
        return [reply] if reply is not None else []

    def _read_memory(self, address: int, length: int) -> bytes:
        length = min(length, p.PACKET_SIZE // 2 - 8)
        if address + length > 1 << 32:
            return p.error(p.Errno.MEMORY)
        try:
            return self.target.read_memory(self._current(), address, length).hex().encode()
        except TargetError:
            return p.error(p.Errno.MEMORY)

    def _write_memory(self, address: int, data: bytes) -> bytes:
        if not data:
            return p.OK  # GDB probes X support with an empty write
        if address + len(data) > 1 << 32:
            return p.error(p.Errno.MEMORY)
        try:
            self.target.write_memory(self._current(), address, data)
        except TargetError:
            return p.error(p.Errno.MEMORY)
        return p.OK

    def _point(self, cmd: p.Point) -> bytes:
        kind = PointKind(int(cmd.type))
        if cmd.address + max(cmd.kind, 1) > 1 << 32:
            return p.error(p.Errno.INVALID)
        if kind.is_watch and not 0 < cmd.kind <= MAX_WATCH:
            return p.error(p.Errno.INVALID)  # GDB falls back to a software watchpoint
        key = (kind, cmd.address, cmd.kind)
        count = self._points.get(key, 0)
        if cmd.insert:
            if not count:
                self.target.insert_point(kind, cmd.address, cmd.kind)
            self._points[key] = count + 1
        elif count:
            # GDB inserts a location once and removes it once; a nested count is
            # kept anyway so that a repeated Z is undone by as many z.
            if count == 1:
                self.target.remove_point(kind, cmd.address, cmd.kind)
                del self._points[key]
            else:
                self._points[key] = count - 1
        return p.OK

    def _vcont_actions(self, actions: tuple[p.VContAction, ...]) -> dict[int, Resume]:
        out: dict[int, Resume] = {}
        for thread in self.target.threads():
            out[thread] = Resume.STOP
            for a in actions:  # the leftmost action that names a thread applies to it
                if a.thread is None or self._matches(a.thread, thread):
                    out[thread] = _RESUME_OF[a.action]
                    break
        return out

    def _legacy_resume(self, action: p.Action, address: int | None) -> list[bytes]:
        threads = self.target.threads()
        if address is not None:
            self.target.write_register(self._c_thread or self._current(), REG_PC, address)
        if action == p.Action.CONTINUE:
            return self._resume({x: Resume.CONTINUE for x in threads})
        stepping = self._c_thread or self._current()
        return self._resume({x: Resume.STEP if x == stepping else Resume.STOP for x in threads})

    def _resume(self, actions: dict[int, Resume]) -> list[bytes]:
        absorb, self._absorb_step = self._absorb_step, None
        watching = any(k.is_watch for k, _, _ in self._points)
        if absorb is not None and actions.get(absorb, Resume.STOP) != Resume.STOP \
                and not watching:
            return [self._report(StopEvent(absorb, StopKind.STEP))]
        going = {x for x, r in actions.items() if r != Resume.STOP}
        for ev in list(self._pending):
            if self._stale(ev):
                self._pending.remove(ev)
            elif ev.thread in going:
                # This thread stopped while another's stop was being reported: it has
                # not run since, so its event is the answer to this resume.
                self._pending.remove(ev)
                return [self._report(ev)]
        if not going:
            return [p.error(p.Errno.INVALID)]
        self.running = True
        self.target.resume(actions)
        return []

    def _monitor(self, text: str) -> list[bytes]:
        answer = self.target.monitor(text.strip())
        if answer and not answer.endswith("\n"):
            answer += "\n"
        limit = p.PACKET_SIZE // 2 - 8
        return [p.console_output(answer[i : i + limit])
                for i in range(0, len(answer), limit)] + [p.OK]

    def detach(self) -> None:
        """Take out the client's points and let the target run on (also on a lost client)."""
        for kind, address, length in list(self._points):
            try:
                self.target.remove_point(kind, address, length)
            except TargetError:
                pass
        self._points.clear()
        self._pending.clear()
        self.running = False
        self.closed = True
        self.target.detach()
