"""The ns16550a: the registers Linux's 8250 driver uses, its interrupts and FIFO."""

from __future__ import annotations

import pytest

from disco_core.devices import ns16550 as u
from disco_core.devices.ns16550 import Ns16550
from disco_core.devices.registers import InterruptRouter
from disco_core.errors import SnapshotError
from disco_core.machine import Machine


@pytest.fixture()
def uart():
    m = Machine(cpus=1, ram_bytes=1 << 20)
    dev = Ns16550(InterruptRouter(m), line=0)
    yield dev, m
    m.close()


def rd(dev: Ns16550, reg: int) -> int:
    return dev.read(reg << u.REG_SHIFT, 4)


def wr(dev: Ns16550, reg: int, value: int) -> None:
    dev.write(reg << u.REG_SHIFT, 4, value)


def line_high(m: Machine) -> bool:
    return bool(m.cpus[0].cp0(13) & (1 << 10))  # Cause.IP2


def test_transmit_is_immediate_and_lsr_says_empty(uart) -> None:
    dev, _ = uart
    for ch in b"hi\n":
        assert rd(dev, u.LSR) & (u.LSR_THRE | u.LSR_TEMT) == u.LSR_THRE | u.LSR_TEMT
        wr(dev, u.RBR_THR_DLL, ch)
    assert dev.take_output() == b"hi\n"
    assert dev.errors == 0


def test_thre_interrupt_is_raised_by_enabling_and_cleared_by_reading_iir(uart) -> None:
    dev, m = uart
    assert rd(dev, u.IIR_FCR) & 0x0F == u.IIR_NO_INT
    wr(dev, u.IER_DLM, u.IER_THRI)
    assert line_high(m)
    assert rd(dev, u.IIR_FCR) & 0x0F == u.IIR_THRI
    assert rd(dev, u.IIR_FCR) & 0x0F == u.IIR_NO_INT  # the read acknowledged it
    assert not line_high(m)
    wr(dev, u.RBR_THR_DLL, ord("x"))                  # the transmitter empties again
    assert line_high(m)
    wr(dev, u.IER_DLM, 0)
    assert not line_high(m)
    wr(dev, u.IER_DLM, u.IER_THRI)                   # re-enabling re-asserts (8250's test)
    assert rd(dev, u.IIR_FCR) & 0x0F == u.IIR_THRI


def test_receive_fifo_trigger_levels_and_timeout_kind(uart) -> None:
    dev, m = uart
    wr(dev, u.IIR_FCR, u.FCR_ENABLE | u.FCR_CLEAR_RX | (2 << 6))  # trigger at 8
    assert rd(dev, u.IIR_FCR) & u.IIR_FIFOS == u.IIR_FIFOS
    wr(dev, u.IER_DLM, u.IER_RDI)
    dev.feed(b"abc")
    assert line_high(m)
    assert rd(dev, u.IIR_FCR) & 0x0F == u.IIR_TIMEOUT  # below the trigger level
    dev.feed(b"defghijklmnopqrstuvwxyz")              # more than the 16-byte FIFO
    assert rd(dev, u.IIR_FCR) & 0x0F == u.IIR_RDI
    got = bytearray()
    while rd(dev, u.LSR) & u.LSR_DR:
        got.append(rd(dev, u.RBR_THR_DLL))
    assert bytes(got) == b"abcdefghijklmnopqrstuvwxyz"  # the line queue refilled the FIFO
    assert not line_high(m)
    assert dev.dropped == 0


def test_fifo_off_holds_one_byte_and_clear_empties(uart) -> None:
    dev, _ = uart
    dev.feed(b"xy")
    assert len(dev.fifo) == 1
    assert rd(dev, u.RBR_THR_DLL) == ord("x")
    assert rd(dev, u.RBR_THR_DLL) == ord("y")
    assert rd(dev, u.LSR) & u.LSR_DR == 0
    wr(dev, u.IIR_FCR, u.FCR_ENABLE)
    dev.feed(b"12345")
    wr(dev, u.IIR_FCR, u.FCR_ENABLE | u.FCR_CLEAR_RX)
    assert len(dev.fifo) == 0 and rd(dev, u.LSR) & u.LSR_DR == 0  # the clear dropped them


def test_divisor_latch_scratch_and_loopback(uart) -> None:
    dev, _ = uart
    wr(dev, u.LCR, u.LCR_DLAB | 3)
    wr(dev, u.RBR_THR_DLL, 0x01)
    wr(dev, u.IER_DLM, 0x02)
    assert (rd(dev, u.RBR_THR_DLL), rd(dev, u.IER_DLM)) == (0x01, 0x02)
    wr(dev, u.LCR, 3)
    assert rd(dev, u.IER_DLM) == 0  # IER, not DLM
    wr(dev, u.SCR, 0x5A)
    assert rd(dev, u.SCR) == 0x5A
    wr(dev, u.MCR, u.MCR_LOOP | u.MCR_RTS | u.MCR_OUT2)
    assert rd(dev, u.MSR) & 0xF0 == u.MSR_CTS | u.MSR_DCD
    wr(dev, u.RBR_THR_DLL, 0x42)
    assert rd(dev, u.RBR_THR_DLL) == 0x42 and dev.output == b""
    wr(dev, u.MCR, 0)
    assert rd(dev, u.MSR) & 0xF0 == u.MSR_CTS | u.MSR_DSR | u.MSR_DCD


def test_bad_accesses_are_counted_not_raised(uart) -> None:
    dev, _ = uart
    assert dev.read(0x40, 4) == 0
    dev.write(u.LSR << u.REG_SHIFT, 4, 0xFF)
    dev.write(2, 2, 1)
    assert dev.errors == 3


def test_snapshot_round_trip(uart) -> None:
    dev, m = uart
    wr(dev, u.IIR_FCR, u.FCR_ENABLE)
    wr(dev, u.IER_DLM, u.IER_RDI)
    dev.feed(b"hello world, more than sixteen bytes")
    wr(dev, u.RBR_THR_DLL, ord("!"))
    blob = dev.snapshot()
    other = Ns16550(InterruptRouter(m), line=0)
    other.restore(blob)
    assert other.snapshot() == blob
    assert bytes(other.fifo + other.queue) == b"hello world, more than sixteen bytes"
    with pytest.raises(SnapshotError):
        other.restore(blob[:-3])
