/* cp0.c - the System Control Coprocessor registers.
 * Implements "MIPS32 Architecture for Programmers Volume III" (MD00090),
 * chapter 8 (CP0 registers) and §6.1 (interrupts, Count/Compare timer).
 * Count runs at half the CPU clock, as on the R4000 family: Count is derived
 * from the CPU's cycle counter, so it never needs a per-instruction update. */
#include "internal.h"

void cp0_update_mode(cpu *c)
{
    uint32_t st = c->a.status;
    uint32_t mode;
    if (st & (STATUS_EXL | STATUS_ERL))
        mode = MODE_KERNEL;
    else {
        mode = (st & STATUS_KSU) >> STATUS_KSU_SHIFT;
        if (mode > MODE_USER)
            mode = MODE_USER;   /* KSU = 3 is reserved; treat it as user */
    }
    c->mode = mode;
}

void cause_update_ip(cpu *c)
{
    uint32_t hw = c->a.irq_lines & 0x3F;
    if (c->a.cause & CAUSE_TI)
        hw |= 1u << (TIMER_IP - 2);
    c->a.cause = (c->a.cause & ~(0xFCu << CAUSE_IP_SHIFT)) | (hw << (CAUSE_IP_SHIFT + 2));
}

int irq_wakes(const cpu *c)
{
    return (c->a.cause & c->a.status & STATUS_IM) != 0;
}

int irq_pending(const cpu *c)
{
    uint32_t st = c->a.status;
    return (st & STATUS_IE) && !(st & (STATUS_EXL | STATUS_ERL)) && irq_wakes(c);
}

static uint32_t count_at(const cpu *c, uint64_t now)
{
    return (uint32_t)(now >> 1) + c->a.count_bias;
}

/* The first cycle after `now` at which Count equals Compare. */
void cp0_set_deadline(cpu *c, uint64_t now)
{
    uint64_t k = (uint32_t)(c->a.compare - count_at(c, now));
    if (k == 0)
        k = 1ull << 32;
    c->a.timer_deadline = ((now >> 1) + k) << 1;
}

void cp0_timer_fire(cpu *c)
{
    c->a.cause |= CAUSE_TI;
    cause_update_ip(c);
    cp0_set_deadline(c, c->a.timer_deadline);
}

uint32_t cp0_random(cpu *c, uint64_t now)
{
    uint32_t n = c->m->cfg.tlb_entries, w = c->a.wired;
    if (w >= n)
        return n - 1;
    return n - 1 - (uint32_t)((now - c->a.random_epoch) % (n - w));
}

static uint32_t config1(const cpu *c)
{
    /* M, MMUSize-1, L1I 32 KiB 2-way 64 B lines, L1D 32 KiB 2-way 32 B
     * lines (the R10000's), WR: watch registers; no FPU, no MIPS16, no EJTAG. */
    return (1u << 31) | ((c->m->cfg.tlb_entries - 1) << 25) |
           (2u << 22) | (5u << 19) | (1u << 16) |
           (3u << 13) | (4u << 10) | (1u << 7) | (1u << 3);
}

uint32_t cp0_read(cpu *c, uint32_t reg, uint32_t sel, uint64_t now)
{
    switch (reg * 8 + sel) {
    case CP0_INDEX * 8: return c->a.index;
    case CP0_RANDOM * 8: return cp0_random(c, now);
    case CP0_ENTRYLO0 * 8: return c->a.entrylo0;
    case CP0_ENTRYLO1 * 8: return c->a.entrylo1;
    case CP0_CONTEXT * 8: return c->a.context;
    case CP0_CONTEXT * 8 + 2: return c->a.userlocal;
    case CP0_PAGEMASK * 8: return c->a.pagemask;
    case CP0_WIRED * 8: return c->a.wired;
    case CP0_HWRENA * 8: return c->a.hwrena;
    case CP0_BADVADDR * 8: return c->a.badvaddr;
    case CP0_COUNT * 8: return count_at(c, now);
    case CP0_ENTRYHI * 8: return c->a.entryhi;
    case CP0_COMPARE * 8: return c->a.compare;
    case CP0_STATUS * 8: return c->a.status;
    case CP0_STATUS * 8 + 1: return (uint32_t)TIMER_IP << 29;  /* IntCtl.IPTI */
    case CP0_STATUS * 8 + 2: return 0;                         /* SRSCtl: one set */
    case CP0_CAUSE * 8: return c->a.cause;
    case CP0_EPC * 8: return c->a.epc;
    case CP0_PRID * 8: return c->a.prid;
    case CP0_PRID * 8 + 1: return c->a.ebase;
    case CP0_CONFIG * 8: return c->a.config0;
    case CP0_CONFIG * 8 + 1: return config1(c);
    case CP0_CONFIG * 8 + 2: return 1u << 31;                  /* M: Config3 follows */
    case CP0_CONFIG * 8 + 3: return 0;
    case CP0_LLADDR * 8: return c->a.lladdr;
    case CP0_WATCHLO * 8: return c->a.watchlo;
    case CP0_WATCHHI * 8: return c->a.watchhi;
    case CP0_ERROREPC * 8: return c->a.errorepc;
    default: return 0;  /* unimplemented registers read as zero */
    }
}

int cp0_write(cpu *c, uint32_t reg, uint32_t sel, uint32_t v, uint64_t now)
{
    uint32_t n = c->m->cfg.tlb_entries;
    switch (reg * 8 + sel) {
    case CP0_INDEX * 8:
        c->a.index = (c->a.index & INDEX_P) | (v & 0x3F);
        return 0;
    case CP0_ENTRYLO0 * 8: c->a.entrylo0 = v & ENTRYLO_WRITABLE; return 0;
    case CP0_ENTRYLO1 * 8: c->a.entrylo1 = v & ENTRYLO_WRITABLE; return 0;
    case CP0_CONTEXT * 8:
        c->a.context = (c->a.context & ~CONTEXT_PTEBASE) | (v & CONTEXT_PTEBASE);
        return 0;
    case CP0_CONTEXT * 8 + 2: c->a.userlocal = v; return 0;
    case CP0_PAGEMASK * 8: c->a.pagemask = v & PAGEMASK_MASK; return 0;
    case CP0_WIRED * 8:
        c->a.wired = (v & 0x3F) < n ? (v & 0x3F) : n - 1;
        c->a.random_epoch = now;
        return 0;
    case CP0_HWRENA * 8: c->a.hwrena = v & 0xF; return 0;
    case CP0_COUNT * 8:
        c->a.count_bias = v - (uint32_t)(now >> 1);
        cp0_set_deadline(c, now);
        return CP0_RESLICE;
    case CP0_ENTRYHI * 8: {
        uint32_t old = c->a.entryhi;
        c->a.entryhi = v & (ENTRYHI_VPN2 | ENTRYHI_ASID);
        return ((old ^ v) & ENTRYHI_ASID) ? CP0_RETRANSLATE : 0;
    }
    case CP0_COMPARE * 8:
        c->a.compare = v;
        c->a.cause &= ~CAUSE_TI;    /* writing Compare acknowledges the timer */
        cause_update_ip(c);
        cp0_set_deadline(c, now);
        return CP0_RESLICE;
    case CP0_STATUS * 8: {
        uint32_t old = c->a.status;
        c->a.status = (old & ~STATUS_WRITABLE) | (v & STATUS_WRITABLE);
        cp0_update_mode(c);
        if ((old ^ c->a.status) & STATUS_ERL)
            stlb_flush(c);          /* ERL unmaps kuseg for the kernel */
        return CP0_RETRANSLATE;
    }
    case CP0_CAUSE * 8:
        c->a.cause = (c->a.cause & ~CAUSE_WRITABLE) | (v & CAUSE_WRITABLE);
        return CP0_RETRANSLATE;     /* a software interrupt may now be pending */
    case CP0_EPC * 8: c->a.epc = v; return 0;
    case CP0_PRID * 8 + 1:
        c->a.ebase = (c->a.ebase & ~EBASE_WRITABLE) | (v & EBASE_WRITABLE);
        return 0;
    case CP0_CONFIG * 8: c->a.config0 = (c->a.config0 & ~7u) | (v & 7u); return 0;
    case CP0_WATCHLO * 8: c->a.watchlo = v; return 0;
    case CP0_WATCHHI * 8:
        /* I, R, W (bits 2..0) are write-one-to-clear */
        c->a.watchhi = (v & 0x40FF0FF8u) | (c->a.watchhi & 7u & ~v);
        return 0;
    case CP0_ERROREPC * 8: c->a.errorepc = v; return 0;
    default:
        return 0;   /* read-only or unimplemented: writes are ignored */
    }
}
