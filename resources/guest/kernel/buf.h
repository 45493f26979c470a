// A block of the buffer cache.
struct buf {
  int valid;    // has data been read from disk?
  uint dev;
  uint blockno;
  uint refcnt;
  struct buf *prev;  // LRU list
  struct buf *next;
  uchar *data;       // the block's BSIZE bytes, within page
  uchar *page;       // PGSIZE bytes, page-aligned: the block's aligned group (DMA target)
};
