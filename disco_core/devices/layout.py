"""Where the native machine's devices live and which interrupt lines they use.

One page (4 KiB) of physical address space per device, in the device window
below 512 MiB so kseg1 (0xA0000000 + pa) reaches every register uncached.
docs/devices.md holds the same table; keep the two in step.
"""

from __future__ import annotations

PAGE = 0x1000

MACHDESC_BASE = 0x1F000000
POWER_BASE = 0x1F001000
UART_BASE = 0x1F002000
RTC_BASE = 0x1F003000
IPI_BASE = 0x1F004000
DISK_BASE = 0x1F010000  # disk controller i at DISK_BASE + i * PAGE
NIC_BASE = 0x1F020000  # network interface i at NIC_BASE + i * PAGE

MAX_DISKS = 8
MAX_NICS = 8

# Hardware interrupt lines (line n is Cause.IP(n+2)). Line 4 is kept for the
# fabric's node controllers; line 5 is shared with the Count/Compare timer.
UART_LINE = 0
DISK_LINE = 1
NIC_LINE = 2
IPI_LINE = 3
NO_LINE = 0xFFFFFFFF

KSEG1 = 0xA0000000

# The Disco paper's conference opened on 5 October 1997 (00:00 UTC): a fixed
# epoch keeps the RTC deterministic.
DEFAULT_EPOCH = 876009600
DEFAULT_CLOCK_HZ = 200_000_000


def disk_base(unit: int) -> int:
    return DISK_BASE + unit * PAGE


def nic_base(unit: int) -> int:
    return NIC_BASE + unit * PAGE
