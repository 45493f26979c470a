"""Small guests for the virtual network (disco_core/monitor/vnet.py), in MIPS assembly.

SENDER fills LEN bytes at guest-physical SRC with a pattern, sends them to
link address DEST in one NET_SEND, then stores into the first word it sent.
RECEIVER waits for the network interrupt (IDLE with IM4), takes the message
with one NET_RECV into DST (capacity CAP), then stores into the second word it
received. Both record at guest-physical 0x5000: the call's result, the cycles
(Count × 2) the call took, and (receiver) the length NET_PEEK announced.
"""

from __future__ import annotations

from tests.monitor import guests

SEED = 0x1234567

SENDER = """
start:
    li $t0, {KB} + SRC
    li $t1, LEN
    li $t2, SEED
1:  sw $t2, 0($t0)
    addiu $t2, $t2, 0x101
    addiu $t0, $t0, 4
    addiu $t1, $t1, -4
    bgtz $t1, 1b
    nop
    li $s0, {KB} + 0x5000
    mfc0 $s1, $9
    li $v0, 16              # NET_SEND
    li $a0, DEST
    li $a1, SRC
    li $a2, LEN
    li $a3, 0
    syscall
    mfc0 $s2, $9
    sw $v0, 0($s0)
    subu $s2, $s2, $s1
    sw $s2, 4($s0)
    li $t0, {KB} + SRC
    li $t1, 0x5eaf00d
    sw $t1, 0($t0)          # after the send: the receiver must not see this
    {DONE}
"""

RECEIVER = """
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    li $t0, 0x1000          # IM4 (the network), IE off: IDLE wakes, nothing is taken
    mtc0 $t0, $12
    li $s0, {KB} + 0x5000
1:  li $v0, 18              # NET_PEEK length
    li $a0, 0
    syscall
    li $t0, -4
    bne $v0, $t0, 2f
    nop
    li $v0, 5               # IDLE until IP4
    syscall
    li $v0, 20              # NET_ACK
    syscall
    b 1b
    nop
2:  sw $v0, 8($s0)
    mfc0 $s1, $9
    li $v0, 17              # NET_RECV
    li $a0, DST
    li $a1, CAP
    syscall
    mfc0 $s2, $9
    sw $v0, 0($s0)
    subu $s2, $s2, $s1
    sw $s2, 4($s0)
    li $t0, {KB} + DST
    li $t1, 0xb0b
    sw $t1, 4($t0)          # a store into what arrived: the sender must not see this
    {DONE}
"""


def pattern(n: int) -> bytes:
    """What SENDER sends: LEN bytes of the word pattern."""
    return b"".join(((SEED + 0x101 * i) & 0xFFFFFFFF).to_bytes(4, "little")
                    for i in range(n // 4))


def build(body: str, **params: int) -> bytes:
    for k, v in {"SEED": SEED, **params}.items():
        body = body.replace(k, f"{v:#x}")
    return guests.build(body, guests.DISCO_KB)
