// User-level interface: system calls, the small C library, shared types.
// Numbers and layouts follow docs/guest-abi.md.

#ifndef USER_H
#define USER_H

typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned int uint32;
typedef unsigned long long uint64;
typedef unsigned int size_t;

#define NULL ((void *)0)

// open flags
#define O_RDONLY  0x000
#define O_WRONLY  0x001
#define O_RDWR    0x002
#define O_CREATE  0x200
#define O_TRUNC   0x400

// file types in struct stat
#define T_DIR     1   // directory
#define T_FILE    2   // file
#define T_DEVICE  3   // device

// process states in struct procinfo
#define P_SLEEPING  1
#define P_RUNNABLE  2
#define P_RUNNING   3
#define P_ZOMBIE    4

// errno values
#define EPERM         1
#define ENOENT        2
#define ESRCH         3
#define EINTR         4
#define EIO           5
#define E2BIG         7
#define EBADF         9
#define ECHILD       10
#define EAGAIN       11
#define ENOMEM       12
#define EFAULT       14
#define EEXIST       17
#define ENODEV       19
#define ENOTDIR      20
#define EISDIR       21
#define EINVAL       22
#define EMFILE       24
#define ENOSPC       28
#define EPIPE        32
#define ENAMETOOLONG 36
#define EHOSTUNREACH 113

#define DIRSIZ 14     // bytes of a name in a directory entry

struct stat {
  int dev;            // device of the file system
  uint ino;           // inode number
  short type;         // T_DIR, T_FILE or T_DEVICE
  short nlink;        // directory entries naming it
  uint size;          // bytes
};

struct procinfo {
  int pid;
  int ppid;
  int state;          // P_SLEEPING ...
  int cpu;            // CPU it runs on, or last ran on
  uint size;          // bytes of user memory
  char name[16];
};

// A directory entry on disk (docs/guest-fs.md).
struct dirent {
  ushort inum;        // 0 = empty slot
  char name[DIRSIZ];  // NUL-padded, not always NUL-terminated
};

// system calls (usys.S); on failure they set errno and return -1
int fork(void);
void exit(int status) __attribute__((noreturn));
int wait(int *status);
int pipe(int fds[2]);
int read(int fd, void *buf, int n);
int write(int fd, const void *buf, int n);
int close(int fd);
int kill(int pid);
int exec(const char *path, char **argv);
int open(const char *path, int flags);
int mknod(const char *path, int major, int minor);
int unlink(const char *path);
int fstat(int fd, struct stat *st);
int link(const char *old, const char *new);
int mkdir(const char *path);
int chdir(const char *path);
int dup(int fd);
int getpid(void);
char *sbrk(int increment);
int sleep(int ticks);
int uptime(void);
int time(void);
int shmget(int key, int size);
void *shmat(int id);
int getprocs(struct procinfo *buf, int max);
int nprocs(void);
int poweroff(int status);
// the network (docs/guest-abi.md): ENODEV where there is none
int netaddr(void);
int netsend(uint addr, const void *buf, int n);
int netpeek(uint *src, int nowait);
int netrecv(void *buf, int n);

// ulib.c
extern int errno;
const char *strerror(int err);
int stat(const char *path, struct stat *st);
char *strcpy(char *dst, const char *src);
char *strncpy(char *dst, const char *src, int n);
char *strcat(char *dst, const char *src);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, int n);
int strlen(const char *s);
char *strchr(const char *s, int c);
char *strstr(const char *hay, const char *needle);
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
int atoi(const char *s);
long strtol(const char *s, char **end, int base);
char *gets(char *buf, int max);
int readline(int fd, char *buf, int max);
int isspace(int c);
int isdigit(int c);
int isalpha(int c);
uint32 fnv1a(uint32 h, const void *buf, int n);

// printf.c
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int fprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int snprintf(char *buf, int size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// umalloc.c
void *malloc(uint n);
void *calloc(uint n, uint size);
void free(void *p);

// rand.c: a fixed generator, so workloads are reproducible
#define RAND_MAX 0x7fffffff
void srand(uint seed);
int rand(void);

#define FNV_INIT 2166136261u

#endif
