// wc: count lines, words and bytes.

#include "user.h"

static char buf[4096];

static int
wc(int fd, const char *name)
{
  int i, n, lines = 0, words = 0, bytes = 0, inword = 0;

  while((n = read(fd, buf, sizeof buf)) > 0){
    bytes += n;
    for(i = 0; i < n; i++){
      if(buf[i] == '\n')
        lines++;
      if(isspace(buf[i]))
        inword = 0;
      else if(!inword){
        words++;
        inword = 1;
      }
    }
  }
  if(n < 0){
    fprintf(2, "wc: %s: %s\n", name, strerror(errno));
    return 1;
  }
  if(name)
    printf("%d %d %d %s\n", lines, words, bytes, name);
  else
    printf("%d %d %d\n", lines, words, bytes);
  return 0;
}

int
main(int argc, char *argv[])
{
  int fd, i, r = 0;

  if(argc < 2)
    exit(wc(0, 0));
  for(i = 1; i < argc; i++){
    if((fd = open(argv[i], O_RDONLY)) < 0){
      fprintf(2, "wc: %s: %s\n", argv[i], strerror(errno));
      r = 1;
      continue;
    }
    r |= wc(fd, argv[i]);
    close(fd);
  }
  exit(r);
}
