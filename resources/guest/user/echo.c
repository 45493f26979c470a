// echo: print the arguments separated by spaces.

#include "user.h"

int
main(int argc, char *argv[])
{
  char buf[512];
  int i, n = 0, len;

  // One write per line where it fits, so echo's output stays whole.
  for(i = 1; i < argc; i++){
    len = strlen(argv[i]);
    if(n + len + 2 > sizeof buf){
      write(1, buf, n);
      n = 0;
    }
    if(len + 2 > sizeof buf){
      write(1, argv[i], len);
    } else {
      memmove(buf + n, argv[i], len);
      n += len;
    }
    buf[n++] = i + 1 < argc ? ' ' : '\n';
  }
  if(argc < 2)
    buf[n++] = '\n';
  write(1, buf, n);
  exit(0);
}
