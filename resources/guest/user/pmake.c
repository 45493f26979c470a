// pmake: the paper's Pmake workload, a parallel make.
//
//   pmake N
//
// Compiles N units with up to nprocs() jobs at once. Each job fork+execs
// the compile program once per unit: many short-lived processes that read
// sources from /src and write objects, which is what makes Pmake kernel-
// and I/O-heavy. A link step then reads every object in unit order and
// writes a.out. The checksum covers the objects in order, so it does not
// depend on the number of CPUs or the schedule.
//
// The files live in /obj/<pid>, removed at the end, so several pmakes can
// run at once (the paper runs eight).

#include "user.h"

#define MAXSRC   128
#define MAXUNITS 4096

static char srcnames[MAXSRC][DIRSIZ + 1];
static int nsrc;
static char workdir[32];    // /obj/<pid>
static char buf[4096];

// The sources are the *.c files of /src, sorted by name.
static void
findsources(void)
{
  struct dirent de;
  int fd, i, j, n;
  char name[DIRSIZ + 1];

  if((fd = open("/src", O_RDONLY)) < 0){
    fprintf(2, "pmake: /src: %s\n", strerror(errno));
    exit(1);
  }
  while(read(fd, &de, sizeof de) == sizeof de && nsrc < MAXSRC){
    if(de.inum == 0)
      continue;
    memmove(name, de.name, DIRSIZ);
    name[DIRSIZ] = 0;
    n = strlen(name);
    if(n < 3 || strcmp(name + n - 2, ".c") != 0)
      continue;
    // Insertion sort: directory order is up to the kernel.
    for(i = nsrc; i > 0 && strcmp(srcnames[i - 1], name) > 0; i--)
      ;
    for(j = nsrc; j > i; j--)
      strcpy(srcnames[j], srcnames[j - 1]);
    strcpy(srcnames[i], name);
    nsrc++;
  }
  close(fd);
  if(nsrc == 0){
    fprintf(2, "pmake: no sources in /src\n");
    exit(1);
  }
}

// fork, waiting out a full process table: several pmakes at once can
// need more processes than the kernel has (NPROC).
static int
spawn(void)
{
  int pid, tries;

  for(tries = 0; tries < 1000; tries++){
    if((pid = fork()) >= 0 || errno != EAGAIN)
      break;
    sleep(1);
  }
  if(pid < 0){
    fprintf(2, "pmake: fork: %s\n", strerror(errno));
    exit(1);
  }
  return pid;
}

static void
objname(char *out, int unit)
{
  snprintf(out, 48, "%s/u%d.o", workdir, unit);
}

// One job: compile units job, job+njobs, ... one process each.
static void
runjob(int job, int njobs, int nunits)
{
  char src[32], obj[48];
  char *argv[4];
  int unit, pid, status;

  for(unit = job; unit < nunits; unit += njobs){
    snprintf(src, sizeof src, "/src/%s", srcnames[unit % nsrc]);
    objname(obj, unit);
    argv[0] = "compile";
    argv[1] = src;
    argv[2] = obj;
    argv[3] = 0;
    pid = spawn();
    if(pid == 0){
      exec("/compile", argv);
      fprintf(2, "pmake: exec /compile: %s\n", strerror(errno));
      exit(1);
    }
    status = 0;
    if(wait(&status) != pid || status != 0){
      fprintf(2, "pmake: compile %s failed\n", src);
      exit(1);
    }
  }
  exit(0);
}

// Read every object in unit order into a.out; returns the checksum.
static uint
linkall(int nunits)
{
  char obj[48], aout[48];
  int unit, fd, out, n;
  uint sum = FNV_INIT;

  snprintf(aout, sizeof aout, "%s/a.out", workdir);
  if((out = open(aout, O_WRONLY | O_CREATE | O_TRUNC)) < 0){
    fprintf(2, "pmake: %s: %s\n", aout, strerror(errno));
    exit(1);
  }
  for(unit = 0; unit < nunits; unit++){
    objname(obj, unit);
    if((fd = open(obj, O_RDONLY)) < 0){
      fprintf(2, "pmake: %s: %s\n", obj, strerror(errno));
      exit(1);
    }
    while((n = read(fd, buf, sizeof buf)) > 0){
      sum = fnv1a(sum, buf, n);
      write(out, buf, n);
    }
    close(fd);
    unlink(obj);
  }
  close(out);
  unlink(aout);
  return sum;
}

int
main(int argc, char *argv[])
{
  int n, njobs, j, status, failed = 0;
  uint sum;

  n = argc > 1 ? atoi(argv[1]) : 16;
  if(n < 1 || n > MAXUNITS){
    fprintf(2, "usage: pmake N (1 <= N <= %d units)\n", MAXUNITS);
    exit(2);
  }
  findsources();
  snprintf(workdir, sizeof workdir, "/obj/%d", getpid());
  if((mkdir("/obj") < 0 && errno != EEXIST) || mkdir(workdir) < 0){
    fprintf(2, "pmake: mkdir %s: %s\n", workdir, strerror(errno));
    exit(1);
  }
  njobs = nprocs();
  if(njobs < 1)
    njobs = 1;
  if(njobs > n)
    njobs = n;
  for(j = 0; j < njobs; j++){
    if(spawn() == 0)
      runjob(j, njobs, n);
  }
  for(j = 0; j < njobs; j++){
    status = 0;
    if(wait(&status) < 0)
      break;
    if(status != 0)
      failed = 1;
  }
  if(failed){
    fprintf(2, "pmake: a job failed\n");
    exit(1);
  }
  sum = linkall(n);
  unlink(workdir);
  printf("pmake %d: checksum 0x%08x\n", n, sum);
  exit(0);
}
