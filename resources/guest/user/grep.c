// grep: print lines containing a fixed string. -c counts matching lines,
// -v selects the lines that do not match.

#include "user.h"

static char buf[4096];
static int count, invert;

// Returns the number of selected lines.
static int
grep(const char *pattern, int fd, const char *prefix)
{
  int n, m = 0, found = 0, last;
  char *p, *q;

  while((n = read(fd, buf + m, sizeof buf - m - 1)) > 0){
    m += n;
    buf[m] = 0;
    p = buf;
    while((q = strchr(p, '\n')) != 0){
      *q = 0;
      if((strstr(p, pattern) != 0) != invert){
        found++;
        if(!count){
          *q = '\n';
          if(prefix)
            printf("%s:", prefix);
          write(1, p, q + 1 - p);
        }
      }
      p = q + 1;
    }
    if(p == buf && m == sizeof buf - 1)
      p = buf + m;    // a line longer than the buffer: drop it
    m -= p - buf;
    memmove(buf, p, m);
  }
  // The last line may lack a newline.
  if(m > 0){
    buf[m] = 0;
    last = strstr(buf, pattern) != 0;
    if(last != invert){
      found++;
      if(!count){
        if(prefix)
          printf("%s:", prefix);
        printf("%s\n", buf);
      }
    }
  }
  return found;
}

int
main(int argc, char *argv[])
{
  int i, fd, n, nfiles, total = 0;
  char *pattern;

  for(i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++){
    if(strcmp(argv[i], "-c") == 0)
      count = 1;
    else if(strcmp(argv[i], "-v") == 0)
      invert = 1;
    else {
      fprintf(2, "grep: unknown option %s\n", argv[i]);
      exit(2);
    }
  }
  if(i >= argc){
    fprintf(2, "usage: grep [-c] [-v] pattern [file ...]\n");
    exit(2);
  }
  pattern = argv[i++];
  if(i >= argc){
    total = grep(pattern, 0, 0);
    if(count)
      printf("%d\n", total);
    exit(total ? 0 : 1);
  }
  nfiles = argc - i;
  for(; i < argc; i++){
    if((fd = open(argv[i], O_RDONLY)) < 0){
      fprintf(2, "grep: %s: %s\n", argv[i], strerror(errno));
      continue;
    }
    // Name the file on each line only when there are several.
    n = grep(pattern, fd, nfiles > 1 ? argv[i] : 0);
    close(fd);
    if(count && nfiles > 1)
      printf("%s:%d\n", argv[i], n);
    else if(count)
      printf("%d\n", n);
    total += n;
  }
  exit(total ? 0 : 1);
}
