"""Isolation through real guest execution: generated user- and supervisor-mode
instruction streams in several VMs under the monitor.

Each VM's guest kernel maps whatever its user program touches (its refill
handler turns any faulting page into one of its own guest-physical frames),
skips any instruction that faults, and returns from system calls. The user
program is a generated stream of stores of the VM's own tag to random
addresses, loads from random addresses whose values are stored back into the
VM's data (so a value read from another VM would be written where the scan
below finds it), system calls and privileged instructions, looping forever.
The streams run in small slices with the monitor's invariants checked after
every exit served in Python (every exit, when the C assists are off) in the
first slices and after each slice; at the end every machine page is scanned:
a page holding VM i's tag must be one of VM i's pages. Nothing here calls the
monitor's handlers; the guests' own execution drives every exit.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disco_core.machine import Machine
from disco_core.mips import PAGE_SIZE
from disco_core.monitor import Monitor, VMSpec
from tests.monitor import guests

TAG = 0x7A600000
VMS = 3
PAGES = 64
SLICE = 20_000
SLICES = 25
EXIT_CHECKED_SLICES = 2  # the first slices check the invariants after every exit

# Frames: 0x10-0x17 the user code (VA 0x00400000-0x00407FFF), 0x20-0x2F every other
# user page, by its VPN's low bits. KSU: user 0x10, supervisor 0x08; EXL set.
KERNEL = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    mtc0 $zero, $5
    li $t0, ASID
    mtc0 $t0, $10
    li $t0, STATUS
    mtc0 $t0, $12
    li $t0, 0x00400000
    mtc0 $t0, $14
    eret
    nop

    .org 0x1000             # refill: any page -> one of this VM's frames
    mfc0 $k0, $8
    srl $k0, $k0, 13        # VPN2 (an even/odd pair)
    sll $k0, $k0, 1
    li $k1, 0x400
    subu $k1, $k0, $k1
    sltiu $k1, $k1, 8
    beqz $k1, 1f
    andi $k0, $k0, 7
    b 2f
    addiu $k0, $k0, 0x10
1:  andi $k0, $k0, 0xE
    addiu $k0, $k0, 0x20
2:  sll $k0, $k0, 6
    ori $k0, $k0, (3 << 3) | 6
    mtc0 $k0, $2
    addiu $k0, $k0, 1 << 6
    mtc0 $k0, $3
    tlbwr
    eret
    nop

    .org 0x1180             # anything else: skip the instruction (or the branch)
    mfc0 $k0, $13
    mfc0 $k1, $14
    bltz $k0, 3f            # BD: skip the branch and its slot
    nop
    addiu $k1, $k1, 4
    mtc0 $k1, $14
    eret
    nop
3:  addiu $k1, $k1, 8
    mtc0 $k1, $14
    eret
    nop

    .org 0xF000             # user code, VA 0x00400000 (guest-physical 0x10000)
    li $s7, MYTAG
loop:
STREAM
    b loop
    nop
"""

BASES = (8, 9, 10, 11, 12)  # $t0-$t4 hold the stream's addresses


def _address(rng: random.Random) -> int:
    """Anywhere: kuseg above the code, sseg, the guest kernel's kseg, kseg0/1, kseg3."""
    region = rng.choice(["kuseg", "kuseg", "kuseg", "sseg", "kseg", "k0", "k3"])
    if region == "kuseg":
        va = rng.randrange(0x00408000, 0x7FFF0000)
    elif region == "sseg":
        va = rng.randrange(0xC0000000, 0xE0000000)
    elif region == "kseg":
        va = 0xC0000000 + rng.randrange(0, PAGES * PAGE_SIZE)
    elif region == "k0":
        va = rng.randrange(0x80000000, 0xC0000000)
    else:
        va = rng.randrange(0xE0000000, 0xFFFF0000)
    return va & ~3


def stream(seed: int, length: int) -> str:
    rng = random.Random(seed)
    lines: list[str] = []
    for base in BASES:
        lines.append(f"    li ${base}, {_address(rng):#x}")
    # One store that lands for sure, so every VM's tag is somewhere in its memory.
    lines += [f"    li $t7, {rng.randrange(0x00408000, 0x7FFF0000) & ~3:#x}", "    sw $s7, 0($t7)"]
    for _ in range(length):
        kind = rng.choice(["store", "store", "copy", "readdr", "syscall", "priv", "alu"])
        b = rng.choice(BASES)
        off = rng.randrange(-64, 64) * 4
        if kind == "store":
            lines.append(f"    sw $s7, {off}(${b})")
        elif kind == "copy":
            lines.append(f"    lw $t5, {off}(${b})")
            lines.append(f"    sw $t5, {rng.randrange(-64, 64) * 4}(${rng.choice(BASES)})")
        elif kind == "readdr":
            lines.append(f"    li ${b}, {_address(rng):#x}")
        elif kind == "syscall":
            lines.append("    syscall")
        elif kind == "priv":
            lines.append(rng.choice(["    tlbwr", "    mtc0 $zero, $12", "    mfc0 $t6, $12",
                                     "    eret", "    cache 0, 0($t0)", "    wait"]))
        else:
            lines.append(f"    addiu ${b}, ${b}, {rng.randrange(-8, 8) * PAGE_SIZE}")
    return "\n".join(lines)


def _build(i: int, seed: int, length: int, supervisor: bool) -> bytes:
    body = (KERNEL.replace("STREAM", stream(seed * 31 + i, length))
            .replace("MYTAG", hex(TAG | i)).replace("ASID", str(i + 1))
            .replace("STATUS", "0x0A" if supervisor else "0x12"))
    return guests.build(body, guests.DISCO_KB)


def _scan(m: Machine, mon: Monitor) -> tuple[list[str], set[int]]:
    """Problems (a VM's tag on a page not its own), and the VMs whose tag was seen."""
    problems = []
    seen: set[int] = set()
    tags = {(TAG | vm.id).to_bytes(4, "little"): vm.id for vm in mon.vms}
    for mpn in range(m.ram_bytes // PAGE_SIZE):
        page = m.read_phys(mpn * PAGE_SIZE, PAGE_SIZE)
        if not any(t in page for t in tags):
            continue
        owners = mon.memmap.owners(mpn)
        for word, vm_id in tags.items():
            found = any(page[k:k + 4] == word for k in range(0, PAGE_SIZE, 4))
            if found and vm_id not in owners:
                problems.append(f"machine page {mpn:#x} (owners {sorted(owners)}) holds "
                                f"VM {vm_id}'s tag")
            seen |= {vm_id} if found else set()
    return problems, seen


def _check_after_every_exit(mon: Monitor) -> tuple[list[int], object]:
    """Check the invariants after every exit the monitor serves in Python (the run
    loop looks `_on_exception` up on the instance at each run); returns a one-item
    counter of the exits checked and the unwrapped handler, to put back."""
    served = mon._on_exception
    checked = [0]

    def serve_and_check(ci: int, e: object) -> None:
        served(ci, e)  # type: ignore[arg-type]
        problems = mon.check_invariants()
        assert problems == [], f"after exit {checked[0]} (cpu {ci}, {e}): {problems}"
        checked[0] += 1

    mon._on_exception = serve_and_check  # type: ignore[method-assign]
    return checked, served


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**20), length=st.integers(20, 120),
       modes=st.lists(st.booleans(), min_size=VMS, max_size=VMS),
       assists=st.booleans())
def test_generated_guest_code_stays_in_its_vm(seed: int, length: int,
                                              modes: list[bool], assists: bool) -> None:
    # Without the C assists every exit is served in Python, so the invariants are
    # checked after every single exit; with them, after each one Python serves.
    m = Machine(cpus=2, ram_bytes=4 << 20, tlb_entries=16)
    mon = Monitor(m, timeslice_cycles=5_000, assists=assists)
    for i, supervisor in enumerate(modes):
        spec = VMSpec(f"vm{i}", memory_pages=PAGES,
                      image=[(guests.CODE_PA, _build(i, seed, length, supervisor))],
                      entry=guests.DISCO_KB + guests.CODE_PA)
        mon.start_vm(mon.create_vm(spec))
    checked, served = _check_after_every_exit(mon)
    for n in range(SLICES):
        if n == EXIT_CHECKED_SLICES:
            # A stream is a short loop: these slices ran it thousands of times with a
            # check after each exit (a check costs ~0.1 ms); the rest are checked per slice.
            mon._on_exception = served  # type: ignore[method-assign]
            assert checked[0] == mon.exits - mon.exits_in_c > 1000
        mon.run(SLICE)
        assert mon.check_invariants() == []
    stats = [vm.stats.by_category() for vm in mon.vms]
    # The streams really ran and exited: refills, reflected faults, privileged traps.
    assert all(s["l2tlb_refill"][0] + s["reflected"][0] > 0 for s in stats), stats
    problems, seen = _scan(m, mon)
    assert problems == []
    assert seen == {vm.id for vm in mon.vms}  # every VM's stores landed (in its own pages)
