"""The per-vCPU register page (regpage.py, docs/monitor-abi.md "The register page").

Small assembled guests read and write their virtual CP0 with loads and stores
at REGPAGE_VA; the page must be the running vCPU's alone, unreachable from
user mode, the same registers MFC0/MTC0 see, and a store that sets IE must
let a pending interrupt in through one INTR_PENDING call.
"""

from __future__ import annotations

import pytest

from disco_core.errors import DiscoError
from disco_core.machine import Machine
from disco_core.mips import LO_D, LO_G, LO_V
from disco_core.monitor import Monitor, VMSpec
from disco_core.monitor import regpage as rp
from disco_core.monitor.l2tlb import GLOBAL
from disco_core.monitor.monitor import MC_INTR_PENDING
from disco_core.monitor.pmap import CACHEABLE
from disco_core.monitor.vcpu import VirtualCP0
from tests.monitor import guests
from tests.monitor.conftest import disco_vm, run_disco


def _off(word: int) -> str:
    return f"({rp.word_offset(word)} - 0x1000)($k1)"  # $k1 = 0xE0000000


# The page's EPC and Status, then ERET: it returns where the store said.
EPC_STORE = f"""
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    mtc0 $zero, $12
    lui $k1, 0xE000
    la $t0, target
    sw $t0, {_off(rp.EPC)}
    li $t0, 2                 # Status: EXL, kernel mode
    sw $t0, {_off(rp.STATUS)}
    eret
    nop
    li $s0, 1                 # never reached
    {{DONE}}
target:
    li $s0, 42
    lw $s1, {_off(rp.EPC)}
    mfc0 $s2, $14             # the emulated MFC0 reads the same register
    lw $s3, {_off(rp.STATUS)} # ERET cleared EXL in the page
    {{DONE}}
"""


def test_store_to_epc_then_eret_returns_there():
    mon, vm = run_disco(EPC_STORE)
    g = vm.vcpus[0].ctx.gpr
    assert vm.stop_reason == "exit(0)"
    assert g[16] == 42 and g[17] == g[18] and g[17] >= 0xC0001000
    assert g[19] == 0
    assert vm.stats.count["mfc0"] == 1  # the loads and stores never trapped


def test_the_virtual_cp0_lives_in_the_page():
    m = Machine(cpus=2, ram_bytes=16 << 20, nodes=2)
    mon = Monitor(m)
    vm = mon.create_vm(VMSpec("a", memory_pages=64, vcpus=2, home_nodes=[1]))
    pages = [v.regpage_mpn for v in vm.vcpus]
    assert len(set(pages)) == 2 and all(mon.memmap.node_of(p) == 1 for p in pages)
    v = vm.vcpus[1]
    assert v.cp0.ebase == 0x80000001  # reset state went into the page
    v.cp0.write(14, 0, 0x12345678, 0)  # MTC0 EPC
    v.cp0.status = 0xFF01
    raw = m.read_phys(pages[1] << 12, 4 * rp.WORDS)
    word = [int.from_bytes(raw[4 * i:4 * i + 4], "little") for i in range(rp.WORDS)]
    assert word[rp.EPC] == 0x12345678 and word[rp.STATUS] == 0xFF01
    assert word[rp.EBASE] == 0x80000001
    m.write_phys((pages[1] << 12) + 4 * rp.CAUSE, (0x400).to_bytes(4, "little"))
    assert v.cp0.read(13, 0, 0) == 0x400  # a guest store is what MFC0 sees
    v.reset(0xC0001000)
    assert v.cp0.status == 0 and v.cp0.epc == 0 and v.cp0.cause == 0
    assert m.read_phys((pages[1] << 12) + 4 * rp.WORDS, 64) == bytes(64)
    # a VirtualCP0 without a page keeps private words
    c = VirtualCP0(0, 64)
    c.status = 0xFFFFFFFF + 1 + 5
    assert c.status == 5


def test_a_vm_too_big_for_the_page_is_refused():
    mon = Monitor(Machine(cpus=1, ram_bytes=1 << 20))
    with pytest.raises(DiscoError, match="register page"):
        mon.create_vm(VMSpec("huge", memory_pages=rp.MAX_GUEST_PAGES + 1))


# Each vCPU writes its own value into UserLocal through the page, yields to the
# other (one CPU, so they alternate), and reads it back through the page and MFC0.
PER_VCPU = f"""
start:
    mfc0 $s7, $15, 1
    andi $s7, $s7, 0x3FF      # vCPU index
    lui $k1, 0xE000
    addiu $t0, $s7, 1
    sll $t0, $t0, 8
    ori $t0, $t0, 0x11        # 0x111, 0x211, ...
    sw $t0, {_off(rp.USERLOCAL)}
    li $s6, 4
1:  li $v0, 4                 # YIELD: the other vCPU runs on this CPU
    syscall
    addiu $s6, $s6, -1
    bnez $s6, 1b
    nop
    lw $s0, {_off(rp.USERLOCAL)}
    mfc0 $s1, $4, 2           # UserLocal by MFC0
    sll $t1, $s7, 3
    li $t2, {{KB}} + 0x5000
    addu $t2, $t2, $t1
    sw $s0, 0($t2)
    sw $s1, 4($t2)
    li $v0, 4
    syscall
    bnez $s7, 2f
    nop
    li $t2, {{KB}} + 0x5000
3:  li $v0, 4                 # vCPU 0 waits for vCPU 1's words
    syscall
    lw $t3, 12($t2)
    beqz $t3, 3b
    nop
    {{DONE}}
2:  li $v0, 5                 # IDLE until the VM stops
    syscall
    b 2b
    nop
"""


def _words(vm, off: int, n: int) -> list[int]:
    raw = vm.read_guest(off, 4 * n)
    return [int.from_bytes(raw[4 * i:4 * i + 4], "little") for i in range(n)]


@pytest.mark.parametrize("remap", [False, True], ids=["flush", "asid_remap"])
@pytest.mark.parametrize("cpus", [1, 2])
def test_each_vcpu_sees_its_own_page(cpus, remap):
    m = Machine(cpus=cpus, ram_bytes=16 << 20)
    mon = Monitor(m, asid_remap=remap)
    vms = [disco_vm(mon, PER_VCPU, f"vm{i}", vcpus=2) for i in range(2)]
    assert mon.run(50_000_000) == "stopped"
    for vm in vms:
        assert vm.stop_reason == "exit(0)", vm.stop_reason
        assert _words(vm, 0x5000, 4) == [0x111, 0x111, 0x211, 0x211]
        assert [v.cp0.userlocal for v in vm.vcpus] == [0x111, 0x211]
    assert sum(vm.stats.count.get("switch", 0) for vm in vms) >= 4
    assert mon.check_invariants() == []


def test_check_invariants_catches_a_foreign_register_page():
    m = Machine(cpus=1, ram_bytes=16 << 20)
    mon = Monitor(m)
    a = disco_vm(mon, PER_VCPU, "a", vcpus=1)
    b = disco_vm(mon, PER_VCPU, "b", vcpus=1)
    mon.run(20_000)
    owner = mon.current[0] or a.vcpus[0]
    other = b.vcpus[0] if owner.vm is a else a.vcpus[0]
    mon.hw_owner[0] = owner.gid
    lo = (other.regpage_mpn << 6) | CACHEABLE | LO_D | LO_V | LO_G
    mon.hw_install(0, rp.REGPAGE_VPN2_VA, GLOBAL, LO_G, lo)
    problems = mon.check_invariants()
    assert any("register page" in p for p in problems), problems


# User mode loads from REGPAGE_VA: an address error reflected to the guest kernel
# (which records Cause, EPC and BadVAddr in s1, s2, s4).
USER_PROBE = guests.USER_FAULT.replace("{USER}", """lui $t0, 0xE000
    lw $s0, -0x1000($t0)
    li $s0, 77
    b .""")


def test_user_mode_cannot_reach_the_page():
    mon, vm = run_disco(USER_PROBE)
    g = vm.vcpus[0].ctx.gpr
    assert (g[17] >> 2) & 0x1F == 4  # AdEL
    assert g[20] == rp.REGPAGE_VA and g[16] != 77


# IE = 0 in the page; an IPI to itself is posted and not taken; setting IE with a
# store, then the pending check, takes it right after the INTR_PENDING call.
PENDING = f"""
start:
    li $t0, 0x80002000
    mtc0 $t0, $15, 1
    lui $k1, 0xE000
    li $t0, 0x2000            # IM5 (IPIs), IE = 0
    sw $t0, {_off(rp.STATUS)}
    li $v0, 13                # IPI to vCPU 0, itself
    li $a0, 1
    move $a1, $zero
    syscall
    li $t1, 200
1:  addiu $t1, $t1, -1
    bnez $t1, 1b
    nop
    move $s3, $s0             # the handler has not run yet
    lw $t0, {_off(rp.STATUS)}
    ori $t0, $t0, 1
    sw $t0, {_off(rp.STATUS)} # IE = 1
    lw $t1, {_off(rp.CAUSE)}
    and $t1, $t1, $t0
    andi $t1, $t1, 0xFF00
    beqz $t1, 2f
    nop
    li $v0, {MC_INTR_PENDING}
    syscall
after:
    nop
2:  move $s4, $s0
    {{DONE}}

    .org 0x1180
    li $s0, 1
    lui $k1, 0xE000
    lw $s1, {_off(rp.EPC)}
    lw $s2, {_off(rp.CAUSE)}
    li $v0, 14                # IPI_ACK
    syscall
    lw $t0, {_off(rp.STATUS)}
    li $t2, ~1
    and $t0, $t0, $t2         # return with IE = 0: nothing else to take
    sw $t0, {_off(rp.STATUS)}
    eret
    nop
"""


def test_interrupt_pending_while_ie_clear_is_taken_after_the_store():
    mon, vm = run_disco(PENDING)
    g = vm.vcpus[0].ctx.gpr
    assert vm.stop_reason == "exit(0)"
    assert g[19] == 0  # not delivered while IE was clear in the page
    assert g[20] == 1  # delivered before the code after the call
    code = vm.read_guest(0x1000, 0x400)
    # EPC is the instruction after the syscall (`after:`): find it by its position
    syscall_at = [i for i in range(0, 0x400, 4)
                  if code[i:i + 4] == (0x0000000C).to_bytes(4, "little")]
    assert g[17] - 0xC0001000 == syscall_at[1] + 4  # the second syscall is INTR_PENDING
    assert (g[18] >> 2) & 0x1F == 0 and g[18] & (1 << 13)  # Int, IP5
