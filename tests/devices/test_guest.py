"""End to end: small kernel-mode programs drive the native devices through kseg1."""

from __future__ import annotations

from disco_core.devices import DiskImage, LoopbackLink, link_pair
from disco_core.devices.layout import DEFAULT_EPOCH
from disco_core.machine import ExitReason
from tests.devices.helpers import (
    DISK0,
    IPI,
    MACHDESC,
    NIC0,
    POWER_OFF,
    RTC,
    UART,
    boot,
    load,
    native,
    reg,
    run_to_halt,
)

IP = 8  # Cause.IP2 is bit 10: line n is bit IP + 2 + n


def test_uart_output_and_power_off_code() -> None:
    m, dev = native()
    boot(m, f"""
        li $t0, {UART:#x}
        li $t1, 'h'
        sb $t1, 0($t0)
        li $t1, 'i'
        sb $t1, 0($t0)
        li $v0, 7
    """ + POWER_OFF)
    ex = run_to_halt(m)
    assert ex.code == 7
    assert bytes(dev.uart.output) == b"hi"
    assert dev.power.request.name == "OFF" and dev.power.code == 7


def test_uart_input_raises_interrupt_and_ack_lowers_it() -> None:
    m, dev = native()
    boot(m, """
        li $t0, 0x401          # IM2 (UART line 0) and IE
        mtc0 $t0, $12
    1:  wait
        b 1b
        nop
    """, handler=f"""
        li $k0, {UART:#x}
        lw $s0, 8($k0)         # STATUS: RX pending
        lw $s1, 0($k0)         # DATA: the byte
        li $t0, 1
        sw $t0, 8($k0)         # acknowledge RX (the FIFO is empty now)
        lw $s2, 8($k0)
        mfc0 $s3, $13          # Cause after the acknowledgement
        addiu $t1, $s1, 1
        sb $t1, 0($k0)
        move $v0, $s1
    """ + POWER_OFF)
    ex = m.run(100_000)
    assert ex.reason == ExitReason.WAIT  # nothing to do until the host types
    dev.uart.feed(b"A")
    assert m.cpus[0].cp0(13) & (1 << (IP + 2))
    ex = run_to_halt(m)
    assert ex.code == ord("A")
    assert reg(m, "s0") == 1 and reg(m, "s1") == ord("A") and reg(m, "s2") == 0
    assert not reg(m, "s3") & (1 << (IP + 2))
    assert bytes(dev.uart.output) == b"B"


RTC_PROGRAM = f"""
    li $t0, {RTC:#x}
    lw $s0, 0($t0)             # SECONDS (latches NANOSECONDS)
    lw $s1, 4($t0)
    li $t1, 2000
1:  addiu $t1, $t1, -1
    bnez $t1, 1b
    nop
    lw $s2, 0($t0)
    lw $s3, 4($t0)
    lw $s4, 8($t0)             # UPTIME_LO (µs)
    lw $s5, 16($t0)            # CLOCK_HZ
    li $v0, 0
""" + POWER_OFF


def test_rtc_follows_simulated_time_deterministically() -> None:
    results = []
    for _ in range(2):
        m, _dev = native()
        boot(m, RTC_PROGRAM)
        run_to_halt(m)
        # the digest covers the whole machine, every device's state included
        results.append([m.digest()] + [reg(m, r) for r in ("s0", "s1", "s2", "s3", "s4", "s5")])
    assert results[0] == results[1]
    s0, s1, s2, s3, s4, s5 = results[0][1:]
    assert s0 == s2 == DEFAULT_EPOCH
    assert s5 == 200_000_000
    # ~6000 instructions of the loop at one cycle each and 5 ns per cycle
    assert 25_000 <= s3 - s1 <= 35_000
    assert s4 == s3 // 1000


def test_disk_dma_read_then_write_round_trip(tmp_path) -> None:
    sectors = [bytes([i]) * 512 for i in range(16)]
    path = DiskImage.create(tmp_path / "disk.img", 16, b"".join(sectors))
    m, dev = native(disks=[path])
    boot(m, f"""
        li $t0, {DISK0:#x}
        li $t1, 3
        sw $t1, 0x14($t0)      # SECTOR 3
        li $t1, 2
        sw $t1, 0x18($t0)      # COUNT 2
        li $t1, 0x100000
        sw $t1, 0x1c($t0)      # DMA_ADDR
        li $t1, 1
        sw $t1, 0x24($t0)      # COMMAND READ
        lw $s0, 0x28($t0)      # STATUS
        lw $s1, 0x2c($t0)      # ERROR
        li $t1, 3
        sw $t1, 0x28($t0)      # acknowledge
        li $t2, 0x80100000
        li $t1, 0x5a
        sb $t1, 0($t2)         # change the first byte
        li $t1, 10
        sw $t1, 0x14($t0)      # SECTOR 10
        li $t1, 2
        sw $t1, 0x24($t0)      # COMMAND WRITE
        lw $s2, 0x28($t0)
        lw $v0, 0x2c($t0)
    """ + POWER_OFF)
    ex = run_to_halt(m)
    assert ex.code == 0
    assert reg(m, "s0") == 1 and reg(m, "s1") == 0 and reg(m, "s2") == 1
    assert m.read_phys(0x100000, 1024) == b"\x5a" + sectors[3][1:] + sectors[4]
    dev.close()
    with DiskImage.open(path) as image:
        assert image.read(10, 2) == b"\x5a" + sectors[3][1:] + sectors[4]
        assert image.read(3, 1) == sectors[3]


def test_disk_bad_dma_address_sets_error_and_interrupts(tmp_path) -> None:
    path = DiskImage.create(tmp_path / "disk.img", 8)
    m, dev = native(disks=[path])
    boot(m, f"""
        li $t0, {DISK0:#x}
        li $t1, 1
        sw $t1, 0x18($t0)      # COUNT 1
        li $t1, 0x1f800000     # the device window, not RAM
        sw $t1, 0x1c($t0)
        li $t1, 1
        sw $t1, 0x24($t0)      # READ
        lw $s0, 0x28($t0)
        mfc0 $s1, $13
        lw $v0, 0x2c($t0)
    """ + POWER_OFF)
    ex = run_to_halt(m)
    assert ex.code == 3  # ERR_BAD_ADDRESS
    assert reg(m, "s0") == 3  # DONE | FAILED
    assert reg(m, "s1") & (1 << (IP + 2 + 1))  # disk line 1
    dev.close()


NIC_SEND_AND_RECEIVE = f"""
    li $t0, {NIC0:#x}
    li $t1, 0x3000
    sw $t1, 0x34($t0)          # RX_ADDR
    li $t1, 2048
    sw $t1, 0x3c($t0)          # RX_SIZE
    li $t1, 1
    sw $t1, 0x40($t0)          # RX_CMD arm
    li $t1, 0x2000
    sw $t1, 0x20($t0)          # TX_ADDR
    li $t1, 100
    sw $t1, 0x28($t0)          # TX_LEN
    li $t1, 1
    sw $t1, 0x2c($t0)          # TX_CMD send
    lw $s0, 0x14($t0)          # STATUS
    lw $s1, 0x44($t0)          # RX_LEN
    lw $v0, 0x30($t0)          # TX_ERROR
""" + POWER_OFF


def test_nic_loopback_from_guest() -> None:
    m, _dev = native(links=[LoopbackLink()])
    frame = bytes(range(100))
    m.write_phys(0x2000, frame)
    boot(m, NIC_SEND_AND_RECEIVE)
    ex = run_to_halt(m)
    assert ex.code == 0
    assert reg(m, "s0") == 3 and reg(m, "s1") == 100  # TX_DONE | RX_DONE
    assert m.read_phys(0x3000, 100) == frame


def test_two_machines_exchange_a_frame() -> None:
    end_a, end_b = link_pair()
    a, _ = native(links=[end_a])
    b, _ = native(links=[end_b])
    # B arms its receive descriptor and sleeps until the NIC interrupts (line 2).
    boot(b, f"""
        li $t0, {NIC0:#x}
        li $t1, 0x4000
        sw $t1, 0x34($t0)
        li $t1, 4096
        sw $t1, 0x3c($t0)
        li $t1, 1
        sw $t1, 0x40($t0)
        li $t1, 0x1001         # IM4 and IE
        mtc0 $t1, $12
    1:  wait
        b 1b
        nop
    """, handler=f"""
        li $k0, {NIC0:#x}
        lw $s0, 0x14($k0)
        sw $s0, 0x14($k0)      # acknowledge
        lw $v0, 0x44($k0)      # RX_LEN
    """ + POWER_OFF)
    assert b.run(100_000).reason == ExitReason.WAIT
    frame = b"hello from A" * 5
    a.write_phys(0x2000, frame.ljust(100, b"\0"))
    boot(a, NIC_SEND_AND_RECEIVE)
    assert run_to_halt(a).code == 0
    assert reg(a, "s0") == 1  # TX_DONE only: A's frame went to B
    assert run_to_halt(b).code == 100
    assert reg(b, "s0") == 2  # RX_DONE
    assert b.read_phys(0x4000, 100) == frame.ljust(100, b"\0")


def test_ipi_from_cpu0_to_cpu1_and_acknowledgement() -> None:
    m, dev = native(cpus=2)
    # CPU 1 polls its PENDING word, saves Cause, acknowledges, saves Cause again.
    slot1 = IPI + 0x100 + 0x10
    load(m, f"""
        li $t0, {slot1:#x}
    1:  lw $s0, 8($t0)
        beqz $s0, 1b
        nop
        mfc0 $s1, $13
        sw $s0, 8($t0)
        mfc0 $s2, $13
        move $v0, $s0
    """ + POWER_OFF, base=0x80002000)
    m.cpus[1].start(0x80002000)
    boot(m, f"""
        li $t0, {IPI + 0x100:#x}
        li $t1, 2
        sw $t1, 0($t0)         # SEND_LO from CPU 0: CPU 1
    1:  b 1b
        nop
    """)
    ex = run_to_halt(m)
    assert ex.code == 1  # the sender: CPU 0
    line = 1 << (IP + 2 + 3)
    assert m.cpus[1].cp0(13) & line == 0
    assert reg(m, "s1", cpu=1) & line and not reg(m, "s2", cpu=1) & line
    assert dev.ipi.sent == 1


def test_guest_reads_the_machine_description() -> None:
    m, _dev = native(cpus=2)
    boot(m, f"""
        li $t0, {MACHDESC:#x}
        lw $s0, 0($t0)         # MAGIC
        lw $s1, 0xc($t0)       # CPUS
        lw $s2, 0x608($t0)     # first memory range: SIZE_LO
        lw $s3, 0x34($t0)      # where the range table is
        lhu $s4, 0xc48($t0)    # device 2 (the UART): BASE_LO, low half
        lw $s5, 0xc54($t0)     # its line
        lbu $s6, 0xc40($t0)    # its TYPE, first character
        li $v0, 0
    """ + POWER_OFF)
    run_to_halt(m)
    assert reg(m, "s0") == int.from_bytes(b"DWMD", "little")
    assert reg(m, "s1") == 2
    assert reg(m, "s2") == 16 << 20
    assert reg(m, "s3") == 0x600
    assert reg(m, "s4") == 0x2000 and reg(m, "s5") == 0 and reg(m, "s6") == ord("U")


def test_guest_garbage_accesses_are_counted_and_harmless() -> None:
    m, dev = native()
    boot(m, f"""
        li $t0, {UART + 0xffc:#x}
        li $t1, 0xdeadbeef
        sw $t1, 0($t0)         # unknown register
        lw $s0, 0($t0)         # reads 0
        li $t0, {RTC:#x}
        sw $t1, 0($t0)         # read-only register
        li $t0, {MACHDESC:#x}
        sw $t1, 0($t0)         # read-only block
        lw $s1, 0($t0)
        li $t0, {UART:#x}
        sh $t1, 2($t0)         # a narrow write not at a register's start
        li $v0, 0
    """ + POWER_OFF)
    run_to_halt(m)
    assert reg(m, "s0") == 0 and reg(m, "s1") == int.from_bytes(b"DWMD", "little")
    assert dev.uart.errors == 3 and dev.rtc.errors == 1 and dev.machdesc.errors == 1
    assert dev.uart.output == b""
