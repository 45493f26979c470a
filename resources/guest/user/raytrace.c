// raytrace: the paper's Splash workload, a parallel ray tracer.
//
//   raytrace N [T]
//
// Renders an N x N image of a scene of spheres with one light, shadows and
// one reflection, in 16.16 fixed point (no FPU). The parent builds the
// scene, a 64 KiB texture table and a table of row checksums in a shared
// memory segment; nprocs() workers render interleaved rows and store each
// row's checksum there; the parent combines the rows in order, so the
// result does not depend on the number of workers.
//
// T (KiB, a power of two from 64 to 512; default 64) sizes the texture; each
// hit filters (T/64)^2 texels spread over it. A texture larger than the L2 makes
// the workers' read-shared data miss, as the paper's Raytrace did on FLASH
// (docs/numa.md): `raytrace N 512` is the NUMA-sensitive variant.

#include "user.h"

typedef long long fix;         // 16.16 fixed point, 64-bit for headroom

#define ONE      65536LL
#define FMUL(a, b) (((a) * (b)) >> 16)
#define NSPHERES 48
#define MAXN     1024
#define DEPTH    2

struct sphere {
  fix c[3];          // centre
  fix r, r2;         // radius, radius squared
  fix invr;          // 1/r
  uint color;
  int reflective;
};

struct scene {
  int nspheres;
  struct sphere s[NSPHERES];
  fix light[3];      // unit vector towards the light
  int ntex;          // texels (a power of two), in the segment after the struct
  int samples;       // texels filtered per hit
  uint rowsum[MAXN];
  int rowdone[MAXN];
};

#define TEX(sc) ((uint *)((sc) + 1))

static struct scene *sc;

static uint64
isqrt(uint64 x)
{
  uint64 r = 0, bit = 1ULL << 62;

  while(bit > x)
    bit >>= 2;
  while(bit){
    if(x >= r + bit){
      x -= r + bit;
      r = (r >> 1) + bit;
    } else
      r >>= 1;
    bit >>= 2;
  }
  return r;
}

static fix
fsqrt(fix x)
{
  return x <= 0 ? 0 : (fix)isqrt((uint64)x << 16);
}

static fix
dot(const fix *a, const fix *b)
{
  return FMUL(a[0], b[0]) + FMUL(a[1], b[1]) + FMUL(a[2], b[2]);
}

static void
normalize(fix *v)
{
  fix len = fsqrt(dot(v, v));
  int i;

  if(len == 0)
    return;
  for(i = 0; i < 3; i++)
    v[i] = v[i] * ONE / len;
}

// Nearest sphere hit along o + t d (t > eps), or -1.
static int
intersect(const fix *o, const fix *d, fix *tout)
{
  fix oc[3], b, c, disc, t, best = 0;
  int i, k, hit = -1;

  for(i = 0; i < sc->nspheres; i++){
    for(k = 0; k < 3; k++)
      oc[k] = o[k] - sc->s[i].c[k];
    b = dot(oc, d);
    c = dot(oc, oc) - sc->s[i].r2;
    disc = FMUL(b, b) - c;
    if(disc < 0)
      continue;
    t = -b - fsqrt(disc);
    if(t > ONE / 64 && (hit < 0 || t < best)){
      best = t;
      hit = i;
    }
  }
  *tout = best;
  return hit;
}

static uint
scale(uint color, fix f)
{
  uint r = ((color >> 16) & 0xff) * f >> 16;
  uint g = ((color >> 8) & 0xff) * f >> 16;
  uint b = (color & 0xff) * f >> 16;

  return (r > 255 ? 255 : r) << 16 | (g > 255 ? 255 : g) << 8 | (b > 255 ? 255 : b);
}

static uint
trace(const fix *o, const fix *d, int depth)
{
  fix t, p[3], n[3], sh, diffuse, dn, rd[3];
  struct sphere *s;
  uint color, refl, texel;
  int i, k, u;

  if((i = intersect(o, d, &t)) < 0)
    return 0x102040 + (uint)(d[1] > 0 ? d[1] >> 10 : 0);
  s = &sc->s[i];
  for(k = 0; k < 3; k++){
    p[k] = o[k] + FMUL(t, d[k]);
    n[k] = FMUL(p[k] - s->c[k], s->invr);
  }
  diffuse = dot(n, sc->light);
  if(diffuse < 0)
    diffuse = 0;
  // Shadow: anything between the point and the light?
  if(diffuse > 0 && intersect(p, sc->light, &sh) >= 0)
    diffuse >>= 2;
  // Texture: look the surface point up in the shared table.
  u = ((p[0] >> 12) * 31 + (p[1] >> 12) * 17 + (p[2] >> 12)) & (sc->ntex - 1);
  texel = 0;
  for(k = 0; k < sc->samples; k++)
    texel ^= TEX(sc)[(u + k * (sc->ntex / sc->samples)) & (sc->ntex - 1)];
  color = scale(s->color ^ (texel & 0x0f0f0f), diffuse + ONE / 8);
  if(s->reflective && depth < DEPTH){
    dn = dot(d, n);
    for(k = 0; k < 3; k++)
      rd[k] = d[k] - 2 * FMUL(dn, n[k]);
    refl = trace(p, rd, depth + 1);
    color = scale(color, ONE / 2) + scale(refl, ONE / 2);
  }
  return color;
}

static uint
renderrow(int y, int n)
{
  fix o[3] = { 0, 0, 0 }, d[3];
  uint sum = FNV_INIT, px;
  int x;

  for(x = 0; x < n; x++){
    d[0] = (fix)(2 * x - n) * ONE / n;
    d[1] = (fix)(n - 2 * y) * ONE / n;
    d[2] = 2 * ONE;
    normalize(d);
    px = trace(o, d, 0);
    sum = fnv1a(sum, &px, 4);
  }
  return sum;
}

static void
buildscene(void)
{
  struct sphere *s;
  int i;

  srand(12345);
  sc->nspheres = NSPHERES;
  for(i = 0; i < NSPHERES; i++){
    s = &sc->s[i];
    s->c[0] = (fix)(rand() % 4096 - 2048) * ONE / 256;
    s->c[1] = (fix)(rand() % 4096 - 2048) * ONE / 256;
    s->c[2] = (fix)(rand() % 4096 + 1024) * ONE / 128;
    s->r = (fix)(rand() % 256 + 64) * ONE / 64;
    s->r2 = FMUL(s->r, s->r);
    s->invr = ONE * ONE / s->r;
    s->color = rand() & 0xffffff;
    s->reflective = rand() % 3 == 0;
  }
  sc->light[0] = ONE;
  sc->light[1] = 2 * ONE;
  sc->light[2] = -ONE;
  normalize(sc->light);
  for(i = 0; i < sc->ntex; i++)
    TEX(sc)[i] = rand();
}

int
main(int argc, char *argv[])
{
  int n, t, id, w, nworkers, y, pid;
  uint sum = FNV_INIT;
  struct scene *mine;

  n = argc > 1 ? atoi(argv[1]) : 32;
  t = argc > 2 ? atoi(argv[2]) : 64;
  if(n < 1 || n > MAXN || t < 64 || t > 512 || (t & (t - 1))){
    fprintf(2, "usage: raytrace N [T] (1 <= N <= %d pixels square, T = 64, 128, 256 or "
            "512 KiB of texture)\n", MAXN);
    exit(2);
  }
  // A key of our own, so raytraces can run side by side; the kernel
  // reclaims segments nobody maps.
  id = shmget(0x52540000 + getpid(), sizeof(struct scene) + t * 1024);
  if(id < 0 || (sc = shmat(id)) == (void *)-1){
    fprintf(2, "raytrace: shared memory: %s\n", strerror(errno));
    exit(1);
  }
  sc->ntex = t * 1024 / 4;
  sc->samples = t * t / 4096;  // 1, 4, 16, 64
  buildscene();
  memset(sc->rowdone, 0, sizeof sc->rowdone);

  nworkers = nprocs();
  if(nworkers < 1)
    nworkers = 1;
  if(nworkers > n)
    nworkers = n;
  for(w = 0; w < nworkers; w++){
    pid = fork();
    if(pid < 0){
      fprintf(2, "raytrace: fork: %s\n", strerror(errno));
      exit(1);
    }
    if(pid == 0){
      // Attach in the child too, in case fork does not carry the mapping.
      mine = shmat(id);
      if(mine != (void *)-1)
        sc = mine;
      for(y = w; y < n; y += nworkers){
        sc->rowsum[y] = renderrow(y, n);
        sc->rowdone[y] = 1;
      }
      exit(0);
    }
  }
  for(w = 0; w < nworkers; w++)
    wait(0);
  for(y = 0; y < n; y++){
    if(!sc->rowdone[y]){
      fprintf(2, "raytrace: row %d missing: is the segment shared?\n", y);
      exit(1);
    }
    sum = fnv1a(sum, &sc->rowsum[y], 4);
  }
  printf("raytrace %d: checksum 0x%08x\n", n, sum);
  exit(0);
}
