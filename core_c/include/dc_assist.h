/* dc_assist.h - the monitor's C assists: the public C API's second part.
 *
 * Tables the Disco monitor owns, made and filled through these calls and
 * bound to a CPU while the vCPU they belong to runs there; the interpreter
 * reaches them through one entry point (core_c/assist.c) when an exception
 * of a MONITORED CPU could be served without an exit. A machine without a
 * monitor never calls them. Read by the compiler and by cffi like dc.h (no
 * #include, no conditionals): include it after dc.h, whose types it uses;
 * core_c/build.py concatenates the two in that order into the cdef.
 */

/* The monitor's C assists (DESIGN §3 "C assists", docs/monitor-abi.md).
 *
 * Hardware TLB management: under the monitor each entry is keyed by (VPN2,
 * ASID), asid 256 = global (G in both halves). Install overwrites the entry
 * with the same key, else drops every entry that could match the same
 * address (same VPN2 and the same ASID, or either global) and writes at the
 * CPU's next index of a round robin over the whole TLB. Remove drops the
 * entry with that key; invalidate_mpn drops, on every CPU, each entry with a
 * half mapping machine page mpn. */
dc_err dc_hw_install(dc_machine *m, uint32_t cpu, uint32_t vpn2_va, uint32_t asid,
                     uint32_t lo0, uint32_t lo1);
dc_err dc_hw_remove(dc_machine *m, uint32_t cpu, uint32_t vpn2_va, uint32_t asid);
dc_err dc_hw_invalidate_mpn(dc_machine *m, uint32_t mpn);

/* L2TLB tables, one per vCPU (handles from 1; 0 = none), holding the pairs
 * of a monitor L2TLB of up to `entries` entries. A slot holds the pair (vpn2,
 * asid): for each half whether the monitor's L2TLB has it (present bit 0 =
 * even, bit 1 = odd) and its EntryLo; put with present = 0 forgets the pair.
 * The monitor keeps every pair here, so a pair that is not here is not in its
 * L2TLB. The table bound to a MONITORED CPU serves its kuseg TLBL/TLBS
 * without an exit: the page under the current ASID (the register page's
 * EntryHi when the table has one) or the global one (stores need D), the
 * pair's other half from the same key, installed as above; `cost` cycles are
 * charged. take reads and restarts {refills, L2TLB hits, L2TLB misses of the
 * reflections served (below)}. dump writes 4 words per pair (vpn2, asid, lo0,
 * lo1 with bit 31 = present) and sets *n to the number of pairs. */
dc_err dc_l2tlb_new(dc_machine *m, uint32_t cost, uint32_t entries, uint32_t *handle);
dc_err dc_l2tlb_free(dc_machine *m, uint32_t handle);
dc_err dc_l2tlb_put(dc_machine *m, uint32_t handle, uint32_t vpn2, uint32_t asid,
                    uint32_t present, uint32_t lo0, uint32_t lo1);
dc_err dc_l2tlb_clear(dc_machine *m, uint32_t handle);
dc_err dc_l2tlb_dump(dc_machine *m, uint32_t handle, uint32_t *out, uint32_t max,
                     uint32_t *n);
dc_err dc_l2tlb_take(dc_machine *m, uint32_t handle, uint64_t out[3]);
/* The vCPU's virtual TLB, mirrored: reset to n zero entries; set entry i as
 * the guest wrote it (G apart, as vcpu.py TlbEntry). With it and a register
 * page, a kuseg miss that the L2TLB does not serve and the virtual TLB has no
 * valid entry for (or only a read-only one, for a store) is reflected into the
 * guest (its refill vector when no entry matches), as Monitor._tlb_fault does. */
dc_err dc_vtlb_reset(dc_machine *m, uint32_t handle, uint32_t n);
dc_err dc_vtlb_set(dc_machine *m, uint32_t handle, uint32_t i, uint32_t hi, uint32_t lo0,
                   uint32_t lo1, uint32_t mask, uint32_t g);
dc_err dc_l2tlb_bind(dc_machine *m, uint32_t cpu, uint32_t handle);

/* Privileged exits of the vCPU whose table (above) is bound, served from its
 * register page at physical `regpage_pa` (docs/monitor-abi.md "The register
 * page"): from guest kernel mode (supervisor, CpU 0) MFC0 of a page register;
 * MTC0 with the write masks of a page register, Status (the real Status
 * becomes real_super in guest kernel mode, else real_user), EntryHi (the real
 * ASID follows) or Cause; DI; EI; ERET; and a SYSCALL from guest user mode,
 * reflected to the guest's general vector. None is served when it would leave
 * an interrupt deliverable (the monitor delivers it). The kind's cost is
 * charged: costs[] and take's counts are {mfc0, mtc0, di, ei, eret, reflect,
 * tlbp, tlbr}; TLBP and TLBR need the virtual TLB copy (below), and a TLBP that
 * misses is served only when the L2TLB holds nothing for the page.
 * Everything else exits as before. */
dc_err dc_cp0_assist(dc_machine *m, uint32_t handle, uint64_t regpage_pa, const uint32_t *costs,
                     uint32_t real_super, uint32_t real_user);
dc_err dc_cp0_take(dc_machine *m, uint32_t handle, uint64_t out[8]);
/* an ERET served in C entered guest user mode since the last call (then 0 again) */
dc_err dc_vcpu_progressed(dc_machine *m, uint32_t handle, uint32_t *out);

/* Relocated-kseg0 tables, one per VM: for guest page pair gpn / 2 on a node,
 * the EntryLo pair the monitor installs for VA 0xC0000000 + gpn * 4096 (both
 * 0 = unknown). The table bound to a MONITORED CPU serves its refills there
 * (a global entry, installed as above) when the pair is known, the touched
 * half valid and, for a store, writable; the register page's pair
 * (0xDFFFE000) never. A table with one node serves every node. */
dc_err dc_ktab_new(dc_machine *m, uint32_t npages, uint32_t nodes, uint32_t cost,
                   uint32_t *handle);
dc_err dc_ktab_set(dc_machine *m, uint32_t handle, uint32_t node, uint32_t gpn, uint32_t lo0,
                   uint32_t lo1);
dc_err dc_ktab_forget(dc_machine *m, uint32_t handle, uint32_t gpn);  /* every node */
dc_err dc_ktab_clear(dc_machine *m, uint32_t handle);  /* every pair unknown again */
dc_err dc_ktab_get(dc_machine *m, uint32_t handle, uint32_t node, uint32_t gpn,
                   uint32_t out[2]);
dc_err dc_ktab_take(dc_machine *m, uint32_t handle, uint64_t *served);
dc_err dc_ktab_bind(dc_machine *m, uint32_t cpu, uint32_t handle);
