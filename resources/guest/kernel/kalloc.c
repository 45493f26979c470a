// Physical page allocator, with reference counts for copy-on-write sharing.
//
// Free memory comes from the machine-description block's range table. Pages
// are handed out from a bump pointer per range first, so boot does not touch
// every page of RAM; freed pages go on a free list.
//
// Under Disco (-DDISCO) the allocator gives the monitor the paper's hints: a
// freed page is reported with PAGE_FREED, so the monitor takes its machine
// page back at once and the next touch reads zeros. Every page kalloc hands
// out then reads zero without a clear: it was freed (and so taken back) or
// never touched (the monitor hands out zeroed pages on first touch). The free
// list cannot live in the freed pages themselves: it is a stack of page
// numbers carved from the first free memory.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "spinlock.h"
#include "hal.h"
#include "defs.h"

extern char end[];  // first address after the kernel, from kernel.ld

struct run {
  struct run *next;
};

#define NRANGE 96

#ifdef DISCO
#include "mcall.h"
#endif

static struct {
  struct spinlock lock;
  struct run *freelist;
#ifdef DISCO
  uint *stack;          // physical page numbers of the free pages
  uint nstack, maxstack;
#endif
  uint next[NRANGE], limit[NRANGE];  // unallocated [next, limit) per range (physical)
  int nrange;
  uint nfree;
} kmem;

// References to each physical page below the device window.
static ushort pgref[DEVWINDOW >> PGSHIFT];

uint ram_bytes;

void
kinit(void)
{
  initlock(&kmem.lock, "kmem");
  uint kend = PGROUNDUP(V2P(end));
  uint n = hal_machdesc(0x1C), table = hal_machdesc(0x34);
  for (uint i = 0; i < n && kmem.nrange < NRANGE; i++) {
    uint e = table + 16 * i;
    uint base = hal_machdesc(e), basehi = hal_machdesc(e + 4);
    uint size = hal_machdesc(e + 8), sizehi = hal_machdesc(e + 12);
    ram_bytes += size;
    // Only RAM below the device window is reachable through kseg0.
    if (basehi || base >= DEVWINDOW)
      continue;
    uint lim = (sizehi || size > DEVWINDOW - base) ? DEVWINDOW : base + size;
    if (base < kend)
      base = kend;
    if (base >= lim)
      continue;
    kmem.next[kmem.nrange] = base;
    kmem.limit[kmem.nrange] = lim;
    kmem.nrange++;
    kmem.nfree += (lim - base) >> PGSHIFT;
  }
#ifdef DISCO
  // The free stack: one word per free page, from the start of a range that can hold it.
  uint bytes = PGROUNDUP(kmem.nfree * 4);
  for (int i = 0; i < kmem.nrange && !kmem.stack; i++) {
    if (kmem.limit[i] - kmem.next[i] > bytes) {
      kmem.stack = P2V(kmem.next[i]);
      kmem.next[i] += bytes;
      kmem.nfree -= bytes >> PGSHIFT;
      kmem.maxstack = kmem.nfree;
    }
  }
  if (!kmem.stack)
    panic("kinit: no room for the free-page stack");
#endif
}

// Free the page at kernel address pa; its reference count must be zero.
void
kfree(void *va)
{
  struct run *r = va;
  if (((uint)va % PGSIZE) != 0 || V2P(va) < V2P(end) || V2P(va) >= DEVWINDOW)
    panic("kfree");
#ifdef DISCO
  (void)r;
  // Hint first, then publish: once on the stack another CPU may hand it out.
  mcall1(MC_PAGE_FREED, V2P(va) >> PGSHIFT);
  acquire(&kmem.lock);
  if (kmem.nstack >= kmem.maxstack)
    panic("kfree: free-page stack full");
  kmem.stack[kmem.nstack++] = V2P(va) >> PGSHIFT;
  kmem.nfree++;
  release(&kmem.lock);
#else
  acquire(&kmem.lock);
  r->next = kmem.freelist;
  kmem.freelist = r;
  kmem.nfree++;
  release(&kmem.lock);
#endif
}

// Allocate one zeroed 4096-byte page, with a reference count of 1.
// Returns a kseg0 address, or 0 if memory is exhausted.
void*
kalloc(void)
{
  void *va = 0;
  acquire(&kmem.lock);
#ifdef DISCO
  if (kmem.nstack) {
    va = P2V(kmem.stack[--kmem.nstack] << PGSHIFT);
  } else {
#else
  if (kmem.freelist) {
    va = kmem.freelist;
    kmem.freelist = kmem.freelist->next;
  } else {
#endif
    for (int i = 0; i < kmem.nrange; i++) {
      if (kmem.next[i] < kmem.limit[i]) {
        va = P2V(kmem.next[i]);
        kmem.next[i] += PGSIZE;
        break;
      }
    }
  }
  if (va) {
    kmem.nfree--;
    pgref[V2P(va) >> PGSHIFT] = 1;
  }
  release(&kmem.lock);
#ifdef DISCO
  // The paper's HAL hint "request a zeroed page": the monitor zeroes pages for
  // isolation anyway, so it hands out a fresh zeroed machine page (and charges
  // the zeroing) instead of the guest clearing it word by word.
  if (va)
    mcall1(MC_ZERO_PAGE, V2P(va) >> PGSHIFT);
#else
  if (va)
    memset(va, 0, PGSIZE);
#endif
  return va;
}

void
page_ref(uint pa)
{
  acquire(&kmem.lock);
  pgref[pa >> PGSHIFT]++;
  release(&kmem.lock);
}

// Drop a reference; free the page when it was the last. Returns the references left.
int
page_unref(uint pa)
{
  acquire(&kmem.lock);
  int n = --pgref[pa >> PGSHIFT];
  release(&kmem.lock);
  if (n == 0)
    kfree(P2V(pa));
  return n;
}

int
page_refs(uint pa)
{
  return pgref[pa >> PGSHIFT];
}

uint
kmem_free_pages(void)
{
  return kmem.nfree;
}
