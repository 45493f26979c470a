"""Simulated cycles per MiB sent over the virtual network, remapping vs copying.

    python bench/vnet_transfer.py [--mib N]

Two VMs on a 2-CPU machine (tests/monitor/net_guests.py): VM 0 fills N MiB
of page-aligned memory and sends it to VM 1 in one NET_SEND; VM 1 waits for
the network interrupt and takes it with one NET_RECV into a page-aligned
buffer. Each side reads Count around its call, so the figure is the
simulated cycles of the two calls (trap, monitor call, and the remapping or
copying charged by the cost model, disco_core/monitor/costs.py). Three runs:
remapping (the default), the same buffers with remapping switched off
(`Monitor.vnet.remap = False`: every byte copied into the monitor's queue
and out again), and an unaligned receive buffer (copied because of where it
is). The last line is `copy_over_remap_ratio: X`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from disco_core.machine import Machine  # noqa: E402
from disco_core.monitor import Monitor, VMSpec  # noqa: E402
from disco_core.monitor.vnet import LINK_BASE  # noqa: E402
from tests.monitor import guests, net_guests  # noqa: E402

SRC, DST = 0x100000, 0x400000


def transfer(nbytes: int, remap: bool, dst: int = DST) -> tuple[int, int, int]:
    """(send cycles, receive cycles, pages remapped) for one message of nbytes."""
    m = Machine(cpus=2, ram_bytes=64 << 20)
    mon = Monitor(m)
    mon.vnet.remap = remap
    pages = (dst + nbytes) // 4096 + 8
    codes = [net_guests.build(net_guests.SENDER, SRC=SRC, LEN=nbytes, DEST=LINK_BASE | 1),
             net_guests.build(net_guests.RECEIVER, DST=dst, CAP=nbytes)]
    vms = []
    for i, code in enumerate(codes):
        vm = mon.create_vm(VMSpec(f"vm{i}", memory_pages=pages, home_nodes=[0],
                                  image=[(guests.CODE_PA, code)],
                                  entry=guests.DISCO_KB + guests.CODE_PA))
        mon.start_vm(vm)
        vms.append(vm)
    if mon.run(10**10) != "stopped" or any(v.stop_reason != "exit(0)" for v in vms):
        raise SystemExit(f"the transfer failed: {mon.reports}")
    words = [[int.from_bytes(v.read_guest(0x5000 + 4 * i, 4), "little") for i in range(2)]
             for v in vms]
    if words[0][0] != 0 or words[1][0] != nbytes:
        raise SystemExit(f"the transfer failed: results {words}")
    # Count runs at half the clock
    return 2 * words[0][1], 2 * words[1][1], vms[1].stats.count.get("net_remap", 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=1, help="MiB per message (default 1)")
    args = ap.parse_args()
    nbytes = args.mib << 20
    per_mib = {}
    for name, remap, dst in (("remap", True, DST), ("forced_copy", False, DST),
                             ("unaligned_copy", True, DST + 8)):
        send, recv, remapped = transfer(nbytes, remap, dst)
        per_mib[name] = (send + recv) / args.mib
        print(f"{name:15s} send {send:>10,} cycles  receive {recv:>10,} cycles  "
              f"pages remapped {remapped:>5}  {per_mib[name]:>12,.0f} cycles/MiB")
    print(f"copy_over_remap_ratio: {per_mib['forced_copy'] / per_mib['remap']:.1f}")


if __name__ == "__main__":
    main()
