// cp: copy a file.

#include "user.h"

static char buf[4096];

int
main(int argc, char *argv[])
{
  int in, out, n;

  if(argc != 3){
    fprintf(2, "usage: cp from to\n");
    exit(2);
  }
  if((in = open(argv[1], O_RDONLY)) < 0){
    fprintf(2, "cp: %s: %s\n", argv[1], strerror(errno));
    exit(1);
  }
  if((out = open(argv[2], O_WRONLY | O_CREATE | O_TRUNC)) < 0){
    fprintf(2, "cp: %s: %s\n", argv[2], strerror(errno));
    exit(1);
  }
  while((n = read(in, buf, sizeof buf)) > 0){
    if(write(out, buf, n) != n){
      fprintf(2, "cp: %s: %s\n", argv[2], strerror(errno));
      exit(1);
    }
  }
  if(n < 0){
    fprintf(2, "cp: %s: %s\n", argv[1], strerror(errno));
    exit(1);
  }
  exit(0);
}
