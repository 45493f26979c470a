"""What a recording keeps incrementally (docs/recording-format.md): the event log (a
keyframe's joined from the deltas before it) and the consoles' output; every checkpoint
read back holds exactly what the live session held when it was taken."""

from __future__ import annotations

from collections import deque

from disco_core.record import checkpoint as ck
from disco_core.record.format import build_identity, decode, encode
from disco_core.record.recorder import KEYFRAME_EVERY, RecordConfig, Recorder, new_session
from disco_core.record.replay import Recording
from disco_core.session import FeedConsole, RestartVm

CAPACITY = 40  # a small event log, so keyframes hold only its last events


def test_checkpoints_read_back_as_taken(tmp_path):
    path = tmp_path / "inc.rec"
    config = RecordConfig(vms=2)
    s, base = new_session(config)
    mon = s.monitor
    mon.events.capacity = CAPACITY
    mon.events.events = deque(mon.events.events, maxlen=CAPACITY)
    recorder = Recorder(s, path, config, base, build_identity(), checkpoint_seconds=1e9)
    taken = [ck.capture(s)]  # the recorder's first checkpoint is of this state
    try:
        for i in range(2 * KEYFRAME_EVERY + 3):
            if i % 5 == 2:
                s.submit(FeedConsole(s.guests[i % 2].name, b"ls\n"))
            if i == 20:
                s.submit(RestartVm("vm1"))
            s.step_slice(300_000)
            recorder.checkpoint()
            taken.append(ck.capture(s))
        recorder.close()
        taken.append(ck.capture(s))
        assert mon.events.seq > 3 * CAPACITY, "the log wrapped: keyframes were trimmed"
    finally:
        s.close()
    rec = Recording.open(path)
    assert len(rec.checkpoints) == len(taken)
    assert sum(e.keyframe for e in rec.checkpoints) >= 3
    for k, live in enumerate(taken):
        got = rec.load_checkpoint(k)
        want = decode(encode(live.monitor))
        assert got.monitor["events"] == want["events"], f"checkpoint {k}'s event log"
        assert len(got.monitor["events"]["events"]) <= CAPACITY
        for vm_got, vm_want in zip(got.monitor["vms"], want["vms"], strict=True):
            assert vm_got["vm"]["console_out"] == vm_want["vm"]["console_out"]
        assert ck.digest_parts(got) == ck.digest_parts(live) == rec.checkpoints[k].digest
    assert taken[-1].monitor["vms"][1]["vm"]["console_out"].count(b"init: starting sh") >= 2


def test_the_writer_thread_keeps_order_and_reports_failures(tmp_path, monkeypatch):
    import pytest

    from disco_core.record.format import ChunkWriter, RecordingError

    config = RecordConfig(vms=1)
    s, base = new_session(config)
    try:
        recorder = Recorder(s, tmp_path / "a.rec", config, base, build_identity(),
                            checkpoint_seconds=1e9)
        for _ in range(3):
            s.step_slice(200_000)
            recorder.checkpoint()
        recorder.flush()  # what was made so far is on disk, readable while it records
        live = Recording.open(tmp_path / "a.rec", partial=True)
        assert [e.index for e in live.checkpoints] == [0, 1, 2, 3]
        recorder.close()
        assert Recording.open(tmp_path / "a.rec").complete

        broken = Recorder(s, tmp_path / "b.rec", config, base, build_identity(),
                          checkpoint_seconds=1e9)

        def full(self, kind, payload, level=1):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(ChunkWriter, "write", full)
        # the failure surfaces at the next chunk queued or at close, whichever comes
        # first after the writer thread met it; either way, close leaves nothing running
        with pytest.raises(RecordingError, match="could not be written .*No space left"):
            s.step_slice(200_000)
            broken.checkpoint()
            broken.close()
        if not broken._closed:  # it surfaced at the checkpoint: close reports it again
            with pytest.raises(RecordingError, match="No space left"):
                broken.close()
        broken.close()  # closed: nothing more to report
        assert not broken._thread.is_alive()
        assert s.observer is not broken
    finally:
        s.close()
