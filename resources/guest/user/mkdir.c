// mkdir: make directories.

#include "user.h"

int
main(int argc, char *argv[])
{
  int i, r = 0;

  if(argc < 2){
    fprintf(2, "usage: mkdir dir ...\n");
    exit(2);
  }
  for(i = 1; i < argc; i++){
    if(mkdir(argv[i]) < 0){
      fprintf(2, "mkdir: %s: %s\n", argv[i], strerror(errno));
      r = 1;
    }
  }
  exit(r);
}
