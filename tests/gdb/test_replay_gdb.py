"""GDB on a replay: the real gdb-multiarch runs a recording backwards (disco_core.gdb.replayvm).

A short recording of two VMs of two vCPUs each (boot, then `ls` typed twice);
vm1 of it is served. Where GDB lands is checked against a brute-force forward
scan of the replay with the same breakpoint (every hit: the machine's
instruction count, the cycle, the pc and the vCPU).
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given

from disco_core.gdb import replayvm
from disco_core.gdb.client import RawClient
from disco_core.kernel import build_kernel
from disco_core.record.format import build_identity
from disco_core.record.recorder import RecordConfig, Recorder, new_session, point
from disco_core.record.replay import DEBUG_STOPS, Recording, Replayer
from disco_core.session import AddBreakpoint, FeedConsole, RemoveBreakpoint

from .conftest import (
    FUZZ_SETTINGS,
    GDB_TIMEOUT,
    answer_all,
    gdb_command,
    packet_lists,
    resynchronise,
)

ROOT = Path(__file__).resolve().parents[2]
VM = 1  # the VM served
PC = re.compile(r"\$\d+ = \(void \(\*\)\(\)\) (0x[0-9a-f]+)")
WHEN = re.compile(r"machine instructions (\d+), cycle (\d+)")
HIT = re.compile(r"Thread (\d) hit Breakpoint 1, kalloc \(\)")
NO_MORE = "No more reverse-execution history."


@dataclass(frozen=True)
class BruteHit:
    instructions: int
    cycles: int  # the furthest CPU's (recorder.point)
    pc: int
    thread: int  # the vCPU's GDB thread (its index + 1)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay-gdb") / "two-vms.rec"
    config = RecordConfig(vms=2, vcpus=2)
    session, base = new_session(config)
    recorder = Recorder(session, path, config, base, build_identity(), checkpoint_seconds=0.02)
    for i in range(6):
        if i in (2, 4):
            for g in session.guests:
                session.submit(FeedConsole(g.name, b"ls\n"))
        session.step_slice(500_000)
    recorder.close()
    session.close()
    return path


@pytest.fixture(scope="module")
def kernel_elf() -> Path:
    return build_kernel("disco")


@pytest.fixture(scope="module")
def break_kalloc(kernel_elf: Path, gdb_multiarch: str) -> int:
    """Where GDB's `break kalloc` goes (after the function's prologue)."""
    out = subprocess.run([gdb_multiarch, "-batch", "-nx", "-ex", f"file {kernel_elf}",
                          "-ex", "break kalloc"], capture_output=True, text=True,
                         timeout=GDB_TIMEOUT).stdout
    m = re.search(r"Breakpoint 1 at (0x[0-9a-f]+)", out)
    assert m, out
    return int(m.group(1), 16)


@pytest.fixture(scope="module")
def nfree(kernel_elf: Path, gdb_multiarch: str) -> int:
    """The address of kmem.nfree (which kalloc and kfree write)."""
    out = subprocess.run([gdb_multiarch, "-batch", "-nx", "-ex", f"file {kernel_elf}",
                          "-ex", "p/x &kmem.nfree"], capture_output=True, text=True,
                         timeout=GDB_TIMEOUT).stdout
    m = re.search(r"= (0x[0-9a-f]+)", out)
    assert m, out
    return int(m.group(1), 16)


@pytest.fixture(scope="module")
def kalloc_hits(recording: Path, break_kalloc: int) -> list[BruteHit]:
    """Every hit of `break kalloc` in vm1, replaying every run with it armed."""
    rp = Replayer(Recording.open(recording))
    try:
        s = rp.session
        vm = s.guests[VM].name
        address = break_kalloc
        s.submit(AddBreakpoint(address, None, vm))
        s.step_slice(0)
        hits = []
        for op in rp.recording.ops:
            if op[0] != "r":
                rp.step()
                continue
            _tag, budget, executed, kind = op
            left = executed if kind in DEBUG_STOPS else budget
            while True:
                r = s.run_once(left)
                left -= r.executed
                if r.kind != "breakpoint":
                    break
                if r.target >= 0 and r.pc == address and s.target.applies(None, vm, r.target):
                    ins, cyc = point(s)
                    v = s.target.vcpu(r.target)
                    hits.append(BruteHit(ins, cyc, r.pc, v.index + 1))
            rp.position += 1
        s.submit(RemoveBreakpoint(address, None, vm))
        s.step_slice(0)
    finally:
        rp.close()
    assert len(hits) >= 4 and {h.thread for h in hits} == {1, 2}
    return hits


@dataclass
class ReplayServed:
    served: replayvm.ReplayServed
    elf: Path
    gdb: str

    @property
    def port(self) -> int:
        return self.served.port

    @property
    def target(self) -> replayvm.ReplayVmTarget:
        return self.served.target

    def gdb_run(self, *commands: str, script: Path | None = None) -> str:
        args = gdb_command(self.gdb, self.elf, self.port, commands)
        if script is not None:
            args += ["-x", str(script)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=GDB_TIMEOUT * 4)
        return done.stdout + done.stderr


def _replay(recording: Path, kernel_elf: Path, gdb_multiarch: str) -> Iterator[ReplayServed]:
    served = replayvm.serve_replay(recording, 0, VM)
    stop = threading.Event()
    owner = threading.Thread(target=replayvm.run, args=(served, stop.is_set), daemon=True,
                             name="replay-owner")
    owner.start()
    try:
        yield ReplayServed(served, kernel_elf, gdb_multiarch)
    finally:
        stop.set()
        owner.join(30.0)
        served.close()


@pytest.fixture
def replay(recording: Path, kernel_elf: Path, gdb_multiarch: str) -> Iterator[ReplayServed]:
    """vm1 of the recording served from its start, by an owner thread of its own."""
    yield from _replay(recording, kernel_elf, gdb_multiarch)


@pytest.fixture(scope="module")
def fuzzed(recording: Path, kernel_elf: Path, gdb_multiarch: str) -> Iterator[ReplayServed]:
    yield from _replay(recording, kernel_elf, gdb_multiarch)


def whens(out: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in WHEN.findall(out)]


def pcs(out: str) -> list[int]:
    return [int(x, 16) for x in PC.findall(out)]


# ---- the real gdb-multiarch ------------------------------------------------------------------

def test_reverse_stepi_takes_back_exactly_one_instruction(replay: ReplayServed,
                                                          kalloc_hits: list[BruteHit]) -> None:
    out = replay.gdb_run("break kalloc", "continue", "p $pc", "monitor when",
                         "stepi", "p $pc", "monitor when",
                         "reverse-stepi", "p $pc", "monitor when",
                         "reverse-stepi", "p $pc", "monitor when",
                         "stepi", "p $pc", "monitor when", "kill")
    first = kalloc_hits[0]
    m = HIT.search(out)
    assert m and int(m.group(1)) == first.thread, out
    at_hit, stepped, back, back2, again = pcs(out)
    w = whens(out)
    assert at_hit == first.pc and w[0] == (first.instructions, first.cycles), out
    assert stepped == at_hit + 4, out  # kalloc's first instructions do not branch
    # reverse-stepi undoes the forward stepi: the same pc and the very same point
    assert back == at_hit and w[2] == w[0], out
    assert back2 != at_hit and w[3][0] < w[0][0], out
    assert again == at_hit and w[4] == w[0], out  # and stepi redoes it


def test_reverse_continue_lands_on_the_previous_hit(replay: ReplayServed,
                                                    kalloc_hits: list[BruteHit]) -> None:
    out = replay.gdb_run("break kalloc", "continue", "continue", "continue", "monitor when",
                         "reverse-continue", "p $pc", "monitor when",
                         "reverse-continue", "p $pc", "monitor when",
                         "reverse-continue", "p $pc", "monitor when", "kill")
    h = kalloc_hits
    w = whens(out)
    assert w[0] == (h[2].instructions, h[2].cycles), out
    assert w[1:] == [(h[1].instructions, h[1].cycles), (h[0].instructions, h[0].cycles),
                     w[3]], out
    stops = [int(t) for t in HIT.findall(out)]
    assert stops == [h[0].thread, h[1].thread, h[2].thread, h[1].thread, h[0].thread], out
    assert pcs(out)[:2] == [h[1].pc, h[0].pc], out
    # the first hit is the first: going back once more runs out of history
    assert out.count(NO_MORE) == 1 and out.rindex(NO_MORE) > out.rindex("Breakpoint 1, kalloc")
    assert w[3] < w[2], out


def test_no_more_history_at_either_end(replay: ReplayServed) -> None:
    out = replay.gdb_run("reverse-continue", "reverse-stepi", "p $pc", "monitor when",
                         "continue", "monitor when", "continue", "kill")
    assert out.count(NO_MORE) == 4, out
    w = whens(out)
    assert w[0][0] < w[1][0], out  # the start, then the end of the recording
    ops = len(Recording.open(replay.served.target.rv.replayer.recording.path).ops)
    assert f"operation {ops} of {ops}" in out, out


def test_watch_then_reverse_continue_undoes_the_writes(replay: ReplayServed) -> None:
    out = replay.gdb_run("break kalloc", "continue", "delete", "watch kmem.nfree",
                         "continue", "monitor when", "continue", "monitor when",
                         "reverse-continue", "x/i $pc", "monitor when",
                         "reverse-continue", "x/i $pc", "monitor when", "kill")
    values = [(int(a), int(b)) for a, b in
              re.findall(r"Old value = (\d+)\s+New value = (\d+)", out)]
    assert len(values) == 4, out
    (a, b), (b2, c), back1, back2 = values
    assert b2 == b and a != b != c, out
    # backwards, GDB sees each write undone, the latest first
    assert back1 == (c, b) and back2 == (b, a), out
    assert re.findall(r"Thread (\d) hit Hardware watchpoint 2: kmem.nfree", out), out
    # ... standing at the store that wrote it (the value before it)
    stores = re.findall(r"=> 0x[0-9a-f]+ <(\w+)\+\d+>:\t(\w+)", out)
    assert len(stores) == 2 and all(op == "sw" for _, op in stores), out
    # the watchpoint's stop comes right after the store: one machine instruction back
    w = whens(out)
    assert [x[0] for x in w] == [w[0][0], w[1][0], w[1][0] - 1, w[0][0] - 1], out


def test_a_thread_other_than_vcpu0(replay: ReplayServed, kalloc_hits: list[BruteHit],
                                   tmp_path: Path) -> None:
    """Continue until vCPU 1 (thread 2) hits, then step it back and forth; the stops
    name thread 2, and reverse-continue the previous hit's own thread."""
    script = tmp_path / "thread2.gdb"
    script.write_text("break kalloc\ncontinue\nwhile $_thread != 2\n  continue\nend\n"
                      "info threads\np $pc\nmonitor when\n"
                      "reverse-stepi\np $pc\nmonitor when\n"
                      "stepi\np $pc\nmonitor when\n"
                      "reverse-continue\np $pc\nmonitor when\nkill\n")
    out = replay.gdb_run(script=script)
    k = next(i for i, h in enumerate(kalloc_hits) if h.thread == 2)
    hit, prev = kalloc_hits[k], kalloc_hits[k - 1]
    assert re.search(r"^\* 2 +Thread 1\.2 \(vm1 vcpu1 on cpu\d", out, re.M), out
    at, back, again, previous = pcs(out)
    w = whens(out)
    assert (at, w[0]) == (hit.pc, (hit.instructions, hit.cycles)), out
    assert back != at and w[1][0] < w[0][0], out
    assert again == at and w[2] == w[0], out
    assert (previous, w[3]) == (prev.pc, (prev.instructions, prev.cycles)), out
    assert int(HIT.findall(out)[-1]) == prev.thread, out


def test_reverse_stepi_of_a_thread_chosen_after_another_stopped(
        replay: ReplayServed, kalloc_hits: list[BruteHit], tmp_path: Path) -> None:
    """At a stop of thread 2, `thread 1` and reverse-stepi step thread 1 back, and the
    stop names it. (With scheduler locking GDB names the thread, Hc p1.1; without it
    GDB first steps the stopped thread over its breakpoint and then sends Hc0, leaving
    the choice to the server: docs/gdb.md.)"""
    script = tmp_path / "thread1.gdb"
    script.write_text("break kalloc\ncontinue\nwhile $_thread != 2\n  continue\nend\n"
                      "monitor when\nset scheduler-locking step\nthread 1\nreverse-stepi\n"
                      "info threads\nmonitor when\nkill\n")
    out = replay.gdb_run(script=script)
    hit = next(h for h in kalloc_hits if h.thread == 2)
    w = whens(out)
    assert w[0] == (hit.instructions, hit.cycles), out
    assert re.search(r"^\* 1 +Thread 1\.1 ", out, re.M), out
    assert "Switching to Thread 1.2" not in out.split("thread 1")[-1], out
    assert len(w) == 2 and w[1][0] < w[0][0], out


def test_disco_gdb_replay_command(recording: Path, gdb_multiarch: str) -> None:
    """`disco gdb --replay FILE --vm 1 -- GDB-ARGS` starts gdb-multiarch on the replay."""
    done = subprocess.run(
        [sys.executable, "-m", "disco_core.cli", "gdb", "--replay", str(recording), "--vm", "1",
         "--", "-batch", "-ex", "break kalloc", "-ex", "continue", "-ex", "reverse-continue",
         "-ex", "kill"],
        capture_output=True, text=True, timeout=GDB_TIMEOUT * 4, cwd=ROOT)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "serving vm1 of the replay" in out, out
    assert HIT.search(out) and NO_MORE in out, out


# ---- the protocol, with a raw client ------------------------------------------------------------

def _stop(reply: bytes) -> dict[str, str]:
    assert reply.startswith(b"T05"), reply
    return dict(f.split(":", 1) if ":" in f else (f, "")
                for f in reply[3:].decode().split(";") if f)


def test_bs_and_bc_over_the_protocol(replay: ReplayServed,
                                     kalloc_hits: list[BruteHit]) -> None:
    kalloc = f"{kalloc_hits[0].pc:x}".encode()
    with RawClient(replay.port) as c:
        features = c.ask(b"qSupported:multiprocess+;swbreak+")
        assert b"ReverseStep+" in features and b"ReverseContinue+" in features
        c.start_noack()
        assert c.ask(b"?").startswith(b"T05")
        # at the start, both ways back run out of history
        assert _stop(c.ask(b"bs"))["replaylog"] == "begin"
        assert _stop(c.ask(b"bc"))["replaylog"] == "begin"
        assert c.ask(b"Z0," + kalloc + b",4") == b"OK"
        hits = []
        for _ in range(3):
            f = _stop(c.ask(b"vCont;c"))
            assert "swbreak" in f and int(f["25"], 16).to_bytes(4, "little").hex() == \
                f"{kalloc_hits[len(hits)].pc:08x}"
            hits.append(f["thread"])
        assert hits == [f"p1.{h.thread}" for h in kalloc_hits[:3]]
        # bc back to the second hit, then to the first, then to the start
        for h in (kalloc_hits[1], kalloc_hits[0]):
            f = _stop(c.ask(b"bc"))
            assert f["thread"] == f"p1.{h.thread}" and "swbreak" in f
            assert WHEN.search(_monitor(c, "when")).groups() == (str(h.instructions),
                                                                 str(h.cycles))
        f = _stop(c.ask(b"bc"))
        assert f["replaylog"] == "begin"
        # the selected thread is the one a bs steps back (Hc), and the stop names it
        k = next(i for i, h in enumerate(kalloc_hits) if h.thread == 2)
        for _ in range(k + 1):
            f = _stop(c.ask(b"vCont;c"))
        assert f["thread"] == "p1.2"
        assert c.ask(b"Hcp1.1") == b"OK"
        f = _stop(c.ask(b"bs"))
        assert f["thread"] == "p1.1"
        assert c.ask(b"Hcp1.2") == b"OK"
        f = _stop(c.ask(b"bs"))
        assert f["thread"] == "p1.2"
        # writes would make the replay diverge: refused; reads work
        assert c.ask(b"Hgp1.2") == b"OK"
        assert c.ask(b"P1f=12345678").startswith(b"E")
        assert c.ask(b"M" + kalloc + b",4:00000000").startswith(b"E")
        assert len(c.ask(b"m" + kalloc + b",4")) == 8
        # forward to the end of the recording
        assert c.ask(b"z0," + kalloc + b",4") == b"OK"
        assert _stop(c.ask(b"vCont;c"))["replaylog"] == "end"
        c.send(b"vKill;1")


def _monitor(c: RawClient, command: str) -> str:
    c.send(b"qRcmd," + command.encode().hex().encode())
    text = ""
    while (r := c.reply()) != b"OK":
        assert r.startswith(b"O"), r
        text += bytes.fromhex(r[1:].decode()).decode()
    return text


def test_the_command_line_serves_a_recording(recording: Path, kernel_elf: Path,
                                             gdb_multiarch: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "disco_core.cli", "replay", str(recording),
                             "--gdb", "0", "--gdb-vm", "1"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        head = proc.stderr.readline() + proc.stderr.readline()
        m = re.search(r"target remote :(\d+)", head)
        assert m and "GDB server for vm1 of the replay" in head, head
        out = subprocess.run(gdb_command(gdb_multiarch, kernel_elf, int(m.group(1)),
                                         ("break kalloc", "continue", "reverse-stepi",
                                          "info threads", "kill")),
                             capture_output=True, text=True, timeout=GDB_TIMEOUT * 4).stdout
        assert HIT.search(out) and "vm1 vcpu1" in out, out
        assert proc.wait(timeout=30) == 0  # the kill ends the service
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("args, message", [
    (["--gdb", "0", "--gdb-vm", "7"], "there is no VM 7"),
    (["--gdb", "0", "--verify"], "--verify cannot be used with --gdb"),
    (["--gdb", "nonsense:port"], ""),
])
def test_bad_replay_gdb_options_get_one_line(recording: Path, args: list[str],
                                             message: str) -> None:
    done = subprocess.run([sys.executable, "-m", "disco_core.cli", "replay", str(recording), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr, lines


def test_a_detached_client_leaves_the_replay_where_it_was(replay: ReplayServed,
                                                          kalloc_hits: list[BruteHit]) -> None:
    kalloc = f"{kalloc_hits[0].pc:x}".encode()
    with RawClient(replay.port) as c:
        c.ask(b"qSupported:multiprocess+;swbreak+")
        c.ask(b"?")
        assert c.ask(b"Z0," + kalloc + b",4") == b"OK"
        _stop(c.ask(b"vCont;c"))
        assert c.ask(b"D;1") == b"OK"
    with RawClient(replay.port) as c:
        c.ask(b"qSupported:multiprocess+;swbreak+")
        assert c.ask(b"?").startswith(b"T05")
        h = kalloc_hits[0]
        assert WHEN.search(_monitor(c, "when")).groups() == (str(h.instructions),
                                                             str(h.cycles))
        # the first client's breakpoint went with it: on to the end
        assert _stop(c.ask(b"vCont;c"))["replaylog"] == "end"
        c.send(b"vKill;1")


def test_serving_from_a_cycle(recording: Path, kalloc_hits: list[BruteHit]) -> None:
    cycle = kalloc_hits[2].cycles
    served = replayvm.serve_replay(recording, 0, VM, at_cycle=cycle)
    try:
        text = served.target.monitor("when")
        m = WHEN.search(text)
        assert m and int(m.group(2)) <= cycle and int(m.group(1)) > kalloc_hits[0].instructions
        assert "when" in served.target.monitor("help")
    finally:
        served.close()


_SAFE = [b"?", b"g", b"G", b"p", b"P", b"m", b"M", b"X", b"Z0,", b"z0,", b"vCont?",
         b"vCont;", b"H", b"T", b"q", b"qRcmd,", b"qThreadExtraInfo,", b"s", b"c", b"b",
         b"v", b"\x03"]


@pytest.fixture(scope="module")
def fuzz_client(fuzzed: ReplayServed) -> Iterator[RawClient]:
    with RawClient(fuzzed.port, timeout=60.0) as c:
        c.start_noack()
        assert c.ask(b"?").startswith(b"T05")
        yield c


@FUZZ_SETTINGS
@given(packet_lists(_SAFE))
def test_random_packets_on_a_replay_always_get_an_answer(fuzz_client: RawClient,
                                                         packets: list[bytes]) -> None:
    answer_all(fuzz_client, packets + [b"bs", b"bc"])


def test_after_the_fuzzing_the_replay_is_still_exact(fuzzed: ReplayServed,
                                                     fuzz_client: RawClient,
                                                     kalloc_hits: list[BruteHit]) -> None:
    resynchronise(fuzz_client)
    assert fuzz_client.ask(b"D") == b"OK"  # the fuzzing's breakpoints go
    with RawClient(fuzzed.port) as c:
        c.ask(b"qSupported:multiprocess+;swbreak+")
        c.ask(b"?")
        assert _stop(c.ask(b"bc"))["replaylog"] == "begin"
        assert c.ask(b"Z0," + f"{kalloc_hits[0].pc:x}".encode() + b",4") == b"OK"
        assert _stop(c.ask(b"vCont;c"))["thread"] == f"p1.{kalloc_hits[0].thread}"
        assert WHEN.search(_monitor(c, "when")).groups() == (
            str(kalloc_hits[0].instructions), str(kalloc_hits[0].cycles))


def test_a_watchpoint_over_the_protocol(replay: ReplayServed, nfree: int) -> None:
    """The stop names the watched address (`watch:`) and the thread; a reverse-continue
    after a forward one comes back to the same write, and `bs` undoes it."""
    z2 = b"Z2,%x,4" % nfree
    with RawClient(replay.port) as c:
        c.ask(b"qSupported:multiprocess+;swbreak+")
        c.ask(b"?")
        assert c.ask(z2) == b"OK"
        f = _stop(c.ask(b"vCont;c"))
        assert f["watch"] == f"{nfree:x}" and f["thread"].startswith("p1.")
        written = WHEN.search(_monitor(c, "when")).groups()
        after = c.ask(b"m%x,4" % nfree)
        # GDB steps over the access with the watchpoint out: absorbed (it is done)
        assert c.ask(b"z2,%x,4" % nfree) == b"OK"
        assert "watch" not in _stop(c.ask(b"vCont;s:" + f["thread"].encode()))
        assert WHEN.search(_monitor(c, "when")).groups() == written
        assert c.ask(z2) == b"OK"
        # backwards: the same write (it ended here), then the step back over it
        g = _stop(c.ask(b"bc"))
        assert (g["watch"], g["thread"]) == (f["watch"], f["thread"])
        assert WHEN.search(_monitor(c, "when")).groups() == written
        assert c.ask(b"z2,%x,4" % nfree) == b"OK"
        assert c.ask(b"Hc" + f["thread"].encode()) == b"OK"
        _stop(c.ask(b"bs"))
        before = c.ask(b"m%x,4" % nfree)
        assert before != after
        instructions = int(WHEN.search(_monitor(c, "when")).group(1))
        assert instructions == int(written[0]) - 1
        c.send(b"vKill;1")


def test_steps_back_in_a_row_match_reverse_step(recording: Path,
                                                kalloc_hits: list[BruteHit]) -> None:
    """The target keeps the points a search found and only seeks for the next steps
    back: each lands where Reverse.reverse_step does, in the very same state."""
    from disco_core.gdb.target import PointKind, Resume, StopEvent, StopKind
    from disco_core.record.reverse import Reverse

    hit = next(h for h in kalloc_hits if h.thread == 2)
    served = replayvm.serve_replay(recording, 0, VM)
    check = Reverse(Replayer(Recording.open(recording)))
    try:
        t, rv = served.target, served.target.rv
        t.insert_point(PointKind.SOFTWARE, hit.pc, 4)
        while point(rv.session)[0] != hit.instructions:
            t.resume({1: Resume.CONTINUE, 2: Resume.CONTINUE})
            assert t.run_slice() and t.poll_stops()[0].kind == StopKind.BREAKPOINT
        t.remove_point(PointKind.SOFTWARE, hit.pc, 4)
        check.seek_point(rv.point)
        vcpu = t.vcpu_target(2)
        back = []
        for _ in range(8):
            t.reverse(2, True)
            t.run_slice()
            assert t.poll_stops() == [StopEvent(2, StopKind.STEP)]
            check.reverse_step(vcpu)
            assert rv.point == check.point and rv.digest() == check.digest()
            back.append(rv.point)
        assert back == sorted(back, reverse=True) and len(set(back)) == len(back)
    finally:
        check.replayer.close()
        served.close()
