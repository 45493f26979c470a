"""The ccNUMA fabric on known access patterns (docs/fabric.md)."""

from __future__ import annotations

import pytest

from disco_core.errors import ConfigError
from disco_core.guest import assemble
from disco_core.machine import ExitReason, MissClass
from disco_core.presets import PRESETS, preset
from disco_core.testmachine import TestMachine
from tests.core.test_machine import smp_machine

MAIN = 0x80001000
MiB = 1 << 20
HALT = """
    lui $t9, 0xbfd0
    sw $zero, 0x10($t9)
9:  b 9b
    nop
"""


def stream(base: int, size: int, store: bool = False) -> str:
    op = "sw $t2, 0($t0)" if store else "lw $t2, 0($t0)"
    return f"""
    .set noreorder
    li $t0, {base:#x}
    li $t1, {base + size:#x}
1:  {op}
    addiu $t0, $t0, 128
    bne $t0, $t1, 1b
    nop
""" + HALT


def machine(name: str, program: str, **fields: object) -> TestMachine:
    tm = TestMachine(config=preset(name, **fields))
    tm.write_phys(MAIN & 0x1FFFFFFF, assemble(program, base=MAIN))
    tm.cpus[0].pc = MAIN
    return tm


def run(tm: TestMachine, budget: int = 50_000_000) -> None:
    result = tm.run_program(budget)
    assert result.reason == ExitReason.HALT, result


def test_streaming_remote_memory_costs_the_configured_ratio() -> None:
    size = 4 * MiB  # four times the L2: every line misses
    local = machine("flash8", stream(0x80100000, size))
    remote = machine("flash8", stream(0x80000000 + 32 * MiB, size))  # node 1's memory
    run(local)
    run(remote)
    sl, sr = (tm.cpus[0].stats() for tm in (local, remote))
    assert sl["misses"]["local"] >= size // 128 and sl["misses"]["remote"] == 0
    assert sr["misses"]["remote"] >= size // 128
    ratio = sr["stall_cycles"] / sl["stall_cycles"]
    cfg = PRESETS["flash8"]
    assert ratio == pytest.approx(cfg.lat_remote / cfg.lat_local, rel=0.03)


def test_uma8_has_no_remote_penalty() -> None:
    local = machine("uma8", stream(0x80100000, 2 * MiB))
    remote = machine("uma8", stream(0x80000000 + 96 * MiB, 2 * MiB))
    run(local)
    run(remote)
    assert remote.cpus[0].stats()["stall_cycles"] == local.cpus[0].stats()["stall_cycles"]
    assert remote.cpus[0].stats()["misses"]["remote"] > 0


def test_second_pass_hits_in_l2() -> None:
    tm = machine("flash8", f"""
        .set noreorder
        li $t3, 2
    0:  li $t0, 0x80100000
        li $t1, 0x80100000 + {512 * 1024}
    1:  lw $t2, 0($t0)
        addiu $t0, $t0, 128
        bne $t0, $t1, 1b
        nop
        addiu $t3, $t3, -1
        bnez $t3, 0b
        nop
    """ + HALT)
    run(tm)
    misses = tm.cpus[0].stats()["misses"]
    lines = 512 * 1024 // 128
    assert misses["local"] == pytest.approx(lines, abs=64)  # data, plus a few code lines
    assert misses["l2_hit"] >= lines - 64  # the 32 KiB L1 keeps only the tail


def test_page_counters_count_misses_per_node_exactly() -> None:
    # CPU 0 (node 0) touches 7 lines of page 0x300; CPU 1 (node 1) 5 lines of page 0x301
    tm = machine("flash8", """
        .set noreorder
        lui $t9, 0xbfd0
        la $t0, worker
        sw $t0, 0x20($t9)
        li $t0, 1
        sw $t0, 0x2c($t9)               # start CPU 1
        li $t0, 0x80300000
        li $t1, 7
    1:  lw $t2, 0($t0)
        addiu $t1, $t1, -1
        bnez $t1, 1b
        addiu $t0, $t0, 128
        la $t3, done
    2:  lw $t4, 0($t3)
        beqz $t4, 2b
        nop
    """ + HALT + """
    worker:
        li $t0, 0x80301000
        li $t1, 5
    3:  lw $t2, 0($t0)
        addiu $t1, $t1, -1
        bnez $t1, 3b
        addiu $t0, $t0, 128
        la $t3, done
        li $t4, 1
        sw $t4, 0($t3)
    4:  b 4b
        nop
        .align 7
    done: .word 0
    """)
    run(tm)
    counters = tm.miss_counters()
    assert counters.shape == (tm.ram_bytes // 4096, 8)
    assert counters[0x300].tolist() == [7, 0, 0, 0, 0, 0, 0, 0]
    assert counters[0x301].tolist() == [0, 5, 0, 0, 0, 0, 0, 0]
    tm.reset_miss_counters()
    assert int(tm.miss_counters().sum()) == 0


def test_ping_pong_line_shows_invalidations_and_dirty_misses() -> None:
    # CPUs 0 and 1 take turns incrementing one word: each write finds the line
    # dirty in the other CPU's cache
    turns = 50
    tm = machine("flash8", """
        .set noreorder
        lui $t9, 0xbfd0
        la $t0, player
        sw $t0, 0x20($t9)
        li $t0, 1
        sw $t0, 0x28($t9)               # arg: player 1
        sw $t0, 0x2c($t9)               # start CPU 1
        jal player
        li $a0, 0
    """ + HALT + f"""
    player:                             # a0 = my turn parity
        la $t0, shared
        li $t5, {2 * turns}
    1:  lw $t1, 0($t0)
        bgeu $t1, $t5, 3f
        nop
        andi $t2, $t1, 1
        bne $t2, $a0, 1b                # not my turn: spin
        nop
        addiu $t1, $t1, 1
        sw $t1, 0($t0)
        b 1b
        nop
    3:  bnez $a0, 3b                    # player 1 parks; player 0 returns
        nop
        jr $ra
        nop
        .align 7
    shared: .word 0
    """)
    run(tm)
    s0, s1 = tm.cpus[0].stats(), tm.cpus[1].stats()
    assert s0["misses"]["dirty"] >= turns - 2 and s1["misses"]["dirty"] >= turns - 2
    assert s0["invalidations"] >= turns - 2 and s1["invalidations"] >= turns - 2


def test_hot_page_report_fires_at_the_threshold() -> None:
    tm = machine("flash8", stream(0x80200000, 4096), hot_threshold=10)
    hot = []
    while True:
        ex = tm.run(1_000_000)
        if ex.reason != ExitReason.HOTPAGE:
            break
        hot += tm.hot_pages()
    assert ex.reason == ExitReason.HALT
    assert (0x200, 0, 10) in hot
    assert int(tm.miss_counters()[0x200, 0]) == 32  # every line of the page once


def test_uncached_accesses_bypass_the_caches() -> None:
    tm = machine("flash8", """
        .set noreorder
        li $t0, 0xA0200000              # kseg1: uncached
        lw $t1, 0($t0)
        lw $t1, 0($t0)
        lw $t1, 0($t0)
    """ + HALT)
    run(tm)
    s = tm.cpus[0].stats()
    assert s["misses"]["uncached"] == 3
    assert s["miss_cycles"]["uncached"] == 3 * PRESETS["flash8"].lat_local


def test_instruction_fetches_go_through_the_icache() -> None:
    tm = machine("flash8", stream(0x80100000, 4096))
    run(tm)
    s = tm.cpus[0].stats()
    assert s["ifetch_misses"] >= 1
    assert s["misses"]["local"] >= 32 + s["ifetch_misses"]


def test_fast_mode_charges_nothing_and_modes_switch_during_a_run() -> None:
    tm = machine("flash8", stream(0x80100000, 2 * MiB), timing=False)
    tm.run(20_000)
    assert tm.cpus[0].stats()["stall_cycles"] == 0
    assert tm.cpus[0].cycles == tm.cpus[0].instructions
    tm.timing = True
    tm.run(20_000)
    assert tm.cpus[0].stats()["stall_cycles"] > 0
    assert int(tm.miss_counters().sum()) > 0


def test_timing_mode_on_8_cpus_is_deterministic() -> None:
    results = []
    for _ in range(2):
        tm = smp_machine(config=preset("flash8", quantum=200))
        run(tm)
        results.append((tm.digest(), tuple(c.cycles for c in tm.cpus),
                        tm.miss_counters().tobytes(), tm.link_counters().tobytes()))
    assert results[0] == results[1]
    assert sum(c.stats()["stall_cycles"] for c in tm.cpus) > 0


def test_timing_snapshot_restore_continue_equals_uninterrupted() -> None:
    def fresh() -> TestMachine:
        return smp_machine(config=preset("flash8", quantum=200))

    straight = fresh()
    straight.run(5000)
    straight.run(5000)
    tm = fresh()
    tm.run(5000)
    blob = tm.snapshot()
    tm.run(1234)
    tm.restore(blob)
    tm.run(5000)
    assert tm.digest() == straight.digest()
    assert tm.miss_counters().tobytes() == straight.miss_counters().tobytes()
    assert [c.cycles for c in tm.cpus] == [c.cycles for c in straight.cpus]


def test_hypercube_hops_and_home_nodes() -> None:
    tm = TestMachine(config=preset("flash8"))
    assert [tm.hops(0, n) for n in range(8)] == [0, 1, 1, 2, 1, 2, 2, 3]
    assert tm.home_node(0) == 0 and tm.home_node(32 * MiB) == 1
    assert tm.home_node(8 * 32 * MiB - 1) == 7


def test_flash32_memory_continues_above_the_device_window() -> None:
    tm = TestMachine(config=preset("flash32"))
    assert tm.home_node(0x1EFFF000) == 15
    assert tm.home_node(0x20000000) == 15  # node 15's last 16 MiB lives up here
    assert tm.home_node(0x20000000 + 16 * MiB) == 16


@pytest.mark.parametrize(
    ("name", "fields", "words"),
    [("nope", {}, "no machine preset 'nope'"),
     ("flash8", {"cpus": 12}, "nodes = 8 does not fit 12 CPUs"),
     ("flash8", {"nodes": 0}, "nodes = 0"),
     ("flash8", {"lat_remote": -5}, "lat_remote = -5 is out of range"),
     ("flash8", {"ram_bytes": 8 * 32 * MiB + 4096}, "does not split into 8 nodes"),
     ("flash8", {"line_bytes": 100}, "line_bytes = 100"),
     ("flash8", {"l2_bytes": 64}, "l2_bytes = 64 is out of range"),
     ("flash8", {"l2_bytes": 768 * 1024}, "number of sets must be a power of two")],
)
def test_impossible_fabric_configurations_are_refused(name: str, fields: dict[str, object],
                                                      words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        TestMachine(config=preset(name, **fields))


def test_miss_classes_cover_the_enum() -> None:
    assert {c.name.lower() for c in MissClass} == {
        "l2_hit", "local", "remote", "dirty", "upgrade", "uncached"}


@pytest.mark.parametrize("slices", [[1, 2, 3, 50_000], [777] * 60, [12_345, 1, 30_000]])
def test_timing_mode_run_split_equals_run_whole(slices: list[int]) -> None:
    # stalls move time on inside a turn: the turn must end at the same instruction
    # however the host splits the run
    whole = smp_machine(config=preset("flash8", quantum=200))
    whole.run(sum(slices))
    split = smp_machine(config=preset("flash8", quantum=200))
    for s in slices:
        split.run(s)
    assert split.digest() == whole.digest()
    assert [c.cycles for c in split.cpus] == [c.cycles for c in whole.cpus]
    assert sum(c.stats()["stall_cycles"] for c in whole.cpus) > 0


def test_flush_caches_and_dirty_lines() -> None:
    """The monitor's page copies: dirty_lines sees lines a cache holds modified;
    flush_caches drops a range from every cache, so the next access misses to memory."""
    base = 0x80100000
    tm = machine("flash8", stream(base, 8192, store=True))
    run(tm)
    pa = base & 0x1FFFFFFF
    assert tm.dirty_lines(pa, 4096) == 32 and tm.dirty_lines(pa + 8192, 4096) == 0
    tm.flush_caches(pa, 4096)
    assert tm.dirty_lines(pa, 4096) == 0 and tm.dirty_lines(pa + 4096, 4096) == 32
    again = machine("flash8", stream(base, 4096))
    run(again)
    before = again.cpus[0].stats()["misses"]["local"]
    again.flush_caches(pa, 4096)
    again.clear_halt()
    again.cpus[0].pc = MAIN
    run(again)
    assert again.cpus[0].stats()["misses"]["local"] - before == 32  # all missed again
    with pytest.raises(Exception, match="not RAM"):
        tm.flush_caches(0x1F000000, 4096)
