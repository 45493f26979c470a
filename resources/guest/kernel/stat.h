#define T_DIR     1
#define T_FILE    2
#define T_DEVICE  3

struct stat {
  int dev;
  uint ino;
  short type;
  short nlink;
  uint size;
};

struct procinfo {
  int pid;
  int ppid;
  int state;   // 1 sleeping, 2 runnable, 3 running, 4 zombie
  int cpu;
  uint size;
  char name[16];
};
