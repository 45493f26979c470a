// Shared-memory segments: shmget(key, size) names a segment, shmat(id) maps
// it into the caller at the next free address from USHMBASE. Segments live
// until reboot; each holds a reference to its pages, each mapping another.
#include "types.h"
#include "param.h"
#include "mips.h"
#include "memlayout.h"
#include "spinlock.h"
#include "proc.h"
#include "errno.h"
#include "defs.h"

static struct {
  struct spinlock lock;
  struct {
    int key;
    uint npages;
    uint pa[SHMMAXPG];
  } seg[NSHM];
  int nseg;
} shm;

void
shminit(void)
{
  initlock(&shm.lock, "shm");
}

int
shmget(int key, uint size)
{
  if (size == 0 || size > SHMMAXPG * PGSIZE)
    return -EINVAL;
  acquire(&shm.lock);
  for (int i = 0; i < shm.nseg; i++) {
    if (shm.seg[i].key == key) {
      release(&shm.lock);
      return i;
    }
  }
  if (shm.nseg == NSHM) {
    release(&shm.lock);
    return -ENOSPC;
  }
  int id = shm.nseg;
  uint n = PGROUNDUP(size) / PGSIZE;
  for (uint j = 0; j < n; j++) {
    void *m = kalloc();
    if (m == 0) {
      while (j-- > 0)
        page_unref(shm.seg[id].pa[j]);
      release(&shm.lock);
      return -ENOMEM;
    }
    shm.seg[id].pa[j] = V2P(m);
  }
  shm.seg[id].key = key;
  shm.seg[id].npages = n;
  shm.nseg++;
  release(&shm.lock);
  return id;
}

int
shmat(int id)
{
  struct proc *p = myproc();
  acquire(&shm.lock);
  if (id < 0 || id >= shm.nseg) {
    release(&shm.lock);
    return -EINVAL;
  }
  uint n = shm.seg[id].npages;
  release(&shm.lock);
  // The first free run of n pages at or above USHMBASE.
  uint va = USHMBASE;
  for (uint a = va; a < va + n * PGSIZE; a += PGSIZE) {
    pte_t *pte = walk(p->pgdir, a, 0);
    if (pte && (*pte & PTE_V)) {
      va = a + PGSIZE;
      if (va + n * PGSIZE > USTACKTOP - USTACKMAX)
        return -ENOMEM;
    }
  }
  for (uint j = 0; j < n; j++) {
    uint pa = shm.seg[id].pa[j];
    if (uvmmap(p->pgdir, va + j * PGSIZE, pa, PTE_D | PTE_SHM) < 0)
      return -ENOMEM;
    page_ref(pa);
  }
  vm_dropctx(p);
  return va;
}
