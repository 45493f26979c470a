// Open files: the system-wide file table and per-type read/write.
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "stat.h"
#include "errno.h"
#include "defs.h"

struct devsw devsw[NDEV];

static struct {
  struct spinlock lock;
  struct file file[NFILE];
} ftable = { .lock = { 0, "ftable", 0 } };

struct file*
filealloc(void)
{
  acquire(&ftable.lock);
  for (struct file *f = ftable.file; f < ftable.file + NFILE; f++) {
    if (f->ref == 0) {
      f->ref = 1;
      release(&ftable.lock);
      return f;
    }
  }
  release(&ftable.lock);
  return 0;
}

struct file*
filedup(struct file *f)
{
  acquire(&ftable.lock);
  if (f->ref < 1)
    panic("filedup");
  f->ref++;
  release(&ftable.lock);
  return f;
}

void
fileclose(struct file *f)
{
  acquire(&ftable.lock);
  if (f->ref < 1)
    panic("fileclose");
  if (--f->ref > 0) {
    release(&ftable.lock);
    return;
  }
  struct file ff = *f;
  f->ref = 0;
  f->type = FD_NONE;
  release(&ftable.lock);

  if (ff.type == FD_PIPE) {
    pipeclose(ff.pipe, ff.writable);
  } else if ((ff.type == FD_INODE || ff.type == FD_DEVICE) && ff.ip) {
    fs_begin();
    iput(ff.ip);
    fs_end();
  }
}

int
filestat(struct file *f, uint addr)
{
  struct stat st;
  if ((f->type != FD_INODE && f->type != FD_DEVICE) || f->ip == 0)
    return -EBADF;
  fs_begin();
  stati(f->ip, &st);
  fs_end();
  if (copyout(myproc(), addr, &st, sizeof(st)) < 0)
    return -EFAULT;
  return 0;
}

int
fileread(struct file *f, uint addr, int n)
{
  if (!f->readable)
    return -EBADF;
  if (f->type == FD_PIPE)
    return piperead(f->pipe, addr, n);
  if (f->type == FD_DEVICE) {
    if (f->major < 0 || f->major >= NDEV || !devsw[f->major].read)
      return -EIO;
    return devsw[f->major].read(1, addr, n);
  }
  if (f->type == FD_INODE) {
    fs_begin();
    int r = readi(f->ip, 1, addr, f->off, n);
    if (r > 0)
      f->off += r;
    fs_end();
    return r < 0 ? -EFAULT : r;
  }
  panic("fileread");
}

int
filewrite(struct file *f, uint addr, int n)
{
  if (!f->writable)
    return -EBADF;
  if (f->type == FD_PIPE)
    return pipewrite(f->pipe, addr, n);
  if (f->type == FD_DEVICE) {
    if (f->major < 0 || f->major >= NDEV || !devsw[f->major].write)
      return -EIO;
    return devsw[f->major].write(1, addr, n);
  }
  if (f->type == FD_INODE) {
    fs_begin();
    int r = writei(f->ip, 1, addr, f->off, n);
    if (r > 0)
      f->off += r;
    fs_end();
    if (r < 0)
      return -EFAULT;
    return (r < n && r == 0) ? -ENOSPC : r;
  }
  panic("filewrite");
}
