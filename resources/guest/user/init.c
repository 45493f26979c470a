// init: the first user process. Sets up the console and keeps a shell
// running.

#include "user.h"

static char *argv[] = { "sh", 0 };

int
main(void)
{
  struct stat st;
  int pid, wpid;

  // The kernel may already have given us the console as fds 0-2
  // (docs/guest-abi.md); if not, open it as xv6's init does.
  if(fstat(0, &st) < 0){
    if(open("/console", O_RDWR) < 0){
      mknod("/console", 1, 0);
      if(open("/console", O_RDWR) < 0)
        exit(1);
    }
    dup(0);   // stdout
    dup(0);   // stderr
  }

  for(;;){
    printf("init: starting sh\n");
    pid = fork();
    if(pid < 0){
      fprintf(2, "init: fork: %s\n", strerror(errno));
      exit(1);
    }
    if(pid == 0){
      exec("/sh", argv);
      fprintf(2, "init: exec sh: %s\n", strerror(errno));
      exit(1);
    }
    // Reap orphans until the shell itself exits, then start another.
    for(;;){
      wpid = wait(0);
      if(wpid == pid)
        break;
      if(wpid < 0 && errno == ECHILD)
        break;
    }
  }
}
