"""The Disco virtual machine monitor (PAPER.md §2; docs/monitor-abi.md).

One module per Disco mechanism: vcpu (virtual CPU, virtual CP0 and TLB),
emulate (trap-and-emulate, exception reflection), pmap (per VM physical →
machine), memmap (per machine page, allocator), l2tlb (second-level software
TLB), vm, costs (cycles charged for monitor work), stats, monitor (run loop,
scheduler, fault containment).
"""

from disco_core.monitor.costs import CostModel
from disco_core.monitor.monitor import Monitor, run_vms
from disco_core.monitor.vm import RELOCATED_KSEG0, VM, VMSpec, VMState

__all__ = ["RELOCATED_KSEG0", "VM", "CostModel", "Monitor", "VMSpec", "VMState", "run_vms"]
