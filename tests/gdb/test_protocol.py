"""The GDB protocol without sockets: framing, escapes, parsing, replies; fuzzed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disco_core.gdb import protocol as p
from disco_core.gdb.bare import BareTarget
from disco_core.gdb.features import DOCUMENTS
from disco_core.gdb.handler import Handler
from disco_core.gdb.target import REGISTER_COUNT
from disco_core.testmachine import TestMachine

# ---- framing --------------------------------------------------------------------


def test_frame_and_checksum() -> None:
    assert p.frame(b"OK") == b"$OK#9a"
    assert p.frame(b"") == b"$#00"
    assert p.checksum(b"qSupported") == 0x37


def test_reader_splits_packets_acks_and_interrupts() -> None:
    r = p.PacketReader()
    frames = r.feed(b"+$g#67-\x03junk$m0,4#fd")
    kinds = [f.kind for f in frames]
    assert kinds == [p.FrameKind.ACK, p.FrameKind.PACKET, p.FrameKind.NAK,
                     p.FrameKind.INTERRUPT, p.FrameKind.PACKET]
    assert frames[1].payload == b"g" and frames[4].payload == b"m0,4"


def test_reader_keeps_a_partial_packet_between_feeds() -> None:
    r = p.PacketReader()
    data = p.frame(b"qSupported:multiprocess+")
    out = [f for b in data for f in r.feed(bytes([b]))]
    assert out == [p.Frame(p.FrameKind.PACKET, b"qSupported:multiprocess+")]


def test_reader_rejects_a_bad_checksum() -> None:
    assert p.PacketReader().feed(b"$g#00") == [p.Frame(p.FrameKind.BAD_CHECKSUM)]
    assert p.PacketReader().feed(b"$g#zz") == [p.Frame(p.FrameKind.BAD_CHECKSUM)]


def test_reader_discards_an_overlong_packet_whole() -> None:
    r = p.PacketReader(limit=16)
    payload = b"M0,40:" + b"00" * 64
    assert r.feed(p.frame(payload)) == [p.Frame(p.FrameKind.OVERLONG)]
    assert r.feed(p.frame(b"g")) == [p.Frame(p.FrameKind.PACKET, b"g")]  # in step again


def test_run_length_decoding() -> None:
    assert p.rle_decode(b"0* ") == b"0000"  # ' ' is 32: three more
    assert p.rle_decode(b"ab*\"c") == b"abbbbbbc"
    with pytest.raises(p.ProtocolError):
        p.rle_decode(b"*!")
    with pytest.raises(p.ProtocolError):
        p.rle_decode(b"0*~" * 400, limit=1000)
    r = p.PacketReader()
    assert r.feed(p.frame(b"X0*\x1c"))[0].kind == p.FrameKind.MALFORMED  # count below 29


def test_binary_escapes_round_trip() -> None:
    data = bytes(range(256))
    escaped = p.escape_binary(data)
    assert not set(escaped) & set(b"$#*") and p.unescape_binary(escaped) == data
    with pytest.raises(p.ProtocolError):
        p.unescape_binary(b"ab}")


# ---- parsing --------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "command"), [
    (b"qSupported:multiprocess+;swbreak+;xmlRegisters=i386",
     p.QuerySupported(("multiprocess+", "swbreak+", "xmlRegisters=i386"))),
    (b"QStartNoAckMode", p.StartNoAck()),
    (b"qXfer:features:read:target.xml:0,ffb", p.ReadFeatures("target.xml", 0, 0xFFB)),
    (b"?", p.HaltReason()),
    (b"g", p.ReadRegisters()),
    (b"G0100000002000000", p.WriteRegisters((1, 2))),
    (b"p25", p.ReadRegister(0x25)),
    (b"P25=10000180", p.WriteRegister(0x25, 0x80010010)),
    (b"m80010000,40", p.ReadMemory(0x80010000, 0x40)),
    (b"M80012010,4:01020304", p.WriteMemory(0x80012010, b"\x01\x02\x03\x04")),
    (b"X80012010,2:}\x03}\x04", p.WriteMemory(0x80012010, b"#$")),
    (b"X80012010,0:", p.WriteMemory(0x80012010, b"")),
    (b"Z0,80010eb4,4", p.Point(True, p.PointType.SOFTWARE, 0x80010EB4, 4)),
    (b"z2,80012010,4", p.Point(False, p.PointType.WRITE, 0x80012010, 4)),
    (b"Z4,80012010,8;X1,0", p.Point(True, p.PointType.ACCESS, 0x80012010, 8)),
    (b"vCont?", p.VContQuery()),
    (b"vCont;s:p1.2;c", p.VCont((p.VContAction(p.Action.STEP, p.ThreadId(1, 2)),
                                 p.VContAction(p.Action.CONTINUE, None)))),
    (b"vCont;c:p1.-1", p.VCont((p.VContAction(p.Action.CONTINUE, p.ThreadId(1, -1)),))),
    (b"vCont;C05:2;t", p.VCont((p.VContAction(p.Action.CONTINUE, p.ThreadId(None, 2)),
                                p.VContAction(p.Action.STOP, None)))),
    (b"c", p.LegacyResume(p.Action.CONTINUE, None)),
    (b"s80010000", p.LegacyResume(p.Action.STEP, 0x80010000)),
    (b"bc", p.Reverse(step=False)),
    (b"bs", p.Reverse(step=True)),
    (b"Hgp1.2", p.SetThread("g", p.ThreadId(1, 2))),
    (b"Hc-1", p.SetThread("c", p.ThreadId(None, -1))),
    (b"Hg0", p.SetThread("g", p.ThreadId(None, 0))),
    (b"Tp1.1", p.ThreadAlive(p.ThreadId(1, 1))),
    (b"qfThreadInfo", p.ThreadInfoFirst()),
    (b"qsThreadInfo", p.ThreadInfoNext()),
    (b"qC", p.CurrentThread()),
    (b"qThreadExtraInfo,p1.2", p.ThreadExtraInfo(p.ThreadId(1, 2))),
    (b"qRcmd," + b"stats".hex().encode(), p.MonitorCommand("stats")),
    (b"D", p.Detach(None)),
    (b"D;1", p.Detach(1)),
    (b"k", p.Kill(reply=False)),
    (b"vKill;1", p.Kill(reply=True)),
    (b"qAttached:1", p.Attached()),
    (b"qSymbol::", p.SymbolLookup()),
    (b"qTStatus", p.Unknown(b"qTStatus")),
    (b"vMustReplyEmpty", p.Unknown(b"vMustReplyEmpty")),
])
def test_parse(payload: bytes, command: p.Command) -> None:
    assert p.parse(payload) == command


@pytest.mark.parametrize("payload", [
    b"m80010000", b"mzz,4", b"M0,4:0102", b"M0,2:0g0h", b"G123", b"P25", b"p",
    b"Z9,0,4", b"Z0,0", b"vCont;x", b"vCont", b"Hgpz.1", b"qRcmd,zz", b"D;q",
    b"qXfer:features:read:target.xml", b"m" + b"1" * 40 + b",4",
])
def test_malformed_packets_raise_protocol_errors(payload: bytes) -> None:
    with pytest.raises(p.ProtocolError):
        p.parse(payload)


def test_replies() -> None:
    assert p.error(p.Errno.MEMORY) == b"E0e"
    assert p.reg_hex(0x80010000) == b"00000180"  # little-endian target
    assert p.reg_value(b"00000180") == 0x80010000
    assert p.console_output("hi\n") == b"O68690a"
    assert p.xfer_slice(b"abcdef", 0, 4) == b"mabcd"
    assert p.xfer_slice(b"abcdef", 4, 4) == b"lef"
    assert p.xfer_slice(b"ab#", 0, 10) == b"lab}\x03"
    assert p.thread_list([b"p1.1", b"p1.2"]) == b"mp1.1,p1.2"
    assert p.format_thread_id(1, 2, multiprocess=True) == b"p1.2"
    assert p.format_thread_id(1, 2, multiprocess=False) == b"2"


def test_the_target_description_names_every_register_once() -> None:
    xml = DOCUMENTS["target.xml"].decode()
    for feature in ("cpu", "cp0", "fpu"):
        assert f'<feature name="org.gnu.gdb.mips.{feature}">' in xml
    numbers = [int(n) for n in __import__("re").findall(r'regnum="(\d+)"', xml)]
    assert sorted(numbers) == list(range(REGISTER_COUNT))
    assert 'bitsize="64"' not in xml


# ---- fuzzing ----------------------------------------------------------------------

_VERBS = [b"?", b"g", b"G", b"p", b"P", b"m", b"M", b"X", b"Z", b"z", b"vCont", b"vCont?",
          b"c", b"s", b"H", b"T", b"q", b"Q", b"qRcmd,", b"qXfer:features:read:", b"D",
          b"qThreadExtraInfo,", b"b", b"v"]
packets = st.one_of(
    st.binary(max_size=64),
    st.builds(lambda v, tail: v + tail, st.sampled_from(_VERBS), st.binary(max_size=40)),
    st.builds(lambda v, tail: v + tail.encode(), st.sampled_from(_VERBS),
              st.text("0123456789abcdef,:;.-p=", max_size=40)),
)


@pytest.fixture(scope="module")
def target() -> BareTarget:
    tm = TestMachine(cpus=2, ram_bytes=1 << 20)
    tm.write_phys(0x1000, b"\x00" * 64)  # nops, then "b 0x80001000; nop"
    tm.write_phys(0x1040, (0x1000FFEF).to_bytes(4, "little") + b"\x00" * 4)
    tm.cpus[0].pc = 0x80001000
    return BareTarget(tm, slice_size=1000)


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(packets, max_size=8))
def test_any_packet_gets_an_answer_or_a_stop(target: BareTarget, payloads: list[bytes]) -> None:
    handler = Handler(target)
    for payload in payloads:
        if handler.closed:  # detached or killed: the next client gets a new handler
            handler = Handler(target)
        try:
            replies = handler.handle(p.parse(payload))
        except p.ProtocolError:
            continue
        assert all(len(r) <= p.PACKET_SIZE for r in replies)
        if not replies and handler.running:
            target.run_slice()
            handler.interrupt()
            assert handler.poll() is not None
        assert replies or handler.closed or not handler.running or handler.poll() is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_the_reader_takes_any_bytes(data: bytes) -> None:
    r = p.PacketReader(limit=64)
    for f in r.feed(data):
        assert len(f.payload) <= 64


frames_and_noise = st.lists(st.one_of(
    st.builds(p.frame, st.binary(max_size=80)),
    st.binary(max_size=12),
    st.sampled_from([b"+", b"-", b"\x03", b"$", b"#", b"#0", b"}"])), max_size=12)


@settings(max_examples=300, deadline=None)
@given(frames_and_noise, st.integers(1, 7))
def test_the_reader_does_not_care_how_the_stream_is_cut(parts: list[bytes], cut: int) -> None:
    data = b"".join(parts)
    whole = p.PacketReader(limit=64).feed(data)
    pieces = p.PacketReader(limit=64)
    cut_up = [f for i in range(0, len(data), cut) for f in pieces.feed(data[i : i + cut])]
    assert whole == cut_up
