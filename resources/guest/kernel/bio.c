// Buffer cache: an LRU list of disk blocks held in memory.
//
// Every caller holds fslock (fs.c), which serialises the file system, so the
// cache needs no lock of its own. Writes go straight to disk (no log).
//
// Each buffer owns a whole page and a miss reads the page's aligned group of
// BPP blocks into it (the block asked for is one of them): a read that covers a
// whole aligned page lets the Disco monitor map its global disk cache's page
// instead of copying (docs/numa.md), so VMs booted from one base image share
// the blocks they read. The other blocks of the page are only read ahead.
#include "types.h"
#include "param.h"
#include "memlayout.h"
#include "spinlock.h"
#include "fs.h"
#include "buf.h"
#include "hal.h"
#include "defs.h"

static struct {
  struct buf buf[NBUF];
  struct buf head;  // most recently used first
} bcache;

#define BPP (PGSIZE / BSIZE)  // blocks per page

static uchar bdata[NBUF][PGSIZE] __attribute__((aligned(PGSIZE)));

void
binit(void)
{
  bcache.head.prev = bcache.head.next = &bcache.head;
  for (int i = 0; i < NBUF; i++) {
    struct buf *b = &bcache.buf[i];
    b->page = bdata[i];
    b->data = b->page;
    b->next = bcache.head.next;
    b->prev = &bcache.head;
    bcache.head.next->prev = b;
    bcache.head.next = b;
  }
}

static void
disk_rw(struct buf *b, int write)
{
  uint sect = b->blockno * (BSIZE / 512);
  if (hal_disk_rw(b->dev, sect, BSIZE / 512, V2P(b->data), write) < 0)
    panic(write ? "disk write" : "disk read");
}

static struct buf*
bget(uint dev, uint blockno)
{
  struct buf *b;
  for (b = bcache.head.next; b != &bcache.head; b = b->next) {
    if (b->dev == dev && b->blockno == blockno) {
      b->refcnt++;
      return b;
    }
  }
  // Recycle the least recently used unreferenced buffer.
  for (b = bcache.head.prev; b != &bcache.head; b = b->prev) {
    if (b->refcnt == 0) {
      b->dev = dev;
      b->blockno = blockno;
      b->data = b->page + (blockno % BPP) * BSIZE;
      b->valid = 0;
      b->refcnt = 1;
      return b;
    }
  }
  panic("bget: no buffers");
}

struct buf*
bread(uint dev, uint blockno)
{
  struct buf *b = bget(dev, blockno);
  if (!b->valid) {
    uint first = (blockno - blockno % BPP) * (BSIZE / 512);
    // the whole page; near the end of a disk whose size is no multiple of a
    // page the group may not exist, and the block alone is read
    if (hal_disk_rw(b->dev, first, PGSIZE / 512, V2P(b->page), 0) < 0)
      disk_rw(b, 0);
    b->valid = 1;
  }
  return b;
}

void
bwrite(struct buf *b)
{
  disk_rw(b, 1);
}

void
brelse(struct buf *b)
{
  b->refcnt--;
  if (b->refcnt == 0) {
    b->next->prev = b->prev;
    b->prev->next = b->next;
    b->next = bcache.head.next;
    b->prev = &bcache.head;
    bcache.head.next->prev = b;
    bcache.head.next = b;
  }
}
