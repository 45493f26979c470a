"""The paper's numbers (Bugnion et al., SOSP'97, §5; the project's PAPER.md §3), keyed
like our experiments' rows so the report can put them side by side."""

from __future__ import annotations

from typing import Any

NUMBERS: dict[str, dict[str, Any]] = {
    # Figure 5: uniprocessor overhead, IRIX = 100 (only the totals are in the text)
    "fig5": {"pmake": 116, "engineering": 106, "raytrace": 103, "database": 116},
    # Table 2: Pmake's service breakdown, relative to IRIX (per service in the paper)
    "table2": {
        "DEMAND_ZERO": {"slowdown": 1.42, "kernel": 0.43, "tlb_write": 0.21,
                        "privileged": 0.16, "monitor_call": 0.47, "kernel_tlb_fault": 0.16},
        "QUICK_FAULT": {"slowdown": 3.17, "kernel": 1.27, "tlb_write": 0.80,
                        "privileged": 0.56, "monitor_call": 0.00, "kernel_tlb_fault": 0.53},
        "open": {"slowdown": 1.63, "kernel": 1.16, "tlb_write": 0.08, "privileged": 0.06,
                 "monitor_call": 0.02, "kernel_tlb_fault": 0.30},
        "UTLB_MISS": {"slowdown": 1.35, "kernel": 0.07, "tlb_write": 1.22, "privileged": 0.05,
                      "monitor_call": 0.00, "kernel_tlb_fault": 0.02},
        "write": {"slowdown": 2.14, "kernel": 1.01, "tlb_write": 0.24, "privileged": 0.21,
                  "monitor_call": 0.31, "kernel_tlb_fault": 0.17},
        "read": {"slowdown": 1.53, "kernel": 1.10, "tlb_write": 0.13, "privileged": 0.09,
                 "monitor_call": 0.01, "kernel_tlb_fault": 0.20},
        "execve": {"slowdown": 1.60, "kernel": 0.97, "tlb_write": 0.03, "privileged": 0.05,
                   "monitor_call": 0.17, "kernel_tlb_fault": 0.40},
    },
    # Figure 6: footprint in MB, V (virtual, no sharing) and M (machine)
    "fig6": {"V": {"IRIX": 23, "1": 27, "2": 36, "4": 51, "8": 77, "8+NFS": 81},
             "M": {"IRIX": 23, "1": 27, "2": 29, "4": 33, "8": 38, "8+NFS": 40}},
    # Figure 7: pmake on 8 CPUs, IRIX = 100
    "fig7": {"IRIX": 100, "1": 136, "2": 92, "4": 64, "8": 60, "8+NFS": 86},
    # Figure 8: normalised time and local misses (%)
    "fig8": {"engineering": {"round_robin": (100, 16), "migrate_replicate": (67, 78),
                             "uma": (48, 100)},
             "raytrace": {"round_robin": (100, 6), "migrate_replicate": (62, 76),
                          "uma": (49, 100)}},
    # Table 3: hot-page actions per second and their average cost (µs)
    "table3": {"engineering": {"migration": (2461, 67), "replication": (2208, 57)},
               "raytrace": {"migration": (909, 102), "replication": (2671, 73)}},
}
