// exec: replace the calling process's image with an ELF program from the file system.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "mips.h"
#include "spinlock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "elf.h"
#include "stat.h"
#include "errno.h"
#include "defs.h"

// The kernel address of user va in pd, allocating a zero page there if needed.
static char*
pgaddr(pde_t *pd, uint va)
{
  pte_t *pte = walk(pd, va, 1);
  if (pte == 0)
    return 0;
  if (!(*pte & PTE_V)) {
    char *mem = kalloc();
    if (mem == 0)
      return 0;
    *pte = PA2PTE(V2P(mem)) | PTE_C | PTE_V | PTE_D;
  }
  return (char *)P2V(PTE2PA(*pte)) + (va & (PGSIZE - 1));
}

// Copy len bytes to user va in pd, from kernel memory, or from ip at off when src is 0.
static int
copyto(pde_t *pd, uint va, char *src, struct inode *ip, uint off, uint len)
{
  while (len > 0) {
    char *k = pgaddr(pd, va);
    if (k == 0)
      return -1;
    uint n = PGSIZE - (va & (PGSIZE - 1));
    if (n > len)
      n = len;
    if (src) {
      memmove(k, src, n);
      src += n;
    } else if (readi(ip, 0, (uint)k, off, n) != (int)n) {
      return -1;
    }
    off += n;
    va += n;
    len -= n;
  }
  return 0;
}

int
kexec(char *path, char **argv)
{
  struct elfhdr elf;
  struct proghdr ph;
  struct inode *ip;
  struct proc *p = myproc();
  pde_t *pgdir = 0;
  uint sz = UTEXT;
  int err = -EINVAL;

  fs_begin();
  if ((ip = namei(path)) == 0) {
    fs_end();
    return -ENOENT;
  }
  if (ip->type != T_FILE) {
    err = ip->type == T_DIR ? -EISDIR : -EPERM;
    goto bad;
  }
  if (readi(ip, 0, (uint)&elf, 0, sizeof(elf)) != sizeof(elf) || elf.magic != ELF_MAGIC ||
      elf.machine != 8)
    goto bad;
  if ((pgdir = pgdir_alloc()) == 0) {
    err = -ENOMEM;
    goto bad;
  }
  for (int i = 0, off = elf.phoff; i < elf.phnum; i++, off += sizeof(ph)) {
    if (readi(ip, 0, (uint)&ph, off, sizeof(ph)) != sizeof(ph))
      goto bad;
    if (ph.type != ELF_PROG_LOAD || ph.memsz == 0)
      continue;
    if (ph.memsz < ph.filesz || ph.vaddr + ph.memsz < ph.vaddr || ph.vaddr < PGSIZE ||
        ph.vaddr + ph.memsz > USHMBASE)
      goto bad;
    if (copyto(pgdir, ph.vaddr, 0, ip, ph.off, ph.filesz) < 0)
      goto bad;
    // Touch the rest so bss pages exist (they are zero from kalloc).
    for (uint a = PGROUNDDOWN(ph.vaddr + ph.filesz); a < ph.vaddr + ph.memsz; a += PGSIZE)
      if (pgaddr(pgdir, a < ph.vaddr + ph.filesz ? ph.vaddr + ph.filesz : a) == 0) {
        err = -ENOMEM;
        goto bad;
      }
    if (ph.vaddr + ph.memsz > sz)
      sz = ph.vaddr + ph.memsz;
  }
  iput(ip);
  fs_end();
  ip = 0;
  sz = PGROUNDUP(sz);

  // The stack: argument strings, then argv[], then argc's home.
  uint sp = USTACKTOP, uargv[MAXARG + 1];
  int argc;
  for (argc = 0; argv[argc]; argc++) {
    if (argc >= MAXARG)
      goto bad;
    uint len = strlen(argv[argc]) + 1;
    sp = (sp - len) & ~3u;
    if (copyto(pgdir, sp, argv[argc], 0, 0, len) < 0)
      goto bad;
    uargv[argc] = sp;
  }
  uargv[argc] = 0;
  sp -= (argc + 1) * 4;
  sp &= ~7u;
  if (copyto(pgdir, sp, (char *)uargv, 0, 0, (argc + 1) * 4) < 0)
    goto bad;
  uint uargvp = sp;
  sp -= 16;  // o32 home area for the four argument registers

  // Commit to the new image.
  char *last = path, *s;
  for (s = path; *s; s++)
    if (*s == '/')
      last = s + 1;
  safestrcpy(p->name, last, sizeof(p->name));
  pde_t *old = p->pgdir;
  p->pgdir = pgdir;
  p->sz = p->heapstart = sz;
  vm_dropctx(p);
  pgdir_free(old);
  struct trapframe *tf = p->tf;
  uint status = tf->status;
  memset(tf, 0, sizeof(*tf));
  tf->status = status;
  tf->epc = elf.entry;
  tf->regs[TF_SP] = sp;
  tf->regs[TF_A0] = argc;
  tf->regs[TF_A0 + 1] = uargvp;
  return argc;

bad:
  if (pgdir)
    pgdir_free(pgdir);
  if (ip) {
    iput(ip);
    fs_end();
  }
  return err;
}
