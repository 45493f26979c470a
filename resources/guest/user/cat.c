// cat: copy files (or standard input) to standard output.

#include "user.h"

static char buf[4096];

static int
cat(int fd, const char *name)
{
  int n;

  while((n = read(fd, buf, sizeof buf)) > 0){
    if(write(1, buf, n) != n){
      fprintf(2, "cat: write error\n");
      return 1;
    }
  }
  if(n < 0){
    fprintf(2, "cat: %s: %s\n", name, strerror(errno));
    return 1;
  }
  return 0;
}

int
main(int argc, char *argv[])
{
  int fd, i, r = 0;

  if(argc < 2)
    exit(cat(0, "stdin"));
  for(i = 1; i < argc; i++){
    if((fd = open(argv[i], O_RDONLY)) < 0){
      fprintf(2, "cat: %s: %s\n", argv[i], strerror(errno));
      r = 1;
      continue;
    }
    r |= cat(fd, argv[i]);
    close(fd);
  }
  exit(r);
}
