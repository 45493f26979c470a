// Kernel limits.
#define NPROC        64    // maximum number of processes
#define NCPU         64    // maximum number of CPUs (the machine's limit)
#define NOFILE       16    // open files per process
#define NFILE       128    // open files per system
#define NINODE       64    // maximum number of active in-memory inodes
#define NDEV          4    // device majors
#define ROOTDEV       0    // disk unit holding the root file system
#define MAXARG       32    // max exec arguments
#define NBUF         64    // blocks in the buffer cache
#define MAXPATH     128    // maximum file path name
#define NSHM         16    // shared-memory segments
#define SHMMAXPG    256    // pages per shared-memory segment (1 MiB)
#define KSTACKSIZE 8192    // per-process kernel stack
#define HZ          100    // timer ticks per second (10 ms)
