"""The Disco virtual machine monitor (PAPER.md §2; docs/monitor-abi.md, docs/monitor-layout.md).

One module per Disco mechanism: the run loop and exit dispatch (monitor), the
vCPU scheduler (scheduler), TLB misses (tlbmiss), the hardware TLBs and ASID
remapping (hwtlb), virtual interrupts and the timer (vintr), monitor calls
(mcall), trap-and-emulate (emulate), containment checks (invariants), the
per-vCPU state (vcpu, regpage), the per-VM pmap and the machine-wide memmap,
the L2TLB, the NUMA manager, sharing (diskcache, contentshare), the virtual
network and disks (vnet, vdisk), the C assists (assist), the cost model,
statistics and the event log. They share a narrow context (context), and
each saves its state as a versioned section (sections).
"""

from disco_core.monitor.costs import CostModel
from disco_core.monitor.monitor import Monitor, RunResult, run_vms
from disco_core.monitor.vm import RELOCATED_KSEG0, VM, VMSpec, VMState

__all__ = ["RELOCATED_KSEG0", "VM", "CostModel", "Monitor", "RunResult", "VMSpec", "VMState",
           "run_vms"]
