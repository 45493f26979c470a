// Per-process address spaces: page tables, ASIDs, page faults, copy-on-write.
//
// A page directory has 1024 kseg0 pointers to page tables of 1024 PTEs, and a
// PTE is the EntryLo word the refill handler (entry.S) loads as it is. A
// directory slot with no table points at empty_pt, a page of invalid PTEs.
#include "types.h"
#include "param.h"
#include "mips.h"
#include "memlayout.h"
#include "spinlock.h"
#include "proc.h"
#include "hal.h"
#include "defs.h"


static pte_t empty_pt[1024] __attribute__((aligned(PGSIZE)));
static pde_t kernel_pgdir[1024] __attribute__((aligned(PGSIZE)));

// The directory the refill handler uses on each CPU (indexed by Context.PTEBase).
pde_t *pgdir_cur[NCPU];

void
vminit(void)
{
  for (int i = 0; i < 1024; i++)
    kernel_pgdir[i] = (pde_t)empty_pt;
  for (int i = 0; i < NCPU; i++)
    pgdir_cur[i] = kernel_pgdir;
}

pde_t*
pgdir_alloc(void)
{
  pde_t *pd = kalloc();
  if (pd == 0)
    return 0;
  for (int i = 0; i < 1024; i++)
    pd[i] = (pde_t)empty_pt;
  return pd;
}

// The PTE for va, allocating its page table if alloc is set.
pte_t*
walk(pde_t *pgdir, uint va, int alloc)
{
  if (va >= UTOP)
    return 0;
  pte_t *pt = (pte_t *)pgdir[PDX(va)];
  if (pt == empty_pt) {
    if (!alloc || (pt = kalloc()) == 0)
      return 0;
    pgdir[PDX(va)] = (pde_t)pt;
  }
  return &pt[PTX(va)];
}

int
uvmmap(pde_t *pgdir, uint va, uint pa, uint flags)
{
  pte_t *pte = walk(pgdir, va, 1);
  if (pte == 0)
    return -1;
  *pte = PA2PTE(pa) | PTE_C | PTE_V | flags;
  return 0;
}

// Drop npages pages from va on; the caller flushes the TLB (vm_dropctx).
void
uvmunmap(pde_t *pgdir, uint va, uint npages)
{
  uint end = va + npages * PGSIZE;
  for (uint a = va; a < end; ) {
    if ((pte_t *)pgdir[PDX(a)] == empty_pt) {
      a = (a & ~((1u << 22) - 1)) + (1u << 22);  // skip an empty 4 MiB slot
      continue;
    }
    pte_t *pte = walk(pgdir, a, 0);
    if (pte && (*pte & PTE_V)) {
      page_unref(PTE2PA(*pte));
      *pte = 0;
    }
    a += PGSIZE;
  }
}

void
pgdir_free(pde_t *pgdir)
{
  for (int i = 0; i < NPDUSER; i++) {
    pte_t *pt = (pte_t *)pgdir[i];
    if (pt == empty_pt)
      continue;
    for (int j = 0; j < 1024; j++)
      if (pt[j] & PTE_V)
        page_unref(PTE2PA(pt[j]));
    kfree(pt);
  }
  kfree(pgdir);
}

// Share every page of old with new for fork: writable private pages become
// read-only copy-on-write in both; shared-memory pages stay shared.
int
uvmcopy(pde_t *old, pde_t *new)
{
  for (int i = 0; i < NPDUSER; i++) {
    pte_t *pt = (pte_t *)old[i];
    if (pt == empty_pt)
      continue;
    pte_t *npt = kalloc();
    if (npt == 0)
      return -1;
    new[i] = (pde_t)npt;
    for (int j = 0; j < 1024; j++) {
      pte_t pte = pt[j];
      if (!(pte & PTE_V))
        continue;
      if (!(pte & PTE_SHM) && (pte & (PTE_D | PTE_COW)))
        pte = (pte & ~PTE_D) | PTE_COW;
      pt[j] = pte;
      npt[j] = pte;
      page_ref(PTE2PA(pte));
    }
  }
  return 0;
}

// Give p an ASID on this CPU if its old one is from an earlier generation, and
// point the refill handler at its page directory. ASIDs are handed out per
// CPU; when a CPU runs out, it flushes its TLB and starts a new generation.
void
vm_activate(struct proc *p)
{
  push_off();
  int c = cpuid();
  struct cpu *cp = mycpu();
  if (p == 0) {
    pgdir_cur[c] = kernel_pgdir;
    hal_set_asid(0);
    pop_off();
    return;
  }
  if (p->asid[c] == 0 || ((p->asid[c] ^ cp->asid_next) & ~0xFFu) != 0) {
    cp->asid_next++;
    if ((cp->asid_next & 0xFF) == 0) {
      hal_tlb_flush();
      cp->asid_next++;   // ASID 0 is the kernel's
    }
    p->asid[c] = cp->asid_next;
  }
  pgdir_cur[c] = p->pgdir;
  hal_set_asid(p->asid[c]);
  pop_off();
}

// Forget p's TLB contents everywhere after its mappings changed. A process
// runs on one CPU at a time, so instead of interrupting other CPUs this drops
// its ASIDs: entries left under an old ASID can never match again, because
// an ASID is only reused after that CPU flushes its TLB.
void
vm_dropctx(struct proc *p)
{
  for (int i = 0; i < NCPU; i++)
    p->asid[i] = 0;
  if (p == myproc())
    vm_activate(p);
}

static void
tlb_drop_page(struct proc *p, uint va)
{
  push_off();
  hal_tlb_invalidate(va, p->asid[cpuid()]);
  pop_off();
}

// One page of p, running on this CPU, changed: drop its entry here and
// forget p's ASIDs on the other CPUs, whose TLBs may still hold the old page.
static void
tlb_changed_page(struct proc *p, uint va)
{
  push_off();
  int me = cpuid();
  for (int i = 0; i < NCPU; i++)
    if (i != me)
      p->asid[i] = 0;
  hal_tlb_invalidate(va, p->asid[me]);
  pop_off();
}

// Handle a TLB invalid or modified exception (or a kernel access on behalf of
// p) at va. Returns 0 when the access may be retried, -1 for a bad address,
// -2 when memory ran out.
int
vm_fault(struct proc *p, uint va, int write)
{
  if (va >= UTOP || va < PGSIZE)
    return -1;
  va = PGROUNDDOWN(va);
  pte_t *pte = walk(p->pgdir, va, 0);
  if (pte && (*pte & PTE_V)) {
    if (write && !(*pte & PTE_D)) {
      if (!(*pte & PTE_COW))
        return -1;
      uint pa = PTE2PA(*pte);
      if (page_refs(pa) == 1) {
        *pte = (*pte | PTE_D) & ~PTE_COW;
      } else {
        char *mem = kalloc();
        if (mem == 0)
          return -2;
        memmove(mem, P2V(pa), PGSIZE);
        *pte = PA2PTE(V2P(mem)) | PTE_C | PTE_V | PTE_D;
        page_unref(pa);
      }
      tlb_changed_page(p, va);
      return 0;
    }
    // The TLB held a stale pair (loaded while this page was still absent).
    tlb_drop_page(p, va);
    return 0;
  }
  int heap = va >= p->heapstart && va < p->sz;
  int stack = va >= USTACKTOP - USTACKMAX && va < USTACKTOP;
  if (!heap && !stack)
    return -1;
  char *mem = kalloc();
  if (mem == 0)
    return -2;
  if (uvmmap(p->pgdir, va, V2P(mem), PTE_D) < 0) {
    kfree(mem);
    return -2;
  }
  tlb_drop_page(p, va);
  return 0;
}

// The physical address for user va, faulting the page in (and breaking
// copy-on-write for a write) as the hardware would. 0 if va is bad.
uint
uva2pa(struct proc *p, uint va, int write)
{
  pte_t *pte = walk(p->pgdir, va, 0);
  if (pte == 0 || !(*pte & PTE_V) || (write && !(*pte & PTE_D))) {
    if (vm_fault(p, va, write) < 0)
      return 0;
    pte = walk(p->pgdir, va, 0);
  }
  return PTE2PA(*pte) | (va & (PGSIZE - 1));
}

int
copyout(struct proc *p, uint dstva, void *src, uint len)
{
  while (len > 0) {
    uint pa = uva2pa(p, dstva, 1);
    if (pa == 0)
      return -1;
    uint n = PGSIZE - (dstva & (PGSIZE - 1));
    if (n > len)
      n = len;
    memmove(P2V(pa), src, n);
    len -= n;
    src = (char *)src + n;
    dstva += n;
  }
  return 0;
}

int
copyin(struct proc *p, void *dst, uint srcva, uint len)
{
  while (len > 0) {
    uint pa = uva2pa(p, srcva, 0);
    if (pa == 0)
      return -1;
    uint n = PGSIZE - (srcva & (PGSIZE - 1));
    if (n > len)
      n = len;
    memmove(dst, P2V(pa), n);
    len -= n;
    dst = (char *)dst + n;
    srcva += n;
  }
  return 0;
}

// Copy a NUL-terminated string from user space; -1 if bad or longer than max.
int
copyinstr(struct proc *p, char *dst, uint srcva, uint max)
{
  while (max > 0) {
    uint pa = uva2pa(p, srcva, 0);
    if (pa == 0)
      return -1;
    uint n = PGSIZE - (srcva & (PGSIZE - 1));
    if (n > max)
      n = max;
    char *s = P2V(pa);
    for (uint i = 0; i < n; i++) {
      *dst = s[i];
      if (s[i] == 0)
        return 0;
      dst++;
    }
    max -= n;
    srcva += n;
  }
  return -1;
}
