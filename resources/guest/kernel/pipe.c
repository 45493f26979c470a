// Pipes: a bounded buffer between a writing and a reading file.
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "errno.h"
#include "defs.h"

#define PIPESIZE 2048

struct pipe {
  struct spinlock lock;
  char data[PIPESIZE];
  uint nread;     // bytes read
  uint nwrite;    // bytes written
  int readopen;   // read fd is still open
  int writeopen;  // write fd is still open
};

int
pipealloc(struct file **f0, struct file **f1)
{
  struct pipe *pi = 0;
  *f0 = *f1 = 0;
  if ((*f0 = filealloc()) == 0 || (*f1 = filealloc()) == 0)
    goto bad;
  if ((pi = (struct pipe *)kalloc()) == 0)
    goto bad;
  pi->readopen = 1;
  pi->writeopen = 1;
  pi->nwrite = 0;
  pi->nread = 0;
  initlock(&pi->lock, "pipe");
  (*f0)->type = FD_PIPE;
  (*f0)->readable = 1;
  (*f0)->writable = 0;
  (*f0)->pipe = pi;
  (*f1)->type = FD_PIPE;
  (*f1)->readable = 0;
  (*f1)->writable = 1;
  (*f1)->pipe = pi;
  return 0;

bad:
  if (*f0)
    fileclose(*f0);
  if (*f1)
    fileclose(*f1);
  return -EMFILE;
}

void
pipeclose(struct pipe *pi, int writable)
{
  acquire(&pi->lock);
  if (writable) {
    pi->writeopen = 0;
    wakeup(&pi->nread);
  } else {
    pi->readopen = 0;
    wakeup(&pi->nwrite);
  }
  if (pi->readopen == 0 && pi->writeopen == 0) {
    release(&pi->lock);
    kfree((void *)pi);
  } else {
    release(&pi->lock);
  }
}

int
pipewrite(struct pipe *pi, uint addr, int n)
{
  int i = 0;
  struct proc *pr = myproc();
  acquire(&pi->lock);
  while (i < n) {
    if (pi->readopen == 0 || killed(pr)) {
      release(&pi->lock);
      return i > 0 ? i : -EPIPE;
    }
    if (pi->nwrite == pi->nread + PIPESIZE) {
      wakeup(&pi->nread);
      sleep(&pi->nwrite, &pi->lock);
    } else {
      // Copy as much as fits contiguously; copyin may fault pages in.
      uint space = PIPESIZE - (pi->nwrite - pi->nread);
      uint at = pi->nwrite % PIPESIZE;
      uint m = n - i;
      if (m > space)
        m = space;
      if (m > PIPESIZE - at)
        m = PIPESIZE - at;
      if (copyin(pr, &pi->data[at], addr + i, m) < 0) {
        if (i == 0)
          i = -EFAULT;
        break;
      }
      pi->nwrite += m;
      i += m;
    }
  }
  wakeup(&pi->nread);
  release(&pi->lock);
  return i;
}

int
piperead(struct pipe *pi, uint addr, int n)
{
  struct proc *pr = myproc();
  acquire(&pi->lock);
  while (pi->nread == pi->nwrite && pi->writeopen) {
    if (killed(pr)) {
      release(&pi->lock);
      return -EINTR;
    }
    sleep(&pi->nread, &pi->lock);
  }
  int i = 0;
  while (i < n && pi->nread != pi->nwrite) {
    uint at = pi->nread % PIPESIZE;
    uint m = pi->nwrite - pi->nread;
    if (m > (uint)(n - i))
      m = n - i;
    if (m > PIPESIZE - at)
      m = PIPESIZE - at;
    if (copyout(pr, addr + i, &pi->data[at], m) < 0) {
      if (i == 0)
        i = -EFAULT;
      break;
    }
    pi->nread += m;
    i += m;
  }
  wakeup(&pi->nwrite);
  release(&pi->lock);
  return i;
}
