// ls: list directories (name, type, inode, size) or describe files.

#include "user.h"

static void
show(const char *name, struct stat *st)
{
  static const char *types[] = { "?", "dir", "file", "dev" };
  int t = st->type >= 1 && st->type <= 3 ? st->type : 0;

  printf("%-14s %-4s %4u %7u\n", name, types[t], st->ino, st->size);
}

static int
ls(const char *path)
{
  char buf[128], name[DIRSIZ + 1];
  struct dirent de;
  struct stat st;
  int fd, n;

  if((fd = open(path, O_RDONLY)) < 0){
    fprintf(2, "ls: %s: %s\n", path, strerror(errno));
    return 1;
  }
  if(fstat(fd, &st) < 0){
    fprintf(2, "ls: %s: %s\n", path, strerror(errno));
    close(fd);
    return 1;
  }
  if(st.type != T_DIR){
    show(path, &st);
    close(fd);
    return 0;
  }
  n = strlen(path);
  if(n + 1 + DIRSIZ + 1 > sizeof buf){
    fprintf(2, "ls: %s: path too long\n", path);
    close(fd);
    return 1;
  }
  while(read(fd, &de, sizeof de) == sizeof de){
    if(de.inum == 0)
      continue;
    memmove(name, de.name, DIRSIZ);
    name[DIRSIZ] = 0;
    snprintf(buf, sizeof buf, "%s%s%s", path, path[n - 1] == '/' ? "" : "/", name);
    if(stat(buf, &st) < 0){
      fprintf(2, "ls: %s: %s\n", buf, strerror(errno));
      continue;
    }
    show(name, &st);
  }
  close(fd);
  return 0;
}

int
main(int argc, char *argv[])
{
  int i, r = 0;

  if(argc < 2)
    exit(ls("."));
  for(i = 1; i < argc; i++)
    r |= ls(argv[i]);
  exit(r);
}
