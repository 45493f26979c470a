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

/* While Cause.DC is set Count stands still (PRA §9.1, Cause.DC, Release 2) and
 * count_bias holds Count itself. */
static uint32_t count_at(const cpu *c, uint64_t now)
{
    if (c->a.cause & CAUSE_DC)
        return c->a.count_bias;
    return (uint32_t)(now >> 1) + c->a.count_bias;
}

/* The first cycle after `now` at which Count equals Compare (never while DC). */
void cp0_set_deadline(cpu *c, uint64_t now)
{
    if (c->a.cause & CAUSE_DC) {
        c->a.timer_deadline = UINT64_MAX;
        return;
    }
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

/* Config1/Config2 cache fields for one cache: sets per way (64 << S, 7 = 32),
 * line size (2 << L) and associativity - 1, packed as S:3 L:3 A:3. Geometries a
 * field cannot express are clamped to the nearest it can (the Linux machine's
 * configuration check refuses them, see disco_core/linux/machine.py). */
static uint32_t cache_fields(uint32_t bytes, uint32_t line, uint32_t ways)
{
    uint32_t sets = bytes / line / ways, s = 0, l = 1;
    if (sets <= 32)
        s = 7;
    else
        while (s < 6 && (64u << s) < sets)
            s++;
    while (l < 6 && (2u << l) < line)
        l++;
    return (s << 6) | (l << 3) | ((ways > 8 ? 8 : ways) - 1);
}

static uint32_t config1(const cpu *c)
{
    const dc_config *cfg = &c->m->cfg;
    uint32_t base = (1u << 31) | ((cfg->tlb_entries - 1) << 25) | (1u << 3);  /* M, MMU, WR */
    if (cfg->cpu_model == DC_CPU_LINUX) {
        /* The simulated split L1s as they are (docs/cpu.md, "CPU models"). */
        uint32_t f = cache_fields(cfg->l1_bytes, cfg->line_bytes, cfg->l1_ways);
        return base | (f << 16) | (f << 7);
    }
    /* M, MMUSize-1, L1I 32 KiB 2-way 64 B lines, L1D 32 KiB 2-way 32 B
     * lines (the R10000's), WR: watch registers; no FPU, no MIPS16, no EJTAG. */
    return base | (2u << 22) | (5u << 19) | (1u << 16) |
           (3u << 13) | (4u << 10) | (1u << 7);
}

static uint32_t config2(const cpu *c)
{
    const dc_config *cfg = &c->m->cfg;
    if (cfg->cpu_model == DC_CPU_LINUX) {
        /* M, and the unified L2 in SS (11:8), SL (7:4), SA (3:0) */
        uint32_t f = cache_fields(cfg->l2_bytes, cfg->line_bytes, cfg->l2_ways);
        return (1u << 31) | (f >> 6) << 8 | ((f >> 3) & 7) << 4 | (f & 7);
    }
    return 1u << 31;                      /* M: Config3 follows */
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
    case CP0_CONFIG * 8 + 2: return config2(c);
    case CP0_CONFIG * 8 + 3:    /* ULRI: UserLocal and `rdhwr $29` */
        return c->m->cfg.cpu_model == DC_CPU_LINUX ? 1u << 13 : 0;
    case CP0_CONFIG * 8 + 7:    /* 24K family: AR (D) and IAR (I), no cache aliases */
        return c->m->cfg.cpu_model == DC_CPU_LINUX ? (1u << 16) | (1u << 10) : 0;
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
    case CP0_HWRENA * 8:    /* bit 29 (ULR) exists only where Config3.ULRI says so */
        c->a.hwrena = v & (c->m->cfg.cpu_model == DC_CPU_LINUX ? 0x2000000Fu : 0xFu);
        return 0;
    case CP0_COUNT * 8:
        c->a.count_bias = (c->a.cause & CAUSE_DC) ? v : v - (uint32_t)(now >> 1);
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
    case CP0_CAUSE * 8: {
        uint32_t count = count_at(c, now), old = c->a.cause;
        c->a.cause = (old & ~CAUSE_WRITABLE) | (v & CAUSE_WRITABLE);
        if (!((old ^ c->a.cause) & CAUSE_DC))
            return CP0_RETRANSLATE;     /* a software interrupt may now be pending */
        /* Count stops or restarts where it stands */
        c->a.count_bias = (c->a.cause & CAUSE_DC) ? count : count - (uint32_t)(now >> 1);
        cp0_set_deadline(c, now);
        return CP0_RETRANSLATE | CP0_RESLICE;
    }
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
