"""The GDB remote serial protocol without sockets: framing, packet parsing, replies.

Everything here is a pure function or a small stateful decoder, so it is tested
byte by byte (tests/gdb/test_protocol.py) and fuzzed. The wire format is GDB's
"Remote Protocol" appendix: `$payload#cc` where cc is the modulo-256 sum of the
payload in two hex digits, `+`/`-` acknowledgements until QStartNoAckMode, a bare
0x03 byte for Ctrl-C, run-length encoding (`c*n`: n - 29 more copies of c) and
`}`-escapes (the byte XOR 0x20) in binary data.
"""

from __future__ import annotations

import enum
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PACKET_SIZE = 0x4000  # the largest packet we accept or send, as qSupported announces it
INTERRUPT = 0x03  # Ctrl-C: sent out of band, outside any packet
ESCAPE = 0x7D  # '}'
_SPECIAL = frozenset(b"$#}*")  # bytes that must be escaped in binary data


class ProtocolError(ValueError):
    """A packet that is not well formed; the server answers it with an error reply."""


# ---- framing ------------------------------------------------------------------


def checksum(payload: bytes) -> int:
    return sum(payload) & 0xFF


def frame(payload: bytes) -> bytes:
    """`$payload#cc`. Payloads we build never contain `$` or `#` unescaped."""
    return b"$" + payload + b"#" + b"%02x" % checksum(payload)


def escape_binary(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if b in _SPECIAL:
            out += bytes((ESCAPE, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape_binary(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == ESCAPE:
            nxt = next(it, None)
            if nxt is None:
                raise ProtocolError("binary data ends in the middle of an escape")
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def rle_decode(payload: bytes, limit: int = PACKET_SIZE) -> bytes:
    """Expand `c*n` runs (n - 29 more copies of c); refuse output longer than `limit`."""
    if b"*" not in payload:
        return payload
    out = bytearray()
    i = 0
    while i < len(payload):
        b = payload[i]
        if b == 0x2A:  # '*'
            if not out or i + 1 >= len(payload):
                raise ProtocolError("a run-length '*' needs a byte before and a count after")
            count = payload[i + 1] - 29
            if count < 0:
                raise ProtocolError(f"run-length count byte {payload[i + 1]:#x} is below 29")
            out += bytes((out[-1],)) * count
            i += 2
        else:
            out.append(b)
            i += 1
        if len(out) > limit:
            raise ProtocolError(f"the packet expands beyond {limit} bytes")
    return bytes(out)


class FrameKind(enum.Enum):
    PACKET = "packet"  # a well-formed packet; .payload is RLE-expanded
    ACK = "ack"  # '+'
    NAK = "nak"  # '-': resend the last packet
    INTERRUPT = "interrupt"  # Ctrl-C
    BAD_CHECKSUM = "bad-checksum"
    OVERLONG = "overlong"  # longer than the limit: discarded whole
    MALFORMED = "malformed"  # bad run-length encoding


@dataclass(frozen=True)
class Frame:
    kind: FrameKind
    payload: bytes = b""


class PacketReader:
    """Splits the byte stream from a client into frames.

    Feed it whatever the socket returned; it keeps a partial packet between
    calls. Bytes outside a packet other than `+`, `-` and 0x03 are line noise
    and dropped. A packet longer than `limit` is discarded up to its `#cc` and
    reported once as OVERLONG, so a client cannot make us buffer without bound.
    """

    def __init__(self, limit: int = PACKET_SIZE) -> None:
        self.limit = limit
        self._buf = bytearray()
        self._in_packet = False
        self._overlong = False
        self._sum: bytearray | None = None  # the checksum digits once '#' is seen

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        pos = 0
        while pos < len(data):
            if not self._in_packet and data[pos] == 0x24:  # '$': the whole packet at once?
                end = data.find(b"#", pos + 1)
                if 0 <= end <= pos + 1 + self.limit and end + 3 <= len(data) \
                        and data.find(b"$", pos + 1, end) < 0:
                    self._buf[:] = data[pos + 1 : end]
                    self._sum = bytearray(data[end + 1 : end + 3])
                    self._overlong = False
                    frames.append(self._finish())
                    pos = end + 3
                    continue
            if self._in_packet and self._sum is None and not self._overlong:
                # The body of a packet in one slice, up to its '#' (or a restarting '$').
                end = len(data)
                for stop in (data.find(b"#", pos), data.find(b"$", pos)):
                    if stop >= 0:
                        end = min(end, stop)
                take = min(end, pos + self.limit - len(self._buf))
                if take > pos:
                    self._buf += data[pos:take]
                    pos = take
                    continue
            frame_ = self._byte(data[pos])
            pos += 1
            if frame_ is not None:
                frames.append(frame_)
        return frames

    def _byte(self, b: int) -> Frame | None:
        if not self._in_packet:
            if b == 0x24:  # '$'
                self._in_packet, self._overlong, self._sum = True, False, None
                self._buf.clear()
            elif b == 0x2B:
                return Frame(FrameKind.ACK)
            elif b == 0x2D:
                return Frame(FrameKind.NAK)
            elif b == INTERRUPT:
                return Frame(FrameKind.INTERRUPT)
            return None
        if self._sum is not None:
            self._sum.append(b)
            if len(self._sum) < 2:
                return None
            return self._finish()
        if b == 0x23:  # '#'
            self._sum = bytearray()
        elif b == 0x24:  # a '$' inside a packet: the client started over
            self._buf.clear()
            self._overlong = False
        elif len(self._buf) >= self.limit:
            self._overlong = True
        else:
            self._buf.append(b)
        return None

    def _finish(self) -> Frame:
        assert self._sum is not None
        digits, payload = bytes(self._sum), bytes(self._buf)
        self._in_packet, self._sum = False, None
        self._buf.clear()
        if self._overlong:
            return Frame(FrameKind.OVERLONG)
        try:
            good = int(digits, 16) == checksum(payload)
        except ValueError:
            good = False
        if not good:
            return Frame(FrameKind.BAD_CHECKSUM)
        try:
            return Frame(FrameKind.PACKET, rle_decode(payload, self.limit))
        except ProtocolError:
            return Frame(FrameKind.MALFORMED)


# ---- hex and thread ids ---------------------------------------------------------


_HEX = re.compile(rb"[0-9a-fA-F]{1,16}")


def hex_int(text: bytes, what: str = "number") -> int:
    if _HEX.fullmatch(text) is None:  # int() alone would take "0x", "_", "+" and spaces
        raise ProtocolError(f"{what} {text!r} is not a hex number of at most 16 digits")
    return int(text, 16)


def hex_bytes(text: bytes, what: str = "data") -> bytes:
    try:
        return bytes.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError(f"{what} is not an even number of hex digits") from None


def reg_hex(value: int) -> bytes:
    """A 32-bit register in target byte order (little-endian: mipsel)."""
    return (value & 0xFFFFFFFF).to_bytes(4, "little").hex().encode()


def regs_hex(values: Sequence[int]) -> bytes:
    """A `g` reply: every register, 32-bit little-endian, in order."""
    return struct.pack(f"<{len(values)}I", *(v & 0xFFFFFFFF for v in values)).hex().encode()


def reg_value(text: bytes) -> int:
    data = hex_bytes(text, "register value")
    if len(data) != 4:
        raise ProtocolError(f"a register value is 8 hex digits, not {len(text)}")
    return int.from_bytes(data, "little")


ALL = -1  # thread id -1: every thread
ANY = 0  # thread id 0: any thread


@dataclass(frozen=True)
class ThreadId:
    """A thread id as the client wrote it: `tid`, or `p<pid>.<tid>` (multiprocess)."""

    pid: int | None
    tid: int


def _id_part(text: bytes, what: str) -> int:
    if text == b"-1":
        return ALL
    return hex_int(text, what)


def parse_thread_id(text: bytes) -> ThreadId:
    if text.startswith(b"p"):
        pid_text, dot, tid_text = text[1:].partition(b".")
        pid = _id_part(pid_text, "process id")
        return ThreadId(pid, _id_part(tid_text, "thread id") if dot else ALL)
    return ThreadId(None, _id_part(text, "thread id"))


def format_thread_id(pid: int, tid: int, multiprocess: bool) -> bytes:
    if multiprocess:
        return b"p%x.%x" % (pid, tid)
    return b"%x" % tid


# ---- commands ---------------------------------------------------------------------


class PointType(enum.IntEnum):
    """Z/z packet types."""

    SOFTWARE = 0
    HARDWARE = 1
    WRITE = 2
    READ = 3
    ACCESS = 4


@dataclass(frozen=True)
class QuerySupported:
    features: tuple[str, ...]


@dataclass(frozen=True)
class StartNoAck:
    pass


@dataclass(frozen=True)
class ReadFeatures:
    annex: str
    offset: int
    length: int


@dataclass(frozen=True)
class HaltReason:
    pass


@dataclass(frozen=True)
class ReadRegisters:
    pass


@dataclass(frozen=True)
class WriteRegisters:
    values: tuple[int, ...]


@dataclass(frozen=True)
class ReadRegister:
    number: int


@dataclass(frozen=True)
class WriteRegister:
    number: int
    value: int


@dataclass(frozen=True)
class ReadMemory:
    address: int
    length: int


@dataclass(frozen=True)
class WriteMemory:
    address: int
    data: bytes


@dataclass(frozen=True)
class Point:
    insert: bool
    type: PointType
    address: int
    kind: int  # breakpoint kind (instruction size) or watched length


@dataclass(frozen=True)
class VContQuery:
    pass


class Action(enum.Enum):
    CONTINUE = "c"
    STEP = "s"
    STOP = "t"


@dataclass(frozen=True)
class VContAction:
    action: Action
    thread: ThreadId | None  # None: every thread no earlier action named


@dataclass(frozen=True)
class VCont:
    actions: tuple[VContAction, ...]


@dataclass(frozen=True)
class LegacyResume:
    """`c [addr]` / `s [addr]`: resume the thread selected by `Hc`."""

    action: Action
    address: int | None


@dataclass(frozen=True)
class Reverse:
    step: bool  # bs, else bc


@dataclass(frozen=True)
class SetThread:
    op: str  # 'g' (registers/memory) or 'c' (legacy resume)
    thread: ThreadId


@dataclass(frozen=True)
class ThreadAlive:
    thread: ThreadId


@dataclass(frozen=True)
class ThreadInfoFirst:
    pass


@dataclass(frozen=True)
class ThreadInfoNext:
    pass


@dataclass(frozen=True)
class CurrentThread:
    pass


@dataclass(frozen=True)
class ThreadExtraInfo:
    thread: ThreadId


@dataclass(frozen=True)
class MonitorCommand:
    text: str


@dataclass(frozen=True)
class Detach:
    pid: int | None


@dataclass(frozen=True)
class Kill:
    reply: bool  # vKill is answered with OK; a plain k is not answered


@dataclass(frozen=True)
class Attached:
    pass


@dataclass(frozen=True)
class SymbolLookup:
    pass


@dataclass(frozen=True)
class Unknown:
    """A packet we do not implement: the protocol's answer is an empty reply."""

    payload: bytes


Command = (
    QuerySupported | StartNoAck | ReadFeatures | HaltReason | ReadRegisters | WriteRegisters
    | ReadRegister | WriteRegister | ReadMemory | WriteMemory | Point | VContQuery | VCont
    | LegacyResume | Reverse | SetThread | ThreadAlive | ThreadInfoFirst | ThreadInfoNext
    | CurrentThread | ThreadExtraInfo | MonitorCommand | Detach | Kill | Attached | SymbolLookup
    | Unknown
)


def _addr_len(text: bytes) -> tuple[int, int]:
    addr, comma, length = text.partition(b",")
    if not comma:
        raise ProtocolError("expected ADDR,LENGTH")
    return hex_int(addr, "address"), hex_int(length, "length")


def _parse_registers(text: bytes) -> WriteRegisters:
    if len(text) % 8:
        raise ProtocolError("a G packet holds whole 32-bit registers (8 hex digits each)")
    return WriteRegisters(tuple(reg_value(text[i : i + 8]) for i in range(0, len(text), 8)))


def _parse_memory_write(text: bytes, binary: bool) -> WriteMemory:
    head, colon, data = text.partition(b":")
    if not colon:
        raise ProtocolError("expected ADDR,LENGTH:DATA")
    address, length = _addr_len(head)
    raw = unescape_binary(data) if binary else hex_bytes(data, "memory data")
    if len(raw) != length:
        raise ProtocolError(f"the packet says {length} bytes but carries {len(raw)}")
    return WriteMemory(address, raw)


def _parse_point(text: bytes, insert: bool) -> Point:
    fields = text.split(b";", 1)[0].split(b",")  # conditions after ';' are not supported
    if len(fields) != 3:
        raise ProtocolError("expected TYPE,ADDR,KIND")
    try:
        ptype = PointType(hex_int(fields[0], "type"))
    except ValueError:
        raise ProtocolError(f"breakpoint type {fields[0]!r} is not 0-4") from None
    return Point(insert, ptype, hex_int(fields[1], "address"), hex_int(fields[2], "kind"))


def _parse_vcont(text: bytes) -> VCont:
    actions = []
    for part in text.split(b";")[1:]:
        verb, colon, thread = part.partition(b":")
        letter = verb[:1]
        if letter not in (b"c", b"s", b"t", b"C", b"S") or (letter in b"cst" and len(verb) > 1):
            raise ProtocolError(f"vCont action {verb!r} is not c, s, t, CSIG or SSIG")
        # CSIG/SSIG resume with a signal to deliver: a guest has no signals from
        # us, so they resume like c and s.
        if letter in (b"C", b"S"):
            hex_int(verb[1:], "signal")
        actions.append(VContAction(Action(letter.lower().decode()),
                                   parse_thread_id(thread) if colon else None))
    if not actions:
        raise ProtocolError("vCont needs at least one action")
    return VCont(tuple(actions))


def _parse_query(payload: bytes) -> Command:
    name, _, rest = payload.partition(b":")
    if name == b"qSupported":
        return QuerySupported(tuple(f.decode("latin-1") for f in rest.split(b";") if f))
    if name == b"qXfer" and rest.startswith(b"features:read:"):
        annex, colon, span = rest[len(b"features:read:"):].partition(b":")
        if not colon:
            raise ProtocolError("expected qXfer:features:read:ANNEX:OFFSET,LENGTH")
        offset, length = _addr_len(span)
        return ReadFeatures(annex.decode("latin-1"), offset, length)
    if payload == b"qfThreadInfo":
        return ThreadInfoFirst()
    if payload == b"qsThreadInfo":
        return ThreadInfoNext()
    if payload == b"qC":
        return CurrentThread()
    if name == b"qThreadExtraInfo" or payload.startswith(b"qThreadExtraInfo,"):
        return ThreadExtraInfo(parse_thread_id(payload[len(b"qThreadExtraInfo,"):]))
    if payload.startswith(b"qRcmd,"):
        try:
            return MonitorCommand(hex_bytes(payload[6:], "monitor command").decode())
        except UnicodeDecodeError:
            raise ProtocolError("the monitor command is not UTF-8 text") from None
    if name == b"qAttached":
        return Attached()
    if name == b"qSymbol":
        return SymbolLookup()
    return Unknown(payload)


def parse(payload: bytes) -> Command:
    """One packet's payload (already RLE-expanded) as a command.

    Raises ProtocolError for a known packet that is malformed; an unknown packet
    is `Unknown`, which the server answers with an empty reply as the protocol asks.
    """
    if not payload:
        return Unknown(payload)
    head, rest = payload[:1], payload[1:]
    if head == b"q":
        return _parse_query(payload)
    if payload == b"QStartNoAckMode":
        return StartNoAck()
    if payload == b"?":
        return HaltReason()
    if payload == b"g":
        return ReadRegisters()
    if head == b"G":
        return _parse_registers(rest)
    if head == b"p":
        return ReadRegister(hex_int(rest, "register number"))
    if head == b"P":
        number, eq, value = rest.partition(b"=")
        if not eq:
            raise ProtocolError("expected Pn=VALUE")
        return WriteRegister(hex_int(number, "register number"), reg_value(value))
    if head == b"m":
        return ReadMemory(*_addr_len(rest))
    if head == b"M":
        return _parse_memory_write(rest, binary=False)
    if head == b"X":
        return _parse_memory_write(rest, binary=True)
    if head in (b"Z", b"z"):
        return _parse_point(rest, insert=head == b"Z")
    if payload == b"vCont?":
        return VContQuery()
    if payload.startswith(b"vCont;") or payload == b"vCont":
        return _parse_vcont(payload)
    if head in (b"c", b"s"):
        return LegacyResume(Action(head.decode()), hex_int(rest, "address") if rest else None)
    if payload in (b"bc", b"bs"):
        return Reverse(step=payload == b"bs")
    if head == b"H" and rest[:1] in (b"g", b"c"):
        return SetThread(rest[:1].decode(), parse_thread_id(rest[1:]))
    if head == b"T":
        return ThreadAlive(parse_thread_id(rest))
    if head == b"D":
        if not rest:
            return Detach(None)
        if rest[:1] != b";":
            raise ProtocolError("expected D or D;PID")
        return Detach(hex_int(rest[1:], "process id"))
    if payload == b"k" or payload.startswith(b"vKill"):
        return Kill(reply=payload != b"k")
    return Unknown(payload)


# ---- replies -------------------------------------------------------------------------

OK = b"OK"
EMPTY = b""


class Errno(enum.IntEnum):
    """The error numbers of our `Enn` replies (GDB shows them, it does not act on them)."""

    MALFORMED = 0x01
    NO_THREAD = 0x02
    MEMORY = 0x0E  # EFAULT: an address the thread's translation does not map
    INVALID = 0x16  # EINVAL: a well-formed request the target refuses
    TOO_LONG = 0x22


def error(code: Errno) -> bytes:
    return b"E%02x" % int(code)


def hex_text(text: str) -> bytes:
    return text.encode().hex().encode()


def console_output(text: str) -> bytes:
    """An `O` packet: text GDB prints on its console (qRcmd output)."""
    return b"O" + hex_text(text)


def xfer_slice(document: bytes, offset: int, length: int) -> bytes:
    """qXfer reply: `m` and a part when more follows, `l` and the rest when it ends."""
    part = document[offset : offset + length]
    more = offset + length < len(document)
    return (b"m" if more else b"l") + escape_binary(part)


def thread_list(ids: Iterable[bytes]) -> bytes:
    joined = b",".join(ids)
    return b"m" + joined if joined else b"l"


def stop_reply(signal: int, fields: Iterable[tuple[bytes, bytes]]) -> bytes:
    """`TAAn1:r1;n2:r2;...`: a stop with the signal and its named fields."""
    return b"T%02x" % signal + b"".join(k + b":" + v + b";" for k, v in fields)
