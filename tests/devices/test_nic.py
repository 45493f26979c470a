"""The network interface and its links, driven through registers from Python."""

from __future__ import annotations

import pytest

from disco_core.devices import HostLink, LoopbackLink, link_pair
from disco_core.devices import nic as n
from disco_core.devices.layout import NIC_LINE
from disco_core.errors import DiscoError
from tests.devices.helpers import native

IP = 1 << (10 + NIC_LINE)


def arm(nic: n.NetworkInterface, pa: int, size: int) -> None:
    nic.write(n.RX_ADDR, 4, pa)
    nic.write(n.RX_SIZE, 4, size)
    nic.write(n.RX_CMD, 4, n.CMD_ARM)


def send(nic: n.NetworkInterface, pa: int, length: int) -> int:
    nic.write(n.TX_ADDR, 4, pa)
    nic.write(n.TX_LEN, 4, length)
    nic.write(n.TX_CMD, 4, n.CMD_SEND)
    return nic.read(n.TX_ERROR, 4)


def test_loopback_frame_of_the_maximum_size() -> None:
    m, dev = native(links=[LoopbackLink()])
    nic = dev.nics[0]
    frame = bytes(i * 7 & 0xFF for i in range(n.MAX_FRAME))
    m.write_phys(0x100000, frame)
    arm(nic, 0x200000, n.MAX_FRAME)
    assert send(nic, 0x100000, n.MAX_FRAME) == n.ERR_NONE
    assert nic.read(n.STATUS, 4) == n.TX_DONE | n.RX_DONE
    assert nic.read(n.RX_LEN, 4) == n.MAX_FRAME and nic.read(n.RX_CMD, 4) == 0
    assert m.read_phys(0x200000, n.MAX_FRAME) == frame
    assert m.cpus[0].cp0(13) & IP
    nic.write(n.STATUS, 4, n.TX_DONE | n.RX_DONE)
    assert not m.cpus[0].cp0(13) & IP
    assert send(nic, 0x100000, n.MAX_FRAME + 1) == n.ERR_BAD_LENGTH
    assert send(nic, 0x100000, 0) == n.ERR_BAD_LENGTH
    assert nic.read(n.STATUS, 4) == n.TX_DONE | n.TX_FAILED


def test_frames_wait_in_the_interface_until_a_descriptor_is_armed() -> None:
    link = HostLink()
    m, dev = native(links=[link])
    nic = dev.nics[0]
    for i in range(n.RX_QUEUE_FRAMES + 3):
        link.deliver(bytes([i]) * 60)
    link.deliver(b"x" * (n.MAX_FRAME + 1))  # too big for any interface
    assert nic.read(n.RX_QUEUED, 4) == n.RX_QUEUE_FRAMES
    assert nic.read(n.RX_DROPPED, 4) == 4
    assert nic.read(n.STATUS, 4) == 0  # nothing received until the guest asks
    arm(nic, 0x1000, 64)
    assert m.read_phys(0x1000, 60) == bytes([0]) * 60
    arm(nic, 0x1000, 16)  # too small: the frame is dropped, its length reported
    assert nic.read(n.RX_ERROR, 4) == n.ERR_TOO_SMALL and nic.read(n.RX_LEN, 4) == 60
    arm(nic, 0x1F800000, 64)  # not RAM
    assert nic.read(n.RX_ERROR, 4) == n.ERR_BAD_ADDRESS
    assert nic.read(n.STATUS, 4) == n.RX_DONE | n.RX_FAILED
    arm(nic, 0x1000, 64)
    assert nic.read(n.RX_ERROR, 4) == n.ERR_NONE and m.read_phys(0x1000, 1) == b"\x03"
    assert nic.read(n.RX_FRAMES, 4) == 2 and nic.read(n.RX_DROPPED, 4) == 6
    # the host sees what the guest sends
    m.write_phys(0x5000, b"ping")
    assert send(nic, 0x5000, 4) == n.ERR_NONE and link.sent == [b"ping"]
    assert send(nic, 0x1FFFFFF0, 64) == n.ERR_BAD_ADDRESS
    assert nic.read(n.TX_FRAMES, 4) == 1


def test_two_interfaces_on_a_pair_link() -> None:
    a_end, b_end = link_pair()
    ma, a = native(links=[a_end], macs=[bytes.fromhex("020000000001")])
    mb, b = native(links=[b_end], macs=[bytes.fromhex("020000000002")])
    assert a.nics[0].read(n.MAC_HI, 4) == 0x0100 and b.nics[0].read(n.MAC_HI, 4) == 0x0200
    arm(b.nics[0], 0x3000, 1500)
    ma.write_phys(0x1000, b"frame from a")
    assert send(a.nics[0], 0x1000, 12) == n.ERR_NONE
    assert mb.read_phys(0x3000, 12) == b"frame from a"
    assert a.nics[0].read(n.STATUS, 4) == n.TX_DONE
    assert b.nics[0].read(n.STATUS, 4) == n.RX_DONE and mb.cpus[0].cp0(13) & IP


def test_no_cable_and_plugging() -> None:
    m, dev = native(links=[None])
    nic = dev.nics[0]
    assert nic.read(n.LINK, 4) == 0
    m.write_phys(0x1000, b"abcd")
    assert send(nic, 0x1000, 4) == n.ERR_NO_LINK
    link = LoopbackLink()
    nic.plug(link)
    assert nic.read(n.LINK, 4) == 1
    with pytest.raises(DiscoError, match="already plugged"):
        native(links=[link])
    nic.write(n.TX_CMD, 4, 7)  # not a command
    nic.write(n.RX_CMD, 4, 7)
    assert nic.errors == 2 and nic.read(n.TX_FRAMES, 4) == 0
