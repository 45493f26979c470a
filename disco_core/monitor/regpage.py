"""The per-vCPU register page (paper §3.2, the IRIX HAL's "special page").

Disco let its guest kernel read and write the privileged registers that have
no side effects with ordinary loads and stores on a page the monitor maps,
instead of trapping on every MFC0/MTC0. Here each vCPU owns one 4 KiB machine
page, allocated from the memmap on its VM's home node and not part of the
VM's guest-physical memory. The guest kernel reaches it at the supervisor
address `REGPAGE_VA` (the last page of the relocated kseg0); the monitor's
relocated-kseg0 fault path maps that address to the *running* vCPU's page.

The page is the only copy of these registers: `VirtualCP0` (vcpu.py) keeps
its attribute names, but the attributes read and write the page's words, so
MFC0/MTC0 emulation and the guest's loads/stores see the same values.

The layout (word index = byte offset / 4, little-endian words) is the ABI
documented in docs/monitor-abi.md ("The register page"). Other code, such as
a native implementation of the hot exit paths, must use these constants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from disco_core.errors import DiscoError

if TYPE_CHECKING:
    from disco_core.machine import Machine

PAGE_BYTES = 4096
REGPAGE_VA = 0xDFFFF000  # the last page of the relocated kseg0 (0xC0000000 + 512 MiB - 4 KiB)
REGPAGE_VPN2_VA = REGPAGE_VA & ~0x1FFF  # the even/odd TLB pair it belongs to
# guest pages at or above this would alias the page (or its pair partner)
MAX_GUEST_PAGES = (REGPAGE_VPN2_VA - 0xC0000000) >> 12

# word index of each register (byte offset = 4 * index); fixed by the ABI
STATUS = 0
CAUSE = 1
EPC = 2
BADVADDR = 3
ENTRYHI = 4
ENTRYLO0 = 5
ENTRYLO1 = 6
CONTEXT = 7
PAGEMASK = 8
INDEX = 9
EBASE = 10
ERROREPC = 11
USERLOCAL = 12
# not a register: a word the guest kernel keeps for itself (as MIPS32r2's KScratch
# registers), e.g. to free a third register in its TLB refill handler. The monitor
# never reads or writes it except to zero it at reset.
KSCRATCH = 13
WORDS = 14  # words in use; the rest of the page reads as zero and is reserved

# the VirtualCP0 attribute stored in each word
FIELDS = {
    "status": STATUS, "cause": CAUSE, "epc": EPC, "badvaddr": BADVADDR,
    "entryhi": ENTRYHI, "entrylo0": ENTRYLO0, "entrylo1": ENTRYLO1, "context": CONTEXT,
    "pagemask": PAGEMASK, "index": INDEX, "ebase": EBASE, "errorepc": ERROREPC,
    "userlocal": USERLOCAL,
}


class RegisterPageError(DiscoError):
    """A register page that cannot be used (wrong size or alignment)."""


def private_words() -> memoryview:
    """Words for a VirtualCP0 that has no machine page (standalone use in tests)."""
    return np.zeros(PAGE_BYTES // 4, dtype=np.uint32).data.cast("B").cast("I")


def words_of(page: np.ndarray) -> memoryview:
    """The page's words as a memoryview of uint32: indexing gives Python ints
    (faster than numpy scalars on every access) and a store of a value that
    does not fit in 32 bits is an error, not a silent wrap."""
    if page.dtype != np.uint8 or page.size != PAGE_BYTES:
        raise RegisterPageError(
            f"a register page is {PAGE_BYTES} bytes of uint8, not {page.size} of {page.dtype}")
    return page.view(np.uint32).data.cast("B").cast("I")


def machine_words(machine: Machine, mpn: int) -> memoryview:
    """The words of machine page `mpn`, through a zero-copy view of RAM."""
    return words_of(machine.phys_view(mpn << 12, PAGE_BYTES))


def word_offset(index: int) -> int:
    """The byte offset of a word, as the guest's loads and stores use it."""
    if not 0 <= index < WORDS:
        raise RegisterPageError(f"register-page word {index} does not exist (0..{WORDS - 1})")
    return 4 * index
