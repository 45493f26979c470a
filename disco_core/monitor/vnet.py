"""The virtual network (paper §2.3, §4.2.3): a switch between the monitor's VMs.

Every VM has a **link address**, `LINK_BASE | VM id` (VM 0 is 0x0D150000, VM 5
is 0x0D150005), answered by the NET_ADDR call. A message goes to one address,
has any length (no MTU: it is bounded only by the receiver's memory) and is
queued at the receiver until the receiver takes it; vCPU 0 of the receiver
gets virtual interrupt line `NET_LINE` (the guest's Cause.IP4) when one
arrives, until the guest acknowledges it with NET_ACK.

**Page remapping instead of copying.** When the sender names a whole,
page-aligned guest page, the monitor does not copy it: at the send it takes
the sender's machine page as the message's page (the sender's half of
`Monitor.share_page`: its writable mappings are shot down and the page becomes
read-only, shared copy-on-write) and holds it with a reference of its own in
the memmap. When the receiver's buffer has a whole page-aligned guest page at
that point of the message, the receiver's guest page is remapped to that
machine page (`PMap.share_from`, the other half of `share_page`). The first
store by either side copies the page (`PMap.break_sharing`), so the other side
keeps seeing what was sent. Every other byte is copied, once into the
monitor's queue at the send and once into the receiver's buffer.

A message may be gathered from several pieces (the MORE flag): a guest kernel
sends a user buffer one physical page run at a time; the pieces to one
destination make one message, queued when the piece without MORE arrives.
Receiving takes bytes from the head message into a buffer; the message leaves
the queue when all of it has been taken, so a receiver may also take it in
pieces (scatter).

A bad request (a buffer outside the VM, an unknown destination, a full queue)
gets an error and never touches another VM: each queue is bounded in
messages and bytes (the receiver's memory size), a message that does not fit
is dropped and counted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from disco_core.machine import Cpu
from disco_core.mips import KSEG3, KSSEG
from disco_core.monitor import sections, vintr
from disco_core.monitor.context import MonitorContext
from disco_core.monitor.costs import page_traffic
from disco_core.monitor.events import EventKind
from disco_core.monitor.mcall import Call
from disco_core.monitor.memmap import PAGE
from disco_core.monitor.sections import Section
from disco_core.monitor.stats import StatKind
from disco_core.monitor.vm import VM, VMCpu

# the statistic kinds bound once: an enum member's attribute lookup is slow
# (Python 3.11) and these are used on every exit
_NET_COPY = StatKind.NET_COPY
_NET_PIN = StatKind.NET_PIN
_NET_REMAP = StatKind.NET_REMAP

# monitor-call numbers (docs/monitor-abi.md; their one home is mcall.Call)
MC_NET_SEND, MC_NET_RECV, MC_NET_PEEK = Call.NET_SEND, Call.NET_RECV, Call.NET_PEEK
MC_NET_ADDR, MC_NET_ACK = Call.NET_ADDR, Call.NET_ACK
MC_NET_FIRST, MC_NET_LAST = MC_NET_SEND, MC_NET_ACK
SECTION, VERSION = "vnet", 1
NET_LINE = 2            # the receiver's Cause.IP4 (the machine's NIC line, docs/devices.md)
LINK_BASE = 0x0D150000  # link address = LINK_BASE | VM id
MORE = 1                # NET_SEND flag: more pieces of this message follow
PEEK_LENGTH, PEEK_SOURCE, PEEK_COUNT = 0, 1, 2

# results (as the guest sees them in $v0: small negative numbers)
E_BUFFER = -1   # buffer outside the VM, bad flags, nothing to send
E_DEST = -2     # no running VM has that link address
E_FULL = -3     # the destination's queue is full: the message is dropped
E_EMPTY = -4    # nothing is waiting
E_TOOBIG = -5   # longer than the receiver's memory: it could never be taken
E_PIECE = -6    # a piece for another destination than the message being gathered

MAX_MESSAGES = 64  # per receiving VM
_SSEG, _SSEG_END = KSSEG, KSEG3
_PIN = -1  # memmap user id of the monitor's own references to queued pages


@dataclass
class Message:
    """A message: its pieces are pinned machine pages (int) or copied bytes."""

    source: int
    chunks: deque[int | bytes] = field(default_factory=deque)
    length: int = 0     # bytes not yet taken
    offset: int = 0     # bytes of chunks[0] already taken


@dataclass
class NetCounters:
    """Per VM: what it sent and received, and how."""

    sent: int = 0             # messages queued for someone
    received: int = 0         # messages fully taken
    dropped: int = 0          # its messages dropped at a full queue
    errors: int = 0           # requests refused (bad buffer, destination, ...)
    remapped_pages: int = 0   # pages sent or received by remapping
    copied_bytes: int = 0     # bytes copied in or out


class VNet:
    """The monitor's virtual switch: per VM a bounded queue of messages."""

    def __init__(self, ctx: MonitorContext, max_messages: int = MAX_MESSAGES) -> None:
        self.ctx = ctx
        self.max_messages = max_messages
        self.remap = True  # False: copy everything (to measure what remapping saves)
        self.queues: dict[int, deque[Message]] = {}
        self.queued_bytes: dict[int, int] = {}
        self.gathering: dict[int, tuple[int, Message]] = {}  # sender → (dest id, message)
        self.counters: dict[int, NetCounters] = {}
        self._pins = 0

    # ---- addresses ---------------------------------------------------------------------

    @staticmethod
    def address(vm: VM) -> int:
        return LINK_BASE | vm.id

    def vm_at(self, addr: int) -> VM | None:
        """The running VM with link address addr, or None."""
        if addr & ~0xFFFF != LINK_BASE:
            return None
        i = addr & 0xFFFF
        vms = self.ctx.vms
        return vms[i] if i < len(vms) and vms[i].running else None

    def stats(self, vm: VM) -> NetCounters:
        c = self.counters.get(vm.id)
        if c is None:
            c = self.counters[vm.id] = NetCounters()
        return c

    # ---- the monitor calls ---------------------------------------------------------------

    def call(self, v: VMCpu, cpu: Cpu | None, call: int, a0: int, a1: int, a2: int,
             a3: int) -> int:
        """Monitor calls 16-20 (docs/monitor-abi.md); the result as a 32-bit word."""
        vm = v.vm
        if call == MC_NET_SEND:
            r = self.send(vm, a0, a1, a2, a3, cpu)
        elif call == MC_NET_RECV:
            r = self.recv(vm, a0, a1, cpu)
        elif call == MC_NET_PEEK:
            r = self.peek(vm, a0)
        elif call == MC_NET_ADDR:
            r = self.address(vm)
        else:  # MC_NET_ACK
            vintr.clear(vm.vcpus[0], NET_LINE)
            r = len(self.queues.get(vm.id, ()))
        return r & 0xFFFFFFFF

    def send(self, vm: VM, dest: int, gpa: int, n: int, flags: int = 0,
             cpu: Cpu | None = None) -> int:
        """NET_SEND: a piece of n bytes at guest-physical gpa for link address dest."""
        pa = self._physical(gpa)
        held = self.gathering.pop(vm.id, None)
        dst = self.vm_at(dest)
        err = 0
        empty = n == 0 and not flags & MORE and (held is None or held[1].length == 0)
        if flags & ~MORE or pa is None or n < 0 or pa + n > vm.pmap.npages * PAGE or empty:
            err = E_BUFFER
        elif dst is None:
            err = E_DEST
        elif held is not None and held[0] != dst.id:
            err = E_PIECE
        if err:
            if held is not None:
                self._unpin(held[1])
            self.stats(vm).errors += 1
            return err
        assert dst is not None and pa is not None
        msg = held[1] if held is not None else Message(self.address(vm))
        self._gather(vm, msg, pa, n, cpu)
        if msg.length > dst.pmap.npages * PAGE:
            self._unpin(msg)
            self.stats(vm).errors += 1
            return E_TOOBIG
        if flags & MORE:
            self.gathering[vm.id] = (dst.id, msg)
            return 0
        q = self.queues.setdefault(dst.id, deque())
        queued = self.queued_bytes.get(dst.id, 0)
        if len(q) >= self.max_messages or queued + msg.length > dst.pmap.npages * PAGE:
            self._unpin(msg)
            self.stats(vm).dropped += 1
            self._event(cpu, EventKind.NET_DROP, vm, dest=dest,
                        reason="the receiver's queue is full")
            return E_FULL
        q.append(msg)
        self.queued_bytes[dst.id] = queued + msg.length
        self.stats(vm).sent += 1
        self._event(cpu, EventKind.NET_SEND, vm, dest=dest, length=msg.length,
                    pages=sum(isinstance(c, int) for c in msg.chunks))
        self.ctx.post_interrupt(dst.vcpus[0], NET_LINE)
        return 0

    def recv(self, vm: VM, gpa: int, n: int, cpu: Cpu | None = None) -> int:
        """NET_RECV: up to n bytes of the head message into guest-physical gpa."""
        pa = self._physical(gpa)
        if pa is None or n < 0 or pa + n > vm.pmap.npages * PAGE:
            self.stats(vm).errors += 1
            return E_BUFFER
        gpa = pa
        q = self.queues.get(vm.id)
        if not q:
            return E_EMPTY
        msg = q[0]
        pm = vm.pmap
        done = 0
        while done < n and msg.chunks:
            chunk = msg.chunks[0]
            at = gpa + done
            if isinstance(chunk, int) and msg.offset == 0 and at % PAGE == 0 and \
                    n - done >= PAGE and self.remap:
                pm.share_from(at // PAGE, chunk)  # the receiver's half of share_page
                self._event(cpu, EventKind.SHARE, vm, pa=at, ma=chunk << 12,
                            reason=f"network message from {msg.source:#010x}")
                self._drop_pin(chunk)
                self._charge(cpu, vm, _NET_REMAP, self.ctx.costs.net_remap_page)
                self.stats(vm).remapped_pages += 1
                msg.chunks.popleft()
                done += PAGE
                continue
            size = PAGE if isinstance(chunk, int) else len(chunk)
            k = min(size - msg.offset, n - done, PAGE - at % PAGE)
            if isinstance(chunk, int):
                data = self.ctx.machine.read_phys((chunk << 12) + msg.offset, k)
            else:
                data = chunk[msg.offset:msg.offset + k]
            if at // PAGE in pm.readonly:
                pm.break_sharing(at // PAGE)  # a "DMA" into a shared page is a store
            pm.write(at, data)
            self._copied(cpu, vm, k)
            msg.offset += k
            done += k
            if msg.offset == size:
                msg.chunks.popleft()
                msg.offset = 0
                if isinstance(chunk, int):
                    self._drop_pin(chunk)
        msg.length -= done
        self.queued_bytes[vm.id] -= done
        if not msg.chunks:
            q.popleft()
            self.stats(vm).received += 1
        return done

    def peek(self, vm: VM, what: int) -> int:
        """NET_PEEK: the head message's remaining length or source, or the queue length."""
        q = self.queues.get(vm.id)
        if what == PEEK_COUNT:
            return len(q) if q else 0
        if what not in (PEEK_LENGTH, PEEK_SOURCE):
            return E_BUFFER
        if not q:
            return E_EMPTY
        return q[0].length if what == PEEK_LENGTH else q[0].source

    def forget(self, vm: VM) -> None:
        """The VM stops or restarts: its queue and any half-gathered message go."""
        for m in self.queues.pop(vm.id, ()):
            self._unpin(m)
        self.queued_bytes.pop(vm.id, None)
        held = self.gathering.pop(vm.id, None)
        if held is not None:
            self._unpin(held[1])
        for sender, (dest, m) in list(self.gathering.items()):
            if dest == vm.id:
                del self.gathering[sender]
                self._unpin(m)

    # ---- internals -------------------------------------------------------------------------

    @staticmethod
    def _physical(addr: int) -> int | None:
        """A guest-physical address, or a relocated-kseg0 VA for one; None otherwise."""
        if _SSEG <= addr < _SSEG_END:
            return addr - _SSEG
        return addr if addr < _SSEG else None

    def _gather(self, vm: VM, msg: Message, gpa: int, n: int, cpu: Cpu | None) -> None:
        """Add n bytes at gpa to msg: whole aligned pages pinned, the rest copied."""
        end = gpa + n
        pm = vm.pmap
        while gpa < end:
            if gpa % PAGE == 0 and end - gpa >= PAGE and self.remap:
                gpn = gpa // PAGE
                mpn = pm.make_readonly(gpn)  # the sender's half of Monitor.share_page
                self._pins += 1
                self.ctx.memmap.add_user(mpn, _PIN, self._pins)
                self.ctx.memmap.entries[mpn].shared_readonly = True
                msg.chunks.append(mpn)
                self._charge(cpu, vm, _NET_PIN, self.ctx.costs.net_pin_page)
                self.stats(vm).remapped_pages += 1
                k = PAGE
            else:
                k = min(end - gpa, PAGE - gpa % PAGE)
                data = pm.read(gpa, k)
                last = msg.chunks[-1] if msg.chunks else None
                if isinstance(last, bytes) and len(last) + k <= PAGE:
                    msg.chunks[-1] = last + data
                else:
                    msg.chunks.append(data)
                self._copied(cpu, vm, k)
            msg.length += k
            gpa += k

    def _event(self, cpu: Cpu | None, kind: EventKind, vm: VM, **data: object) -> None:
        cycle = cpu.cycles if cpu is not None else self.ctx.machine_cycles()
        self.ctx.events.emit(kind, cycle, vm=vm.id, cpu=cpu.index if cpu else None, **data)

    def _drop_pin(self, mpn: int) -> None:
        """Drop one of the monitor's references to a queued machine page."""
        mm = self.ctx.memmap
        e = mm.entries[mpn]
        pin = next(u for u in sorted(e.users) if u[0] == _PIN)
        if mm.remove_user(mpn, *pin):
            mm.free(mpn)

    def _unpin(self, msg: Message) -> None:
        for c in msg.chunks:
            if isinstance(c, int):
                self._drop_pin(c)
        msg.chunks.clear()

    def _copied(self, cpu: Cpu | None, vm: VM, k: int) -> None:
        self.stats(vm).copied_bytes += k
        # the copy loop's instructions and its misses on both pages (costs.page_traffic)
        per_page = self.ctx.costs.net_copy_page + page_traffic(self.ctx.machine, 2)
        self._charge(cpu, vm, _NET_COPY, -(-k * per_page // PAGE))

    def _charge(self, cpu: Cpu | None, vm: VM, kind: StatKind, cycles: int) -> None:
        vm.stats.add(kind, cycles)
        if cpu is not None and cycles:
            cpu.charge(cycles)

    # ---- state ---------------------------------------------------------------------------

    def state(self) -> Section:
        """The queues and half-gathered messages (pinned pages by machine page number,
        their pins are memmap users), the per-VM counters."""
        return sections.make(
            SECTION, VERSION, max_messages=self.max_messages, remap=self.remap,
            pins=self._pins,
            queues=[[dest, [_message_state(m) for m in q]] for dest, q in self.queues.items()],
            queued_bytes=[[dest, n] for dest, n in self.queued_bytes.items()],
            gathering=[[sender, dest, _message_state(m)]
                       for sender, (dest, m) in self.gathering.items()],
            counters=[[vm_id, asdict(c)] for vm_id, c in self.counters.items()])

    def load_state(self, section: Section) -> None:
        sec = sections.check(section, SECTION, VERSION, "max_messages", "remap", "pins",
                             "queues", "queued_bytes", "gathering", "counters")
        with sections.loading(SECTION):
            self.max_messages = int(sec["max_messages"])
            self.remap = bool(sec["remap"])
            self._pins = int(sec["pins"])
            self.queues = {int(d): deque(_message(m) for m in q) for d, q in sec["queues"]}
            self.queued_bytes = {int(d): int(n) for d, n in sec["queued_bytes"]}
            self.gathering = {int(s): (int(d), _message(m)) for s, d, m in sec["gathering"]}
            self.counters = {int(i): NetCounters(**{k: int(n) for k, n in c.items()})
                             for i, c in sec["counters"]}


def _message_state(m: Message) -> dict[str, Any]:
    return {"source": m.source, "length": m.length, "offset": m.offset,
            "chunks": [c if isinstance(c, int) else bytes(c) for c in m.chunks]}


def _message(d: dict[str, Any]) -> Message:
    chunks: deque[int | bytes] = deque(
        int(c) if isinstance(c, int) else bytes(c) for c in d["chunks"])
    return Message(int(d["source"]), chunks, int(d["length"]), int(d["offset"]))
