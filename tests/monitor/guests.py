"""Small guest kernels for the monitor tests, in MIPS assembly.

Each is written once with `{KB}` for the kernel segment base: 0xC0000000 under
the monitor (the relocated kseg0) and 0x80000000 natively, so the same
program can run on the bare machine in kernel mode and under Disco and the
results can be compared. Layout (physical / guest-physical):
0x1000 kernel code, 0x2000 vectors (EBase = 0x80002000: refill +0x000,
general +0x180), 0x4000 user code (user VA 0x00400000), 0x5000 data.
"""

from __future__ import annotations

from disco_core.guest import assemble

NATIVE_KB = 0x80000000
DISCO_KB = 0xC0000000
CODE_PA = 0x1000

# ends a test: natively wait forever with interrupts off, under Disco the exit call
DONE_NATIVE = "97: wait\n b 97b\n nop\n"
DONE_DISCO = "li $v0, 7\n move $a0, $zero\n syscall\n nop\n"


def build(body: str, kb: int) -> bytes:
    done = DONE_DISCO if kb == DISCO_KB else DONE_NATIVE
    return assemble(body.replace("{KB}", f"{kb:#x}").replace("{DONE}", done), base=kb + CODE_PA)


# (1) set vectors, map a user page with TLBWI, ERET to user mode; the user makes a
# syscall, the handler records Cause/EPC and returns a value, then the user ends.
SYSCALL_ROUNDTRIP = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1        # EBase (a kseg0 address)
    mtc0 $zero, $12         # Status: kernel, BEV = 0
    li $t0, 0x00400005      # EntryHi: VPN2 0x00400000, ASID 5
    mtc0 $t0, $10
    li $t0, (4 << 6) | (3 << 3) | 6   # EntryLo0: page 4, cacheable, D, V
    mtc0 $t0, $2
    mtc0 $zero, $3
    mtc0 $zero, $5
    li $t0, 3
    mtc0 $t0, $0
    tlbwi
    li $t0, 0x12            # KSU = user, EXL
    mtc0 $t0, $12
    li $t0, 0x00400000
    mtc0 $t0, $14
    eret
    nop

    .org 0x1180             # general exception vector (EBase + 0x180)
    mfc0 $s1, $13
    mfc0 $s2, $14
    mfc0 $s3, $12
    li $k0, 99
    beq $v0, $k0, finish
    nop
    sll $v0, $a0, 1
    addiu $v0, $v0, 1
    addiu $s2, $s2, 4
    mtc0 $s2, $14
    eret
    nop
finish:
    {DONE}

    .org 0x3000             # user code, VA 0x00400000
    li $a0, 20
    li $v0, 1
    syscall
    move $s0, $v0
    li $v0, 99
    syscall
    nop
"""


def _cp0_rw_lines() -> str:
    out = []
    off = 0

    def store(reg: str) -> None:
        nonlocal off
        out.append(f"    sw {reg}, {off}($s0)")
        off += 4

    # writable registers: write all ones (or a safe pattern), read back
    for reg, sel, val in [(0, 0, 0xFFFFFFFF), (2, 0, 0xFFFFFFFF), (3, 0, 0xFFFFFFFF),
                          (4, 0, 0xFFFFFFFF), (5, 0, 0xFFFFFFFF), (7, 0, 0xFFFFFFFF),
                          (10, 0, 0xFFFFFFFF), (11, 0, 0x12345678), (14, 0, 0xFFFFFFFF),
                          (16, 0, 0xFFFFFFFF), (18, 0, 0xFFFFFFFF), (19, 0, 0xFFFFFFFF),
                          (30, 0, 0xFFFFFFFF), (12, 0, 0x1000FF00), (12, 0, 0),
                          (13, 0, 0xFFFFFFFF), (13, 0, 0), (6, 0, 0xFFFFFFFF)]:
        out.append(f"    li $t1, {val:#x}")
        out.append(f"    mtc0 $t1, ${reg}, {sel}")
        out.append(f"    mfc0 $t2, ${reg}, {sel}")
        store("$t2")
    out.append("    mfc0 $t2, $1")  # Random with Wired = 63: always 63
    store("$t2")
    out.append("    mtc0 $zero, $6")
    # read-only registers: writes are ignored
    for reg, sel in [(15, 0), (16, 1), (16, 2), (16, 3), (12, 1), (12, 2), (8, 0), (17, 0)]:
        out.append("    li $t1, 0xFFFFFFFF")
        out.append(f"    mtc0 $t1, ${reg}, {sel}")
        out.append(f"    mfc0 $t2, ${reg}, {sel}")
        store("$t2")
    # TLBWI at index 7 with a 16 KiB page, then TLBP and TLBR round trip
    for line in ["li $t1, 7", "mtc0 $t1, $0", "li $t1, 0x1234502a", "mtc0 $t1, $10",
                 "li $t1, (16 << 6) | (3 << 3) | 7", "mtc0 $t1, $2",
                 "li $t1, (18 << 6) | (2 << 3) | 3", "mtc0 $t1, $3",
                 "li $t1, 0x6000", "mtc0 $t1, $5", "tlbwi",
                 "mtc0 $zero, $0", "mtc0 $zero, $2", "mtc0 $zero, $3", "mtc0 $zero, $5",
                 "li $t1, 0x1234402a", "mtc0 $t1, $10", "tlbp", "mfc0 $t2, $0"]:
        out.append("    " + line)
    store("$t2")
    out.append("    tlbr")
    for reg in (10, 2, 3, 5):
        out.append(f"    mfc0 $t2, ${reg}")
        store("$t2")
    for line in ["li $t1, 0x5550002a", "mtc0 $t1, $10", "tlbp", "mfc0 $t2, $0"]:
        out.append("    " + line)
    store("$t2")  # a miss: P set, index kept
    # DI / EI return the old Status
    out.append("    li $t1, 0x0000ff00\n    mtc0 $t1, $12")
    out.append("    ei $t2")
    store("$t2")
    out.append("    di $t2")
    store("$t2")
    out.append("    mfc0 $t2, $12")
    store("$t2")
    out.append("    mtc0 $zero, $12")
    # RDHWR in kernel mode: CPUNum, SYNCI_Step, CCRes; CACHE is a no-op
    for r in (0, 1, 3):
        out.append(f"    rdhwr $t2, ${r}")
        store("$t2")
    out.append("    cache 0x1, 0($s0)")
    out.append(f"    li $t2, {off}")
    store("$t2")
    return "\n".join(out)


PRIVILEGED = (
    "start:\n    li $s0, {KB} + 0x5000\n    li $t0, 0x80002000\n    mtc0 $t0, $15, 1\n"
    + _cp0_rw_lines() + "\n    {DONE}\n"
)


# (3) a user program touching PAGES pages ROUNDS times, with a refill handler that
# counts its entries at data word 0 (guest-physical 0x5000). The handler maps
# user VA 0x00400000 + x to guest-physical 0x10000 + x; user code sits at 0x10000.
PAGES, ROUNDS = 32, 10
REFILL_COUNTING = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    mtc0 $zero, $5
    li $t0, 5
    mtc0 $t0, $10           # ASID 5
    li $t0, 0x12
    mtc0 $t0, $12
    li $t0, 0x00400000
    mtc0 $t0, $14
    eret
    nop

    .org 0x1000             # refill vector
    li $k0, {KB} + 0x5000
    lw $k1, 0($k0)
    addiu $k1, $k1, 1
    sw $k1, 0($k0)
    mfc0 $k0, $8
    srl $k0, $k0, 13
    sll $k0, $k0, 13
    li $k1, 0x00400000 - 0x10000
    subu $k0, $k0, $k1
    srl $k0, $k0, 12
    sll $k0, $k0, 6
    ori $k0, $k0, (3 << 3) | 6
    mtc0 $k0, $2
    addiu $k0, $k0, 1 << 6
    mtc0 $k0, $3
    tlbwr
    eret
    nop

    .org 0x1180             # general vector: the user's exit syscall
    mfc0 $s6, $13
    {DONE}

    .org 0xF000             # user code, VA 0x00400000 (guest-physical 0x10000)
    li $s0, 0               # sum
    li $s1, ROUNDS
1:  li $t0, 0x00402000
    li $t1, PAGES
2:  lw $t2, 0($t0)
    addu $t2, $t2, $t1
    sw $t2, 0($t0)
    addu $s0, $s0, $t2
    addiu $t1, $t1, -1
    bnez $t1, 2b
    addiu $t0, $t0, 0x1000
    addiu $s1, $s1, -1
    bnez $s1, 1b
    nop
    li $v0, 99
    syscall
    nop
""".replace("ROUNDS", str(ROUNDS)).replace("PAGES", str(PAGES))


# (5) a user program {USER} runs in user mode; the general handler records Cause,
# EPC and BadVAddr (s1, s2, s4) and ends the test.
USER_FAULT = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    mtc0 $zero, $12
    li $t0, 0x00400005
    mtc0 $t0, $10
    li $t0, (4 << 6) | (3 << 3) | 6
    mtc0 $t0, $2
    mtc0 $zero, $3
    mtc0 $zero, $5
    mtc0 $zero, $0
    tlbwi
    li $t0, 0x12
    mtc0 $t0, $12
    li $t0, 0x00400000
    mtc0 $t0, $14
    eret
    nop

    .org 0x1180
    mfc0 $s1, $13
    mfc0 $s2, $14
    mfc0 $s4, $8
    {DONE}

    .org 0x3000
    {USER}
    nop
"""

# the guest kernel reaches a given address (kseg0, kseg1, ...) directly
KERNEL_TOUCH = """
start:
    li $t0, {ADDR}
    lw $t1, 0($t0)
    {DONE}
"""

# (5) writes MARKER over guest-physical [0x10000, end), frees those pages, exits
MARKER = 0x5EC2E7A5
WRITE_SECRET = """
start:
    li $v0, 8
    li $a0, 0
    syscall                 # memory size in pages
    sll $s7, $v0, 12
    li $t0, 0x10000
    li $t1, MARKER
1:  li $t2, {KB}
    addu $t2, $t2, $t0
    sw $t1, 0($t2)
    addiu $t0, $t0, 4
    bne $t0, $s7, 1b
    nop
    li $a0, FREE
    beqz $a0, 3f
    nop
    li $s0, 0x10
2:  move $a0, $s0
    li $v0, 3
    syscall                 # page freed
    addiu $s0, $s0, 1
    sll $t0, $s0, 12
    bne $t0, $s7, 2b
    nop
3:  {DONE}
""".replace("MARKER", hex(MARKER))

# (5) scans its whole guest-physical space; exits with the number of MARKER words
SCAN = """
start:
    li $v0, 8
    li $a0, 0
    syscall
    sll $s7, $v0, 12
    li $t0, 0
    li $s1, 0
    li $t1, MARKER
1:  li $t2, {KB}
    addu $t2, $t2, $t0
    lw $t3, 0($t2)
    bne $t3, $t1, 2f
    nop
    addiu $s1, $s1, 1
2:  addiu $t0, $t0, 4
    bne $t0, $s7, 1b
    nop
    li $v0, 7
    move $a0, $s1
    syscall
""".replace("MARKER", hex(MARKER))


# (6) misbehaving guests
PANIC = """
start:
    li $v0, 0
    li $a0, 0x41            # 'A' on the console first
    syscall
    li $v0, 6
    la $a0, msg
    li $a1, 9
    syscall
    nop
msg: .ascii "oh no 42!"
"""
SPIN = """
start:
1:  b 1b
    nop
"""
# counts to N, printing a dot every 1000, then exits with code 3
COUNTER = """
start:
    li $s0, 0
    li $s1, N
1:  addiu $s0, $s0, 1
    andi $t0, $s0, 1023
    bnez $t0, 2f
    nop
    li $v0, 0
    li $a0, 0x2e
    syscall
2:  bne $s0, $s1, 1b
    nop
    li $v0, 7
    li $a0, 3
    syscall
"""

# (idle) arm the timer, WAIT with interrupts on; the interrupt handler counts ticks,
# re-arms, and after TICKS ticks the guest exits with the count
TICKS = 5
TIMER_WAIT = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    li $s0, 0
    mfc0 $t0, $9
    addiu $t0, $t0, 5000
    mtc0 $t0, $11           # Compare = Count + 5000
    li $t0, 0x8001          # IM7, IE
    mtc0 $t0, $12
1:  wait
    nop
    li $t0, TICKS
    bne $s0, $t0, 1b
    nop
    li $v0, 7
    move $a0, $s0
    syscall

    .org 0x1180             # general vector: the timer interrupt
    mfc0 $k0, $13
    addiu $s0, $s0, 1
    mfc0 $k1, $9
    addiu $k1, $k1, 5000
    mtc0 $k1, $11           # acknowledges and re-arms
    eret
    nop
""".replace("TICKS", str(TICKS))


# (7) every vCPU adds N to a shared counter with LL/SC; vCPU 0 waits for all of them
# and exits with the total / 1000; the others go idle
SMP_COUNTER = """
start:
    li $v0, 8
    li $a0, 1
    syscall                 # this vCPU's index
    move $s5, $v0
    li $v0, 8
    li $a0, 2
    syscall                 # number of vCPUs
    move $s6, $v0
    li $t0, {KB} + 0x5000
    li $s1, N
1:  ll $t1, 0($t0)
    addiu $t1, $t1, 1
    sc $t1, 0($t0)
    beqz $t1, 1b
    nop
    addiu $s1, $s1, -1
    bnez $s1, 1b
    nop
    bnez $s5, 3f
    nop
    li $t2, N
    mul $t2, $t2, $s6
2:  lw $t1, 0($t0)
    bne $t1, $t2, 2b
    nop
    li $t3, 1000
    divu $zero, $t1, $t3
    mflo $a0
    li $v0, 7
    syscall
3:  li $v0, 5
    syscall                 # idle until an interrupt (none comes)
    b 3b
    nop
"""


# (sharing) increments the word at guest-physical 0x7000 and exits with it
BUMP_SHARED = """
start:
    li $t0, {KB} + 0x7000
    lw $t1, 0($t0)
    addiu $t1, $t1, 1
    sw $t1, 0($t0)
    lw $a0, 0($t0)
    li $v0, 7
    syscall
"""


# privileged instructions in branch delay slots
DELAY_SLOTS = """
start:
    li $s0, {KB} + 0x5000
    li $t2, 0
    li $t1, 0x80003000
    b 1f
    mtc0 $t1, $14           # in the delay slot of a taken branch
    li $t2, 0xdead          # skipped
1:  mfc0 $t3, $14
    beqz $zero, 2f
    mfc0 $t4, $15, 1        # delay slot again
    nop
2:  sw $t3, 0($s0)
    sw $t4, 4($s0)
    sw $t2, 8($s0)
    {DONE}
"""

# a software interrupt raised by MTC0 Cause is taken right after the MTC0
SOFT_INTERRUPT = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    li $t0, 0x0101          # IM0, IE
    mtc0 $t0, $12
    li $t0, 0x100           # Cause.IP0
    mtc0 $t0, $13
    li $s3, 1               # the interrupt comes before this
    li $s3, 2
    {DONE}

    .org 0x1180
    mfc0 $s1, $13
    mfc0 $s2, $14
    mfc0 $s4, $12
    mtc0 $zero, $13         # acknowledge, so the native end can wait
    {DONE}
"""


# every monitor call once; results stored at guest-physical 0x5000 onwards
MONITOR_CALLS = """
start:
    li $s0, {KB} + 0x5000
    li $v0, 9               # PUTS
    la $a0, msg
    li $a1, 6
    syscall
    sw $v0, 0($s0)
    li $v0, 1               # GETC twice: 'x' then nothing
    syscall
    sw $v0, 4($s0)
    li $v0, 1
    syscall
    sw $v0, 8($s0)
    li $t0, 0
1:  li $v0, 8               # INFO 0..4
    move $a0, $t0
    syscall
    sll $t1, $t0, 2
    addu $t1, $t1, $s0
    sw $v0, 12($t1)
    addiu $t0, $t0, 1
    li $t1, 5
    bne $t0, $t1, 1b
    nop
    li $t2, {KB} + 0x9000   # ZERO_PAGE: a written page reads as zeros again
    li $t3, 77
    sw $t3, 0($t2)
    li $v0, 2
    li $a0, 9
    syscall
    sw $v0, 32($s0)
    lw $t4, 0($t2)
    sw $t4, 36($s0)
    li $t2, {KB} + 0xA000   # PAGE_FREED: likewise, on the next touch
    sw $t3, 0($t2)
    li $v0, 3
    li $a0, 10
    syscall
    sw $v0, 40($s0)
    lw $t4, 0($t2)
    sw $t4, 44($s0)
    li $v0, 3               # outside the VM
    li $a0, 100000
    syscall
    sw $v0, 48($s0)
    li $v0, 4               # YIELD
    syscall
    sw $v0, 52($s0)
    li $v0, 31              # unknown
    syscall
    sw $v0, 56($s0)
    li $v0, 0               # PUTC
    li $a0, 0x21
    syscall
    {DONE}
msg: .ascii "hello\\n"
"""


# idles until a virtual interrupt comes, then exits with Cause.IP
WAIT_FOR_POST = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    li $t0, 0x0401          # IM2, IE
    mtc0 $t0, $12
1:  li $v0, 5
    syscall                 # IDLE
    b 1b
    nop

    .org 0x1180
    mfc0 $a0, $13
    srl $a0, $a0, 8
    andi $a0, $a0, 0xff
    li $v0, 7
    syscall
"""


# (3, realistic) the same user program, with a refill handler that walks a page
# table through Context.PTEBase (at guest-physical 0x800000): its loads take kernel
# TLB faults under Disco, inside the guest's exception handler
_PT_SETUP = """
start:
    li $t0, {KB} + 0x800000 + (0x00400000 >> 13) * 16
    li $t1, (0x10 << 6) | (3 << 3) | 6
    li $t2, NPTES
1:  sw $t1, 0($t0)          # page k's PTE at PTEBase + VPN2 * 16 + (k & 1) * 8
    addiu $t1, $t1, 1 << 6
    addiu $t2, $t2, -1
    bnez $t2, 1b
    addiu $t0, $t0, 8
    li $t0, {KB} + 0x800000
    mtc0 $t0, $4            # Context.PTEBase
    li $t0, 0x80002000
""".replace("NPTES", str(PAGES + 2))
_PT_REFILL = """
    .org 0x1000             # refill vector: walk the page table
    mfc0 $k1, $4
    lw $k0, 0($k1)
    mtc0 $k0, $2
    lw $k0, 8($k1)
    mtc0 $k0, $3
    li $k0, {KB} + 0x5000
    lw $k1, 0($k0)
    addiu $k1, $k1, 1
    sw $k1, 0($k0)
    tlbwr
    eret
    nop
"""
PAGE_TABLE_REFILL = (
    REFILL_COUNTING.replace("start:\n    li $t0, 0x80002000\n", _PT_SETUP)
    .replace(REFILL_COUNTING[REFILL_COUNTING.index("    .org 0x1000"):
                             REFILL_COUNTING.index("    .org 0x1180")], _PT_REFILL)
)


# vCPU 1 panics at once; the other vCPUs count forever
SMP_ONE_PANICS = """
start:
    li $v0, 8
    li $a0, 1
    syscall
    li $t0, 1
    bne $v0, $t0, 2f
    nop
    li $v0, 6
    li $a0, 0
    li $a1, 0
    syscall
2:  addiu $s0, $s0, 1
    andi $t0, $s0, 0xfff
    bnez $t0, 2b
    nop
    li $v0, 4               # yield now and then
    syscall
    b 2b
    nop
"""


# WAIT with an interrupt already pending (masked by IE) falls through at once
WAIT_PENDING = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    li $t0, 0x100
    mtc0 $t0, $13           # Cause.IP0
    li $t0, 0x0100
    mtc0 $t0, $12           # IM0, IE off
    wait
    li $s3, 1
    li $t0, 0x0101
    mtc0 $t0, $12           # IE on: taken after this MTC0
    li $s3, 2
    {DONE}

    .org 0x1180
    mfc0 $s1, $13
    mfc0 $s2, $14
    mtc0 $zero, $13
    {DONE}
"""


# Cause.DC (Release 2) stops Count: s1/s2 are Count while stopped (equal), s3 after a
# restart; then with Count stopped short of Compare the timer must not fire (s6 stays 0)
COUNT_DISABLE = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    li $t0, 0x08000000
    mtc0 $t0, $13           # DC = 1
    mfc0 $s0, $13
    mfc0 $s1, $9            # Count, stopped
    li $t1, 200
1:  addiu $t1, $t1, -1
    bnez $t1, 1b
    nop
    mfc0 $s2, $9            # the same Count
    mtc0 $zero, $13         # DC = 0: Count goes on from there
    li $t1, 200
2:  addiu $t1, $t1, -1
    bnez $t1, 2b
    nop
    mfc0 $s3, $9
    mfc0 $t2, $9
    addiu $t2, $t2, 2000
    mtc0 $t2, $11           # Compare 4000 cycles ahead (the monitor's traps take some)
    li $t0, 0x08000000
    mtc0 $t0, $13           # DC = 1 again, short of it
    li $t0, 0x8001          # IM7, IE
    mtc0 $t0, $12
    li $t1, 3000            # some 9000 cycles: past Compare, had Count run
3:  addiu $t1, $t1, -1
    bnez $t1, 3b
    nop
    li $s7, 1               # reached without a timer interrupt
    mtc0 $zero, $12
    {DONE}

    .org 0x1180
    li $s6, 1               # the timer fired while Count stood still
    mtc0 $zero, $12
    {DONE}
"""
