/* assist.c - the one way from the interpreter into the monitor's C assists.
 * An exception of a MONITORED CPU would exit to the monitor. Some the monitor
 * would serve just so, from tables it keeps equal to its own state: those
 * are served here, without an exit, by the assist that owns the table
 * (docs/monitor-abi.md "The C assists"): a kuseg TLB miss from the vCPU's
 * L2TLB (l2tlb.c, which also reflects misses the guest's own TLB must take),
 * a relocated-kseg0 miss from the VM's kseg table (ktab.c), the guest
 * kernel's CP0 instructions and a guest user's SYSCALL from the register page
 * (cp0assist.c). The interpreter charges the cost and runs on; it knows
 * nothing of Disco beyond this entry point. */
#include "internal.h"

/* a TLB miss: the L2TLB below kseg0, the kseg table above */
static int tlb_assist(dc_machine *m, cpu *c, uint32_t code, uint32_t badva, uint32_t pc,
                      int bd, uint32_t *cost)
{
    int k;
    if (badva < KSEG0) {
        if (!c->l2t || !(k = l2tlb_refill(m, c, badva, (int)code, pc, bd)))
            return 0;
        *cost = k == CP0K_COUNT + 1 ? c->l2t->cost : c->l2t->cp0_cost[k - 1];
    } else {
        if (!c->kt || !ktab_fault(c, badva, code == EXC_TLBS))
            return 0;
        *cost = c->kt->cost;
    }
    c->a.stats.l2tlb_refills++;
    return 1;
}

/* a CP0 instruction in guest kernel mode (real supervisor), a SYSCALL in guest user mode */
static int cp0_exit_assist(dc_machine *m, cpu *c, uint32_t code, uint32_t ce, uint32_t pc,
                           int bd, uint32_t *cost)
{
    uint32_t insn;
    int k = 0;
    if (!c->l2t || !c->l2t->has_regpage)
        return 0;
    if (code == EXC_SYS && c->mode == MODE_USER)
        k = sys_reflect(m, c, pc, bd);
    else if (code == EXC_CPU && ce == 0 && c->mode == MODE_SUPER && fetch_word(m, c, pc, &insn))
        k = cp0_assist(m, c, insn);
    if (!k)
        return 0;
    *cost = c->l2t->cp0_cost[k - 1];
    return 1;
}

int monitor_assist(dc_machine *m, cpu *c, uint32_t code, uint32_t badva, uint32_t ce,
                   uint32_t pc, int bd, uint32_t *cost)
{
    if (code == EXC_TLBL || code == EXC_TLBS)
        return tlb_assist(m, c, code, badva, pc, bd, cost);
    return cp0_exit_assist(m, c, code, ce, pc, bd, cost);
}
