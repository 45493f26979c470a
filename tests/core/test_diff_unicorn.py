"""Our CPU core against unicorn, instruction by instruction, on generated programs.

Every run compares at least 125,000 instructions: 25,000 for each fixed seed and
25,000 for a seed made from today's date, so coverage grows from day to day. A
failure names the seed and program; `python -m tests.core.diffrun --seed S
--program I` replays it with a full trace. The long run is the same comparison
as a command (see diffrun.py).
"""

from __future__ import annotations

import datetime
import random
from collections import Counter
from dataclasses import dataclass, field

import pytest

from tests.core.diffrun import (
    CODE_WINDOW,
    CoreSide,
    compare,
    compare_loops,
    random_word_program,
    reference_trace,
)
from tests.core.progen import (
    CODE_VA,
    DATA_SIZE,
    DATA_VA,
    PAGE,
    REQUIRED_MNEMONICS,
    ProgramGenerator,
)
from tests.core.unicorn_ref import (
    EXC_ADEL,
    EXC_ADES,
    EXC_BP,
    EXC_NAMES,
    EXC_OV,
    EXC_RI,
    EXC_SYS,
    EXC_TR,
    UnicornRef,
)

FIXED_SEEDS = (1, 2, 3, 4)
DATE_SEED = int(datetime.date.today().strftime("%Y%m%d"))
SEEDS = (*FIXED_SEEDS, DATE_SEED)
INSTRUCTIONS_PER_SEED = 25_000


@dataclass
class Coverage:
    """What a seed's programs executed in unicorn, by the generator's names."""

    mnemonics: Counter[str] = field(default_factory=Counter)
    faults: Counter[tuple[int, bool]] = field(default_factory=Counter)  # (ExcCode, BD)
    fetch_faults: int = 0
    instructions: int = 0


_coverage: dict[int, Coverage] = {}


def _programs(seed: int, ref: UnicornRef, generator: ProgramGenerator | None = None,
              instructions: int = INSTRUCTIONS_PER_SEED):
    """(program, unicorn trace) for programs 0, 1, ... until the seed's share is reached."""
    generator = generator or ProgramGenerator(seed)
    total = 0
    index = 0
    while total < instructions:
        program = generator.program(index)
        trace = reference_trace(ref, program)
        total += len(trace.steps)
        index += 1
        yield program, trace


def _count(coverage: Coverage, program, trace) -> None:
    coverage.instructions += len(trace.steps)
    for step in trace.steps:
        if step.word is not None:
            coverage.mnemonics[program.mnemonic_at(step.pc)] += 1
        if step.fault is not None:
            coverage.faults[step.fault.code, step.fault.bd] += 1
            coverage.fetch_faults += step.word is None


def coverage_of(seed: int) -> Coverage:
    """The seed's coverage: from the comparison if it ran, else from unicorn alone."""
    if seed not in _coverage:
        coverage = Coverage()
        for program, trace in _programs(seed, _reference()):
            _count(coverage, program, trace)
        _coverage[seed] = coverage
    return _coverage[seed]


def _reference() -> UnicornRef:
    return UnicornRef({CODE_VA: CODE_WINDOW, DATA_VA: DATA_SIZE})


@pytest.fixture(scope="module")
def core() -> CoreSide:
    return CoreSide()


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: f"seed{seed}")
def test_core_matches_unicorn(seed: int, core: CoreSide) -> None:
    coverage = Coverage()
    compared = 0
    for program, trace in _programs(seed, _reference()):
        compared += _compare_everywhere(program, trace, core)
        _count(coverage, program, trace)
    _coverage[seed] = coverage
    assert compared >= INSTRUCTIONS_PER_SEED, f"seed {seed}: only {compared} compared"


def _compare_everywhere(program, trace, core: CoreSide) -> int:
    """step() against unicorn, then one run() through every loop against step()."""
    outcome = compare(program, trace, core)
    if outcome.divergence is not None:
        pytest.fail(str(outcome.divergence), pytrace=False)
    problems = compare_loops(program, outcome, core)
    if problems:
        pytest.fail(f"seed {program.seed} program {program.index}: " + "; ".join(problems),
                    pytrace=False)
    return outcome.compared


STRADDLE_SEEDS = (11, 12)


@pytest.mark.parametrize("seed", STRADDLE_SEEDS, ids=lambda seed: f"seed{seed}")
def test_programs_across_page_boundaries_match_unicorn(seed: int, core: CoreSide) -> None:
    # Code on several pages, each program placed so that a branch's delay slot is the
    # first word of a page; some of those branches run.
    generator = ProgramGenerator(seed, length=1500, straddle=True)
    compared = crossings = slots_on_a_new_page = 0
    for program, trace in _programs(seed, _reference(), generator, 10_000):
        compared += _compare_everywhere(program, trace, core)
        pages = [step.pc // PAGE for step in trace.steps]
        crossings += sum(a != b for a, b in zip(pages, pages[1:], strict=False))
        slots_on_a_new_page += sum(s.delay_slot and s.pc % PAGE == 0 for s in trace.steps)
    assert compared >= 10_000
    assert crossings >= 10 and slots_on_a_new_page > 0, (crossings, slots_on_a_new_page)


def test_random_words_match_unicorn(core: CoreSide) -> None:
    # Random instruction words (progen.random_word): defined ones execute alike,
    # reserved encodings raise RI on both.
    rng = random.Random(DATE_SEED)
    bases = [ProgramGenerator(5).program(i) for i in range(20)]
    ref = _reference()
    reserved = 0
    for i in range(2_000):
        program = random_word_program(rng, bases[i % len(bases)], i)
        trace = reference_trace(ref, program)
        _compare_everywhere(program, trace, core)
        reserved += trace.steps[0].fault is not None and trace.steps[0].fault.code == EXC_RI
    assert reserved > 200, reserved


def test_generated_programs_execute_every_instruction() -> None:
    executed: Counter[str] = Counter()
    for seed in FIXED_SEEDS:
        executed += coverage_of(seed).mnemonics
    missing = sorted(REQUIRED_MNEMONICS - set(executed))
    assert not missing, f"seeds {FIXED_SEEDS} never execute {', '.join(missing)}"


def test_generated_programs_raise_every_exception() -> None:
    faults: Counter[tuple[int, bool]] = Counter()
    fetch_faults = 0
    for seed in FIXED_SEEDS:
        faults += coverage_of(seed).faults
        fetch_faults += coverage_of(seed).fetch_faults
    raised = {code for code, _ in faults}
    wanted = {EXC_ADEL, EXC_ADES, EXC_OV, EXC_TR, EXC_SYS, EXC_BP, EXC_RI}
    missing = sorted(EXC_NAMES[code] for code in wanted - raised)
    assert not missing, f"seeds {FIXED_SEEDS} never raise {', '.join(missing)}"
    in_delay_slot = {code for code, bd in faults if bd}
    assert {EXC_ADEL, EXC_ADES, EXC_OV} <= in_delay_slot, "too few exceptions in delay slots"
    assert fetch_faults, "no jump to a misaligned address"


def test_programs_are_reproducible() -> None:
    assert ProgramGenerator(7).program(3) == ProgramGenerator(7).program(3)
    assert ProgramGenerator(7).program(3) != ProgramGenerator(7).program(4)
