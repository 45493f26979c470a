// database: the paper's Database workload, one memory-intensive process
// running decision-support queries over a table on disk.
//
//   database N
//
// Builds a fact table of N*1024 rows (32 bytes each) and a 1024-row
// dimension table in /db (files named after the process, removed at the
// end, so several databases can run at once), then runs two queries:
//  Q1  scan the fact table in 1 KiB blocks through the buffer cache, hash
//      join each row with the dimension table and sum by category;
//  Q2  load the fact table into memory, build a hash index on its ids and
//      look up pseudo-random ids: random access over a large heap, so the
//      TLB misses often.
// The checksum covers both results and is a pure function of N.

#include "user.h"

#define NDIM    1024
#define NCAT    64
#define BLOCK   1024
#define MAXN    4096

struct fact {
  uint id;
  uint key;          // joins with dim.key
  uint qty;
  uint price;
  uint pad[4];
};

struct dim {
  uint key;
  uint category;
  uint weight;
  char name[20];
};

static struct dim dims[NDIM];
static int dimhash[2 * NDIM];       // open addressing: index+1, 0 = empty
static char block[BLOCK];
static char factpath[32], dimpath[32];

static uint
idof(uint i)
{
  return i * 2654435761u + 12345;   // distinct for distinct i
}

static int
create(const char *path)
{
  int fd = open(path, O_WRONLY | O_CREATE | O_TRUNC);

  if(fd < 0){
    fprintf(2, "database: %s: %s\n", path, strerror(errno));
    exit(1);
  }
  return fd;
}

static void
build(int nrows)
{
  static struct fact rows[128];     // 4 KiB per write
  int fd, i, j;

  srand(0xdb);
  fd = create(dimpath);
  for(i = 0; i < NDIM; i++){
    dims[i].key = i * 7 + 3;
    dims[i].category = rand() % NCAT;
    dims[i].weight = 1 + rand() % 100;
    snprintf(dims[i].name, sizeof dims[i].name, "item-%d", i);
  }
  if(write(fd, dims, sizeof dims) != sizeof dims){
    fprintf(2, "database: write %s: %s\n", dimpath, strerror(errno));
    exit(1);
  }
  close(fd);
  memset(dims, 0, sizeof dims);

  fd = create(factpath);
  for(i = 0; i < nrows; i += 128){
    for(j = 0; j < 128; j++){
      rows[j].id = idof(i + j);
      rows[j].key = (rand() % NDIM) * 7 + 3;
      rows[j].qty = 1 + rand() % 50;
      rows[j].price = 100 + rand() % 10000;
      rows[j].pad[0] = rows[j].pad[1] = rows[j].pad[2] = rows[j].pad[3] = i + j;
    }
    if(write(fd, rows, sizeof rows) != sizeof rows){
      fprintf(2, "database: write %s: %s\n", factpath, strerror(errno));
      exit(1);
    }
  }
  close(fd);
}

static int
lookupdim(uint key)
{
  uint h;

  for(h = (key * 2654435761u) >> 21; dimhash[h]; h = (h + 1) & (2 * NDIM - 1))
    if(dims[dimhash[h] - 1].key == key)
      return dimhash[h] - 1;
  return -1;
}

// Q1: hash join fact with dim, grouped by category.
static uint
q1(void)
{
  uint sums[NCAT], counts[NCAT], h;
  struct fact *f;
  int fd, i, n, d;

  if((fd = open(dimpath, O_RDONLY)) < 0 || read(fd, dims, sizeof dims) != sizeof dims){
    fprintf(2, "database: read %s failed\n", dimpath);
    exit(1);
  }
  close(fd);
  for(i = 0; i < NDIM; i++){
    for(h = (dims[i].key * 2654435761u) >> 21; dimhash[h]; h = (h + 1) & (2 * NDIM - 1))
      ;
    dimhash[h] = i + 1;
  }
  memset(sums, 0, sizeof sums);
  memset(counts, 0, sizeof counts);
  if((fd = open(factpath, O_RDONLY)) < 0){
    fprintf(2, "database: %s: %s\n", factpath, strerror(errno));
    exit(1);
  }
  while((n = read(fd, block, BLOCK)) > 0){
    for(f = (struct fact *)block; (char *)(f + 1) <= block + n; f++){
      if((d = lookupdim(f->key)) < 0)
        continue;
      sums[dims[d].category] += f->qty * f->price * dims[d].weight;
      counts[dims[d].category]++;
    }
  }
  close(fd);
  return fnv1a(fnv1a(FNV_INIT, sums, sizeof sums), counts, sizeof counts);
}

// Q2: an in-memory hash index over the whole table, probed at random.
static uint
q2(int nrows)
{
  struct fact *rows;
  int *index, fd, i, got, n, probes;
  uint mask, h, id, sum = 0, found = 0;

  rows = (struct fact *)sbrk(nrows * sizeof(struct fact));
  for(mask = 1; mask < 2 * nrows; mask <<= 1)
    ;
  index = (int *)sbrk(mask * sizeof(int));
  if((char *)rows == (char *)-1 || (char *)index == (char *)-1){
    fprintf(2, "database: out of memory\n");
    exit(1);
  }
  memset(index, 0, mask * sizeof(int));
  mask--;
  if((fd = open(factpath, O_RDONLY)) < 0){
    fprintf(2, "database: %s: %s\n", factpath, strerror(errno));
    exit(1);
  }
  for(got = 0; got < nrows * sizeof(struct fact); got += n)
    if((n = read(fd, (char *)rows + got, nrows * sizeof(struct fact) - got)) <= 0)
      break;
  close(fd);
  for(i = 0; i < nrows; i++){
    for(h = (rows[i].id * 2246822519u) & mask; index[h]; h = (h + 1) & mask)
      ;
    index[h] = i + 1;
  }
  srand(0xdb2);
  for(probes = 0; probes < 4 * nrows; probes++){
    // Half the probes hit, half miss.
    id = rand() % 2 ? idof(rand() % nrows) : (uint)rand() * 2 + 1;
    for(h = (id * 2246822519u) & mask; index[h]; h = (h + 1) & mask){
      if(rows[index[h] - 1].id == id){
        sum += rows[index[h] - 1].qty;
        found++;
        break;
      }
    }
  }
  return sum * 31 + found;
}

int
main(int argc, char *argv[])
{
  int n;
  uint r1, r2, sum;

  n = argc > 1 ? atoi(argv[1]) : 16;
  if(n < 1 || n > MAXN){
    fprintf(2, "usage: database N (1 <= N <= %d; N*1024 rows)\n", MAXN);
    exit(2);
  }
  if(mkdir("/db") < 0 && errno != EEXIST){
    fprintf(2, "database: mkdir /db: %s\n", strerror(errno));
    exit(1);
  }
  snprintf(factpath, sizeof factpath, "/db/f%d", getpid());
  snprintf(dimpath, sizeof dimpath, "/db/d%d", getpid());
  build(n * 1024);
  r1 = q1();
  r2 = q2(n * 1024);
  unlink(factpath);
  unlink(dimpath);
  sum = fnv1a(fnv1a(FNV_INIT, &r1, 4), &r2, 4);
  printf("database %d: checksum 0x%08x\n", n, sum);
  exit(0);
}
