// Shared-memory segments: shmget(key, size) names a segment, shmat(id) maps
// it into the caller at the next free address from USHMBASE. Segments live
// while some process maps them: each segment holds a reference to its pages
// and each mapping another, so when the table is full a segment whose pages
// have only the segment's reference is reclaimed for the new key.
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
    if (shm.seg[i].npages && shm.seg[i].key == key) {
      release(&shm.lock);
      return i;
    }
  }
  int id = shm.nseg;
  if (id == NSHM) {
    for (id = 0; id < NSHM; id++)
      if (shm.seg[id].npages == 0 || page_refs(shm.seg[id].pa[0]) == 1)
        break;
    if (id == NSHM) {
      release(&shm.lock);
      return -ENOSPC;
    }
    for (uint j = 0; j < shm.seg[id].npages; j++)
      page_unref(shm.seg[id].pa[j]);
    shm.seg[id].npages = 0;
    shm.seg[id].key = 0;
  }
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
  if (id == shm.nseg)
    shm.nseg++;
  release(&shm.lock);
  return id;
}

int
shmat(int id)
{
  struct proc *p = myproc();
  // shm.lock stays held while mapping, so the segment cannot be reclaimed
  // before this mapping holds its references.
  acquire(&shm.lock);
  if (id < 0 || id >= shm.nseg || shm.seg[id].npages == 0) {
    release(&shm.lock);
    return -EINVAL;
  }
  uint n = shm.seg[id].npages;
  // The first free run of n pages at or above USHMBASE.
  uint va = USHMBASE;
  for (uint a = va; a < va + n * PGSIZE; a += PGSIZE) {
    pte_t *pte = walk(p->pgdir, a, 0);
    if (pte && (*pte & PTE_V)) {
      va = a + PGSIZE;
      if (va + n * PGSIZE > USTACKTOP - USTACKMAX) {
        release(&shm.lock);
        return -ENOMEM;
      }
    }
  }
  int err = 0;
  for (uint j = 0; j < n && !err; j++) {
    uint pa = shm.seg[id].pa[j];
    if (uvmmap(p->pgdir, va + j * PGSIZE, pa, PTE_D | PTE_SHM) < 0)
      err = -ENOMEM;
    else
      page_ref(pa);
  }
  release(&shm.lock);
  vm_dropctx(p);
  return err ? err : (int)va;
}
