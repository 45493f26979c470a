// File-system system calls: argument checking, then file.c and fs.c.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "stat.h"
#include "spinlock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "fcntl.h"
#include "errno.h"
#include "defs.h"

// The open file for argument n; -EBADF if it is not an open descriptor.
static int
argfd(int n, int *pfd, struct file **pf)
{
  int fd;
  argint(n, &fd);
  if (fd < 0 || fd >= NOFILE || myproc()->ofile[fd] == 0)
    return -EBADF;
  if (pfd)
    *pfd = fd;
  if (pf)
    *pf = myproc()->ofile[fd];
  return 0;
}

static int
fdalloc(struct file *f)
{
  struct proc *p = myproc();
  for (int fd = 0; fd < NOFILE; fd++) {
    if (p->ofile[fd] == 0) {
      p->ofile[fd] = f;
      return fd;
    }
  }
  return -EMFILE;
}

// A path argument; -ENAMETOOLONG or -EFAULT on failure.
// A component longer than a directory entry's name is refused here rather
// than truncated by the file system, as the ABI promises.
static int
argpath(int n, char *path)
{
  int r = argstr(n, path, MAXPATH);
  if (r < 0) {
    // Tell a path that is too long from a bad pointer.
    char c;
    if (copyin(myproc(), &c, argaddr(n), 1) == 0)
      return -ENAMETOOLONG;
    return -EFAULT;
  }
  int len = 0;
  for (char *s = path; *s; s++) {
    len = *s == '/' ? 0 : len + 1;
    if (len > DIRSIZ)
      return -ENAMETOOLONG;
  }
  return 0;
}

int
sys_dup(void)
{
  struct file *f;
  int r;
  if ((r = argfd(0, 0, &f)) < 0)
    return r;
  int fd = fdalloc(f);
  if (fd < 0)
    return fd;
  filedup(f);
  return fd;
}

int
sys_read(void)
{
  struct file *f;
  int n, r;
  argint(2, &n);
  if ((r = argfd(0, 0, &f)) < 0)
    return r;
  if (n < 0)
    return -EINVAL;
  return fileread(f, argaddr(1), n);
}

int
sys_write(void)
{
  struct file *f;
  int n, r;
  argint(2, &n);
  if ((r = argfd(0, 0, &f)) < 0)
    return r;
  if (n < 0)
    return -EINVAL;
  return filewrite(f, argaddr(1), n);
}

int
sys_close(void)
{
  int fd, r;
  struct file *f;
  if ((r = argfd(0, &fd, &f)) < 0)
    return r;
  myproc()->ofile[fd] = 0;
  fileclose(f);
  return 0;
}

int
sys_fstat(void)
{
  struct file *f;
  int r;
  if ((r = argfd(0, 0, &f)) < 0)
    return r;
  return filestat(f, argaddr(1));
}

int
sys_link(void)
{
  char name[DIRSIZ + 1], new[MAXPATH], old[MAXPATH];
  struct inode *dp, *ip;
  int r;
  if ((r = argpath(0, old)) < 0 || (r = argpath(1, new)) < 0)
    return r;
  fs_begin();
  if ((ip = namei(old)) == 0) {
    fs_end();
    return -ENOENT;
  }
  if (ip->type == T_DIR) {
    iput(ip);
    fs_end();
    return -EPERM;
  }
  ip->nlink++;
  iupdate(ip);
  memset(name, 0, sizeof(name));
  if ((dp = nameiparent(new, name)) == 0) {
    r = -ENOENT;
    goto bad;
  }
  if (dp->dev != ip->dev || (r = dirlink(dp, name, ip->inum)) < 0) {
    iput(dp);
    goto bad;
  }
  iput(dp);
  iput(ip);
  fs_end();
  return 0;

bad:
  ip->nlink--;
  iupdate(ip);
  iput(ip);
  fs_end();
  return r;
}

// Is the directory dp empty except for "." and ".."?
static int
isdirempty(struct inode *dp)
{
  struct dirent de;
  for (uint off = 2 * sizeof(de); off < dp->size; off += sizeof(de)) {
    if (readi(dp, 0, (uint)&de, off, sizeof(de)) != sizeof(de))
      panic("isdirempty: readi");
    if (de.inum != 0)
      return 0;
  }
  return 1;
}

int
sys_unlink(void)
{
  struct inode *ip, *dp;
  struct dirent de;
  char name[DIRSIZ + 1], path[MAXPATH];
  uint off;
  int r;
  if ((r = argpath(0, path)) < 0)
    return r;
  fs_begin();
  memset(name, 0, sizeof(name));
  if ((dp = nameiparent(path, name)) == 0) {
    fs_end();
    return -ENOENT;
  }
  if (namecmp(name, ".") == 0 || namecmp(name, "..") == 0) {
    r = -EINVAL;
    goto bad;
  }
  if ((ip = dirlookup(dp, name, &off)) == 0) {
    r = -ENOENT;
    goto bad;
  }
  if (ip->nlink < 1)
    panic("unlink: nlink < 1");
  if (ip->type == T_DIR && !isdirempty(ip)) {
    iput(ip);
    r = -EEXIST;
    goto bad;
  }
  memset(&de, 0, sizeof(de));
  if (writei(dp, 0, (uint)&de, off, sizeof(de)) != sizeof(de))
    panic("unlink: writei");
  if (ip->type == T_DIR) {
    dp->nlink--;
    iupdate(dp);
  }
  iput(dp);
  ip->nlink--;
  iupdate(ip);
  iput(ip);
  fs_end();
  return 0;

bad:
  iput(dp);
  fs_end();
  return r;
}

// Create path as type; returns the inode, or 0 with *err set.
static struct inode*
create(char *path, short type, short major, short minor, int *err)
{
  struct inode *ip, *dp;
  char name[DIRSIZ + 1];
  memset(name, 0, sizeof(name));
  if ((dp = nameiparent(path, name)) == 0) {
    *err = -ENOENT;
    return 0;
  }
  if ((ip = dirlookup(dp, name, 0)) != 0) {
    iput(dp);
    if (type == T_FILE && (ip->type == T_FILE || ip->type == T_DEVICE))
      return ip;
    iput(ip);
    *err = -EEXIST;
    return 0;
  }
  if ((ip = ialloc(dp->dev, type)) == 0) {
    iput(dp);
    *err = -ENOSPC;
    return 0;
  }
  ip->major = major;
  ip->minor = minor;
  ip->nlink = 1;
  iupdate(ip);
  if (type == T_DIR) {
    if (dirlink(ip, ".", ip->inum) < 0 || dirlink(ip, "..", dp->inum) < 0)
      goto fail;
  }
  if (dirlink(dp, name, ip->inum) < 0)
    goto fail;
  if (type == T_DIR) {
    dp->nlink++;  // for ".."
    iupdate(dp);
  }
  iput(dp);
  return ip;

fail:
  ip->nlink = 0;
  iupdate(ip);
  iput(ip);
  iput(dp);
  *err = -ENOSPC;
  return 0;
}

int
sys_open(void)
{
  char path[MAXPATH];
  int omode, r, fd;
  struct file *f;
  struct inode *ip;
  argint(1, &omode);
  if ((r = argpath(0, path)) < 0)
    return r;
  fs_begin();
  if (omode & O_CREATE) {
    if ((ip = create(path, T_FILE, 0, 0, &r)) == 0) {
      fs_end();
      return r;
    }
  } else {
    if ((ip = namei(path)) == 0) {
      fs_end();
      return -ENOENT;
    }
    if (ip->type == T_DIR && omode != O_RDONLY) {
      iput(ip);
      fs_end();
      return -EISDIR;
    }
  }
  if (ip->type == T_DEVICE && ip->major >= NDEV) {
    iput(ip);
    fs_end();
    return -EIO;
  }
  if ((f = filealloc()) == 0) {
    iput(ip);
    fs_end();
    return -EMFILE;
  }
  if ((fd = fdalloc(f)) < 0) {
    fileclose(f);
    iput(ip);
    fs_end();
    return fd;
  }
  if (ip->type == T_DEVICE) {
    f->type = FD_DEVICE;
    f->major = ip->major;
  } else {
    f->type = FD_INODE;
    f->off = 0;
  }
  f->ip = ip;
  f->readable = !(omode & O_WRONLY);
  f->writable = (omode & O_WRONLY) || (omode & O_RDWR);
  if ((omode & O_TRUNC) && ip->type == T_FILE)
    itrunc(ip);
  fs_end();
  return fd;
}

int
sys_mkdir(void)
{
  char path[MAXPATH];
  struct inode *ip;
  int r;
  if ((r = argpath(0, path)) < 0)
    return r;
  fs_begin();
  if ((ip = create(path, T_DIR, 0, 0, &r)) == 0) {
    fs_end();
    return r;
  }
  iput(ip);
  fs_end();
  return 0;
}

int
sys_mknod(void)
{
  char path[MAXPATH];
  struct inode *ip;
  int major, minor, r;
  argint(1, &major);
  argint(2, &minor);
  if ((r = argpath(0, path)) < 0)
    return r;
  fs_begin();
  if ((ip = create(path, T_DEVICE, major, minor, &r)) == 0) {
    fs_end();
    return r;
  }
  iput(ip);
  fs_end();
  return 0;
}

int
sys_chdir(void)
{
  char path[MAXPATH];
  struct inode *ip;
  struct proc *p = myproc();
  int r;
  if ((r = argpath(0, path)) < 0)
    return r;
  fs_begin();
  if ((ip = namei(path)) == 0) {
    fs_end();
    return -ENOENT;
  }
  if (ip->type != T_DIR) {
    iput(ip);
    fs_end();
    return -ENOTDIR;
  }
  if (p->cwd)
    iput(p->cwd);
  p->cwd = ip;
  fs_end();
  return 0;
}

int
sys_exec(void)
{
  char path[MAXPATH], *argv[MAXARG + 1];
  uint uargv = argaddr(1), uarg;
  int r, i;
  if ((r = argpath(0, path)) < 0)
    return r;
  memset(argv, 0, sizeof(argv));
  for (i = 0;; i++) {
    if (i >= MAXARG) {
      r = -EINVAL;
      goto out;
    }
    if (uargv == 0 || copyin(myproc(), &uarg, uargv + 4 * i, 4) < 0) {
      r = -EFAULT;
      goto out;
    }
    if (uarg == 0)
      break;
    if ((argv[i] = kalloc()) == 0) {
      r = -ENOMEM;
      goto out;
    }
    if (fetchstr(uarg, argv[i], PGSIZE) < 0) {
      r = -EFAULT;
      goto out;
    }
  }
  r = kexec(path, argv);

out:
  for (i = 0; i < MAXARG && argv[i]; i++)
    kfree(argv[i]);
  return r;
}

int
sys_pipe(void)
{
  uint fdarray = argaddr(0);
  struct file *rf, *wf;
  int fd0, fd1, r;
  struct proc *p = myproc();
  if ((r = pipealloc(&rf, &wf)) < 0)
    return r;
  if ((fd0 = fdalloc(rf)) < 0) {
    fileclose(rf);
    fileclose(wf);
    return -EMFILE;
  }
  if ((fd1 = fdalloc(wf)) < 0) {
    p->ofile[fd0] = 0;
    fileclose(rf);
    fileclose(wf);
    return -EMFILE;
  }
  int fds[2] = { fd0, fd1 };
  if (copyout(p, fdarray, fds, sizeof(fds)) < 0) {
    p->ofile[fd0] = 0;
    p->ofile[fd1] = 0;
    fileclose(rf);
    fileclose(wf);
    return -EFAULT;
  }
  return 0;
}
