// File system (docs/guest-fs.md): blocks, inodes, directories, path names.
//
// One sleep lock, fslock, serialises every file-system operation (fs_begin /
// fs_end around each system call's use of the file system). It is coarse,
// but the disk completes each command before the issuing store retires, so an
// operation never waits for the device while holding it.
#include "types.h"
#include "param.h"
#include "stat.h"
#include "spinlock.h"
#include "proc.h"
#include "fs.h"
#include "buf.h"
#include "file.h"
#include "errno.h"
#include "defs.h"

#define min(a, b) ((a) < (b) ? (a) : (b))

struct superblock sb;
static struct sleeplock fslock;
static struct inode itable[NINODE];

void
fs_begin(void)
{
  acquiresleep(&fslock);
}

void
fs_end(void)
{
  releasesleep(&fslock);
}

void
fsinit(int dev)
{
  initsleeplock(&fslock, "fs");
  fs_begin();
  struct buf *bp = bread(dev, 1);
  memmove(&sb, bp->data, sizeof(sb));
  brelse(bp);
  fs_end();
  if (sb.magic != FSMAGIC) {
    printf("fsinit: superblock magic %x, expected %x\n", sb.magic, FSMAGIC);
    panic("fsinit: bad superblock");
  }
  if (sb.inodestart < 2 || sb.bmapstart <= sb.inodestart || sb.datastart <= sb.bmapstart ||
      sb.datastart >= sb.size)
    panic("fsinit: bad superblock layout");
}

static void
bzero(int dev, int bno)
{
  struct buf *bp = bread(dev, bno);
  memset(bp->data, 0, BSIZE);
  bwrite(bp);
  brelse(bp);
}

// Allocate a zeroed disk block; 0 if the disk is full.
static uint
balloc(uint dev)
{
  for (uint b = 0; b < sb.size; b += BPB) {
    struct buf *bp = bread(dev, BBLOCK(b, sb));
    for (uint bi = 0; bi < BPB && b + bi < sb.size; bi++) {
      uint m = 1 << (bi % 8);
      if ((bp->data[bi / 8] & m) == 0) {
        bp->data[bi / 8] |= m;
        bwrite(bp);
        brelse(bp);
        bzero(dev, b + bi);
        return b + bi;
      }
    }
    brelse(bp);
  }
  printf("balloc: out of blocks\n");
  return 0;
}

static void
bfree(int dev, uint b)
{
  struct buf *bp = bread(dev, BBLOCK(b, sb));
  uint bi = b % BPB, m = 1 << (bi % 8);
  if ((bp->data[bi / 8] & m) == 0)
    panic("freeing free block");
  bp->data[bi / 8] &= ~m;
  bwrite(bp);
  brelse(bp);
}

// Copy a modified in-memory inode to disk.
void
iupdate(struct inode *ip)
{
  struct buf *bp = bread(ip->dev, IBLOCK(ip->inum, sb));
  struct dinode *dip = (struct dinode *)bp->data + ip->inum % IPB;
  dip->type = ip->type;
  dip->major = ip->major;
  dip->minor = ip->minor;
  dip->nlink = ip->nlink;
  dip->size = ip->size;
  memmove(dip->addrs, ip->addrs, sizeof(ip->addrs));
  dip->indirect = ip->indirect;
  dip->dindirect = ip->dindirect;
  bwrite(bp);
  brelse(bp);
}

// The in-memory inode for inum, read from disk if it was not cached.
static struct inode*
iget(uint dev, uint inum)
{
  struct inode *ip, *empty = 0;
  for (ip = itable; ip < &itable[NINODE]; ip++) {
    if (ip->ref > 0 && ip->dev == dev && ip->inum == inum) {
      ip->ref++;
      return ip;
    }
    if (empty == 0 && ip->ref == 0)
      empty = ip;
  }
  if (empty == 0)
    panic("iget: no inodes");
  ip = empty;
  ip->dev = dev;
  ip->inum = inum;
  ip->ref = 1;
  struct buf *bp = bread(dev, IBLOCK(inum, sb));
  struct dinode *dip = (struct dinode *)bp->data + inum % IPB;
  ip->type = dip->type;
  ip->major = dip->major;
  ip->minor = dip->minor;
  ip->nlink = dip->nlink;
  ip->size = dip->size;
  memmove(ip->addrs, dip->addrs, sizeof(ip->addrs));
  ip->indirect = dip->indirect;
  ip->dindirect = dip->dindirect;
  brelse(bp);
  ip->valid = 1;
  return ip;
}

struct inode*
ialloc(uint dev, short type)
{
  for (uint inum = 1; inum < sb.ninodes; inum++) {
    struct buf *bp = bread(dev, IBLOCK(inum, sb));
    struct dinode *dip = (struct dinode *)bp->data + inum % IPB;
    if (dip->type == 0) {
      memset(dip, 0, sizeof(*dip));
      dip->type = type;
      bwrite(bp);
      brelse(bp);
      return iget(dev, inum);
    }
    brelse(bp);
  }
  printf("ialloc: no inodes\n");
  return 0;
}

struct inode*
idup(struct inode *ip)
{
  ip->ref++;
  return ip;
}

// Drop a reference; the last reference to an unlinked inode frees it.
void
iput(struct inode *ip)
{
  if (ip->ref == 1 && ip->valid && ip->nlink == 0) {
    itrunc(ip);
    ip->type = 0;
    iupdate(ip);
    ip->valid = 0;
  }
  ip->ref--;
}

// The entry at index i of the block of numbers bno, allocating it (and the
// block itself, through *slot) when alloc is set. 0 for a hole.
static uint
indirect(struct inode *ip, uint *slot, uint i, int alloc)
{
  if (*slot == 0) {
    if (!alloc || (*slot = balloc(ip->dev)) == 0)
      return 0;
    iupdate(ip);
  }
  struct buf *bp = bread(ip->dev, *slot);
  uint *a = (uint *)bp->data, addr = a[i];
  if (addr == 0 && alloc && (addr = balloc(ip->dev)) != 0) {
    a[i] = addr;
    bwrite(bp);
  }
  brelse(bp);
  return addr;
}

// The disk block holding block bn of the file; 0 for a hole (or no space).
static uint
bmap(struct inode *ip, uint bn, int alloc)
{
  if (bn < NDIRECT) {
    uint addr = ip->addrs[bn];
    if (addr == 0 && alloc && (addr = balloc(ip->dev)) != 0) {
      ip->addrs[bn] = addr;
      iupdate(ip);
    }
    return addr;
  }
  bn -= NDIRECT;
  if (bn < NINDIRECT)
    return indirect(ip, &ip->indirect, bn, alloc);
  bn -= NINDIRECT;
  if (bn >= NINDIRECT * NINDIRECT)
    panic("bmap: out of range");
  uint mid = indirect(ip, &ip->dindirect, bn / NINDIRECT, alloc);
  if (mid == 0)
    return 0;
  return indirect(ip, &mid, bn % NINDIRECT, alloc);
}

static void
freeindirect(struct inode *ip, uint bno, int depth)
{
  struct buf *bp = bread(ip->dev, bno);
  uint a[NINDIRECT];
  memmove(a, bp->data, BSIZE);
  brelse(bp);
  for (uint j = 0; j < NINDIRECT; j++) {
    if (a[j] == 0)
      continue;
    if (depth > 1)
      freeindirect(ip, a[j], depth - 1);
    else
      bfree(ip->dev, a[j]);
  }
  bfree(ip->dev, bno);
}

// Discard the file's contents.
void
itrunc(struct inode *ip)
{
  for (int i = 0; i < NDIRECT; i++) {
    if (ip->addrs[i]) {
      bfree(ip->dev, ip->addrs[i]);
      ip->addrs[i] = 0;
    }
  }
  if (ip->indirect) {
    freeindirect(ip, ip->indirect, 1);
    ip->indirect = 0;
  }
  if (ip->dindirect) {
    freeindirect(ip, ip->dindirect, 2);
    ip->dindirect = 0;
  }
  ip->size = 0;
  iupdate(ip);
}

void
stati(struct inode *ip, struct stat *st)
{
  st->dev = ip->dev;
  st->ino = ip->inum;
  st->type = ip->type;
  st->nlink = ip->nlink;
  st->size = ip->size;
}

// Read n bytes at off into dst (a user address if user_dst). Returns bytes
// read, or -1 on a bad user address.
int
readi(struct inode *ip, int user_dst, uint dst, uint off, uint n)
{
  if (off > ip->size || off + n < off)
    return 0;
  if (off + n > ip->size)
    n = ip->size - off;
  uint tot, m;
  for (tot = 0; tot < n; tot += m, off += m, dst += m) {
    m = min(n - tot, BSIZE - off % BSIZE);
    uint addr = bmap(ip, off / BSIZE, 0);
    if (addr == 0) {
      static char zeros[BSIZE];
      if (either_copyout(user_dst, dst, zeros, m) < 0)
        return -1;
      continue;
    }
    struct buf *bp = bread(ip->dev, addr);
    if (either_copyout(user_dst, dst, bp->data + off % BSIZE, m) < 0) {
      brelse(bp);
      return -1;
    }
    brelse(bp);
  }
  return tot;
}

// Write n bytes from src at off. Returns bytes written (short if the disk
// fills), or -1 on a bad user address or an impossible offset.
int
writei(struct inode *ip, int user_src, uint src, uint off, uint n)
{
  if (off > ip->size || off + n < off)
    return -1;
  if (off + n > MAXFILE * BSIZE)
    return -1;
  uint tot, m;
  for (tot = 0; tot < n; tot += m, off += m, src += m) {
    uint addr = bmap(ip, off / BSIZE, 1);
    if (addr == 0)
      break;
    m = min(n - tot, BSIZE - off % BSIZE);
    struct buf *bp = bread(ip->dev, addr);
    if (either_copyin(bp->data + off % BSIZE, user_src, src, m) < 0) {
      brelse(bp);
      return -1;
    }
    bwrite(bp);
    brelse(bp);
  }
  if (off > ip->size)
    ip->size = off;
  iupdate(ip);
  return tot;
}

int
namecmp(const char *s, const char *t)
{
  return strncmp(s, t, DIRSIZ);
}

// Look for name in directory dp; sets *poff to the entry's offset.
struct inode*
dirlookup(struct inode *dp, char *name, uint *poff)
{
  struct dirent de;
  if (dp->type != T_DIR)
    return 0;
  for (uint off = 0; off < dp->size; off += sizeof(de)) {
    if (readi(dp, 0, (uint)&de, off, sizeof(de)) != sizeof(de))
      panic("dirlookup read");
    if (de.inum == 0)
      continue;
    if (namecmp(name, de.name) == 0) {
      if (poff)
        *poff = off;
      return iget(dp->dev, de.inum);
    }
  }
  return 0;
}

// Add the entry (name, inum) to directory dp. -EEXIST if name is there.
int
dirlink(struct inode *dp, char *name, uint inum)
{
  struct inode *ip;
  struct dirent de;
  if ((ip = dirlookup(dp, name, 0)) != 0) {
    iput(ip);
    return -EEXIST;
  }
  uint off;
  for (off = 0; off < dp->size; off += sizeof(de)) {
    if (readi(dp, 0, (uint)&de, off, sizeof(de)) != sizeof(de))
      panic("dirlink read");
    if (de.inum == 0)
      break;
  }
  memset(&de, 0, sizeof(de));
  strncpy(de.name, name, DIRSIZ);
  de.inum = inum;
  if (writei(dp, 0, (uint)&de, off, sizeof(de)) != sizeof(de))
    return -ENOSPC;
  return 0;
}

// Copy the next path element into name; returns the rest of the path, or 0.
static char*
skipelem(char *path, char *name)
{
  while (*path == '/')
    path++;
  if (*path == 0)
    return 0;
  char *s = path;
  while (*path != '/' && *path != 0)
    path++;
  int len = path - s;
  if (len >= DIRSIZ)
    memmove(name, s, DIRSIZ);
  else {
    memmove(name, s, len);
    name[len] = 0;
  }
  while (*path == '/')
    path++;
  return path;
}

static struct inode*
namex(char *path, int nameiparent, char *name)
{
  struct inode *ip, *next;
  if (*path == '/' || myproc() == 0 || myproc()->cwd == 0)
    ip = iget(ROOTDEV, ROOTINO);
  else
    ip = idup(myproc()->cwd);
  while ((path = skipelem(path, name)) != 0) {
    if (ip->type != T_DIR) {
      iput(ip);
      return 0;
    }
    if (nameiparent && *path == 0)
      return ip;
    if ((next = dirlookup(ip, name, 0)) == 0) {
      iput(ip);
      return 0;
    }
    iput(ip);
    ip = next;
  }
  if (nameiparent) {
    iput(ip);
    return 0;
  }
  return ip;
}

struct inode*
namei(char *path)
{
  char name[DIRSIZ + 1];
  return namex(path, 0, name);
}

struct inode*
nameiparent(char *path, char *name)
{
  return namex(path, 1, name);
}
