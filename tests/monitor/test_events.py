"""The monitor's event log: bounded, counted, frequent kinds only while traced."""

from disco_core.monitor.events import EventLog


def test_frequent_kinds_are_counted_but_recorded_only_while_traced() -> None:
    log = EventLog()
    log.emit("tlbwr", 10, vm=0, cpu=1, va=0x400000, pa=0x5000, ma=0x9000, node=2)
    assert log.counts["tlbwr"] == 1 and not log.events
    assert not log.wants("tlbwr") and log.wants("migrate")
    log.trace()
    log.emit("tlbwr", 11, vm=0, cpu=1, va=0x400000, pa=0x5000, ma=0x9000, node=2)
    assert log.counts["tlbwr"] == 2
    (ev,) = log.events
    assert ev.text == "tlbwr VA 0x00400000 → PA 0x00005000 → MA 0x00009000 on node 2"


def test_since_returns_new_events_and_the_log_is_bounded() -> None:
    log = EventLog(capacity=3)
    for i in range(5):
        log.emit("migrate", i, vm=0, pa=i << 12, src=0, dst=1, reason="hot")
    assert [e.seq for e in log.events] == [2, 3, 4]
    assert [e.seq for e in log.since(0)] == [2, 3, 4]
    assert [e.seq for e in log.since(4)] == [4]
    assert log.since(5) == []
    assert log.counts["migrate"] == 5
    assert "node 0 → node 1 (hot)" in log.events[0].text


def test_an_unknown_kind_or_missing_field_still_has_a_text() -> None:
    log = EventLog()
    log.emit("custom", 1, what=3)
    log.emit("migrate", 2, pa=0)
    assert log.events[0].text == "custom {'what': 3}"
    assert log.events[1].text.startswith("migrate")
