"""UART, RTC, IPI, power control and the interrupt router through their registers."""

from __future__ import annotations

from disco_core.devices import RealTimeClock
from disco_core.devices import ipi as i
from disco_core.devices import power as p
from disco_core.devices import rtc as r
from disco_core.devices import uart as u
from disco_core.devices.layout import DEFAULT_EPOCH, IPI_LINE, UART_LINE
from disco_core.machine import ExitReason
from tests.devices.helpers import native


def ip(line: int) -> int:
    return 1 << (10 + line)


def test_uart_fifo_status_and_interrupt_causes() -> None:
    m, dev = native(cpus=2)
    uart = dev.uart
    assert uart.read(u.DATA, 4) == u.EMPTY
    assert uart.read(u.LINE_STATUS, 4) == u.LS_TX_READY
    uart.feed(b"xy")
    assert uart.read(u.LINE_STATUS, 4) == u.LS_TX_READY | u.LS_RX_READY
    assert uart.read(u.RX_COUNT, 4) == 2 and m.cpus[0].cp0(13) & ip(UART_LINE)
    uart.write(u.STATUS, 4, u.RX)  # bytes remain: RX stays pending
    assert uart.read(u.STATUS, 4) == u.RX
    assert uart.read(u.DATA, 1) == ord("x") and uart.read(u.DATA, 4) == ord("y")
    uart.write(u.STATUS, 4, u.RX)
    assert uart.read(u.STATUS, 4) == 0 and not m.cpus[0].cp0(13) & ip(UART_LINE)
    # TX interrupts are off by default; enabled and aimed at CPU 1 they fire there
    uart.write(u.IRQ_ENABLE, 4, u.RX | u.TX)
    uart.write(u.TARGET_CPU, 4, 1)
    uart.write(u.DATA, 1, ord("!"))
    assert m.cpus[1].cp0(13) & ip(UART_LINE) and not m.cpus[0].cp0(13) & ip(UART_LINE)
    assert uart.take_output() == b"!" and uart.output == b""
    uart.feed(b"z" * (u.RX_CAPACITY + 5))
    assert uart.read(u.RX_OVERRUNS, 4) == 5 and uart.read(u.RX_COUNT, 4) == u.RX_CAPACITY


def test_rtc_reports_simulated_time_from_cycles() -> None:
    m, _ = native()
    cycles = [0]
    rtc = RealTimeClock(m, clock_hz=100_000_000, epoch=1000, cycles=lambda: cycles[0])
    assert rtc.read(r.SECONDS, 4) == 1000 and rtc.read(r.NANOSECONDS, 4) == 0
    cycles[0] = 250_000_003  # 2.50000003 s at 100 MHz
    assert rtc.read(r.SECONDS, 4) == 1002 and rtc.read(r.NANOSECONDS, 4) == 500_000_030
    cycles[0] = 100_000_000 * 5000  # the 64-bit microsecond count latches its high half
    assert rtc.read(r.UPTIME_LO, 4) == 5_000_000_000 & 0xFFFFFFFF
    cycles[0] = 0
    assert rtc.read(r.UPTIME_HI, 4) == 1
    assert rtc.read(r.CLOCK_HZ, 4) == 100_000_000 and rtc.read(r.EPOCH, 4) == 1000


def test_rtc_advances_with_the_machine_not_the_host() -> None:
    m, dev = native()
    m.write_phys(0x1000, bytes.fromhex("ffff0010 00000000"))  # b . ; nop
    m.cpus[0].set_cp0(12, 0)
    m.cpus[0].pc = 0x80001000
    assert dev.rtc.read(r.SECONDS, 4) == DEFAULT_EPOCH
    assert dev.rtc.read(r.UPTIME_LO, 4) == 0
    m.run(200_000)  # 1 ms at 200 MHz
    assert dev.rtc.read(r.UPTIME_LO, 4) == 1000
    assert dev.rtc.read(r.SECONDS, 4) == DEFAULT_EPOCH
    assert dev.rtc.read(r.NANOSECONDS, 4) == 1_000_000


def test_ipi_masks_pending_senders_and_lines() -> None:
    m, dev = native(cpus=3)
    ipi = dev.ipi
    assert ipi.read(i.NCPUS, 4) == 3 and ipi.read(i.LINE, 4) == IPI_LINE
    ipi.write(i.slot(2) + i.SEND_LO, 4, 0b011)  # CPU 2 interrupts CPUs 0 and 1
    ipi.write(i.slot(1) + i.SEND_LO, 4, 0b001)  # CPU 1 interrupts CPU 0
    assert ipi.read(i.slot(0) + i.PENDING_LO, 4) == 0b110
    assert ipi.read(i.slot(1) + i.PENDING_LO, 4) == 0b100
    assert [bool(c.cp0(13) & ip(IPI_LINE)) for c in m.cpus] == [True, True, False]
    ipi.write(i.slot(0) + i.PENDING_LO, 4, 0b100)  # CPU 0 acknowledges CPU 2 only
    assert m.cpus[0].cp0(13) & ip(IPI_LINE)
    ipi.write(i.slot(0) + i.PENDING_LO, 4, 0b010)
    assert not m.cpus[0].cp0(13) & ip(IPI_LINE) and m.cpus[1].cp0(13) & ip(IPI_LINE)
    ipi.write(i.slot(0) + i.SEND_LO, 4, 0b1000)  # there is no CPU 3
    ipi.write(i.slot(0) + i.SEND_HI, 4, 1)
    ipi.write(i.slot(3) + i.SEND_LO, 4, 1)  # no slot for CPU 3
    assert ipi.errors == 3 and ipi.read(i.slot(0) + i.PENDING_LO, 4) == 0
    assert ipi.read(i.slot(0) + i.PENDING_HI, 4) == 0 and ipi.read(i.slot(3), 4) == 0


def test_shared_lines_stay_high_while_any_source_is_high(tmp_path) -> None:
    m, dev = native(cpus=2)
    router = dev.router
    router.drive("a", 0, 4, True)
    router.drive("b", 0, 4, True)
    router.drive("a", 0, 4, False)
    assert m.cpus[0].cp0(13) & ip(4)
    router.drive("b", 1, 4, True)  # b moves to CPU 1
    assert not m.cpus[0].cp0(13) & ip(4) and m.cpus[1].cp0(13) & ip(4)


def test_power_off_and_reset_request() -> None:
    m, dev = native()
    pw = dev.power
    assert pw.read(p.REQUEST, 4) == p.PowerRequest.NONE
    pw.write(p.RESET, 4, 3)
    assert m.halted and pw.reset_requested and pw.read(p.CODE, 4) == 3
    assert m.run(10).reason == ExitReason.HALT
    pw.clear()
    assert pw.request == p.PowerRequest.NONE
    m2, dev2 = native()
    dev2.power.write(p.POWER_OFF, 4, 0xFFFFFFFF)
    assert m2.halted and m2.halt_code == 0xFFFFFFFF
    assert dev2.power.request == p.PowerRequest.OFF
