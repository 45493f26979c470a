// ps: list processes (getprocs).

#include "user.h"

#define MAXPROCS 64

static struct procinfo procs[MAXPROCS];

int
main(void)
{
  static const char *states[] = { "?", "sleep", "runble", "run", "zombie" };
  int i, n, s;

  n = getprocs(procs, MAXPROCS);
  if(n < 0){
    fprintf(2, "ps: %s\n", strerror(errno));
    exit(1);
  }
  printf("  PID  PPID STATE  CPU     SIZE NAME\n");
  for(i = 0; i < n && i < MAXPROCS; i++){
    s = procs[i].state >= 1 && procs[i].state <= 4 ? procs[i].state : 0;
    procs[i].name[15] = 0;
    printf("%5d %5d %-6s %3d %8u %s\n", procs[i].pid, procs[i].ppid, states[s],
           procs[i].cpu, procs[i].size, procs[i].name);
  }
  exit(0);
}
