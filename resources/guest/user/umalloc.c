// malloc and free over sbrk: a first-fit free list sorted by address,
// merging neighbours on free (the K&R allocator's idea, written anew).

#include "user.h"

// Header of every block; sizes count headers, in units of the header.
union header {
  struct {
    union header *next;
    uint units;
  } s;
  long long align;    // 8-byte alignment for any type
};

typedef union header Header;

static Header base;
static Header *freep;

void
free(void *ap)
{
  Header *bp, *p;

  if(ap == 0)
    return;
  bp = (Header *)ap - 1;
  // Find the free block p with p < bp < p->next (or the wrap-around).
  for(p = freep; !(bp > p && bp < p->s.next); p = p->s.next)
    if(p >= p->s.next && (bp > p || bp < p->s.next))
      break;
  if(bp + bp->s.units == p->s.next){
    bp->s.units += p->s.next->s.units;
    bp->s.next = p->s.next->s.next;
  } else
    bp->s.next = p->s.next;
  if(p + p->s.units == bp){
    p->s.units += bp->s.units;
    p->s.next = bp->s.next;
  } else
    p->s.next = bp;
  freep = p;
}

// Ask the kernel for at least 64 KiB at a time: fewer sbrk calls.
static Header *
morecore(uint units)
{
  char *p;
  Header *h;

  if(units < 8192)
    units = 8192;
  p = sbrk(units * sizeof(Header));
  if(p == (char *)-1)
    return 0;
  h = (Header *)p;
  h->s.units = units;
  free(h + 1);
  return freep;
}

void *
malloc(uint nbytes)
{
  Header *p, *prev;
  uint units;

  units = (nbytes + sizeof(Header) - 1) / sizeof(Header) + 1;
  if((prev = freep) == 0){
    base.s.next = freep = prev = &base;
    base.s.units = 0;
  }
  for(p = prev->s.next; ; prev = p, p = p->s.next){
    if(p->s.units >= units){
      if(p->s.units == units)
        prev->s.next = p->s.next;
      else {
        // Hand out the tail of the block.
        p->s.units -= units;
        p += p->s.units;
        p->s.units = units;
      }
      freep = prev;
      return p + 1;
    }
    if(p == freep && (p = morecore(units)) == 0)
      return 0;
  }
}

void *
calloc(uint n, uint size)
{
  void *p;

  if(size != 0 && n > 0xffffffffu / size)
    return 0;
  p = malloc(n * size);
  if(p)
    memset(p, 0, n * size);
  return p;
}
