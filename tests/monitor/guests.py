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
