// A block of the buffer cache.
struct buf {
  int valid;    // has data been read from disk?
  uint dev;
  uint blockno;
  uint refcnt;
  struct buf *prev;  // LRU list
  struct buf *next;
  uchar *data;       // BSIZE bytes, page-aligned storage (DMA target)
};
