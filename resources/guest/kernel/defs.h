// Prototypes of the kernel's functions, by file.
struct buf;
struct context;
struct file;
struct inode;
struct pipe;
struct proc;
struct spinlock;
struct sleeplock;
struct stat;
struct trapframe;
struct cpu;

// bio.c
void            binit(void);
struct buf*     bread(uint, uint);
void            brelse(struct buf*);
void            bwrite(struct buf*);

// console.c
void            consoleinit(void);
void            consoleintr(void);
void            consputc(int);

// exec.c
int             kexec(char*, char**);

// file.c
struct file*    filealloc(void);
void            fileclose(struct file*);
struct file*    filedup(struct file*);
int             fileread(struct file*, uint, int);
int             filestat(struct file*, uint);
int             filewrite(struct file*, uint, int);

// fs.c
void            fsinit(int);
void            fs_begin(void);
void            fs_end(void);
int             dirlink(struct inode*, char*, uint);
struct inode*   dirlookup(struct inode*, char*, uint*);
struct inode*   ialloc(uint, short);
struct inode*   idup(struct inode*);
void            iput(struct inode*);
void            iupdate(struct inode*);
void            itrunc(struct inode*);
int             namecmp(const char*, const char*);
struct inode*   namei(char*);
struct inode*   nameiparent(char*, char*);
int             readi(struct inode*, int, uint, uint, uint);
void            stati(struct inode*, struct stat*);
int             writei(struct inode*, int, uint, uint, uint);

// kalloc.c
void            kinit(void);
void*           kalloc(void);
void            kfree(void*);
void            page_ref(uint);
int             page_unref(uint);
uint            kmem_free_pages(void);
int             page_refs(uint);
extern uint     ram_bytes;

// net.c
void            netinit(void);
void            netinithart(void);
void            netintr(void);

// pipe.c
int             pipealloc(struct file**, struct file**);
void            pipeclose(struct pipe*, int);
int             piperead(struct pipe*, uint, int);
int             pipewrite(struct pipe*, uint, int);

// printf.c
void            printf(char*, ...);
void            panic(char*) __attribute__((noreturn));
void            panic_trap(char*, struct trapframe*) __attribute__((noreturn));
void            printfinit(void);

// proc.c
int             cpuid(void);
struct cpu*     mycpu(void);
struct proc*    myproc(void);
void            procinit(void);
void            userinit(void);
int             fork(void);
void            exit(int) __attribute__((noreturn));
int             wait(uint);
void            yield(void);
void            sleep(void*, struct spinlock*);
void            wakeup(void*);
int             kill(int);
int             killfg(void);
int             killed(struct proc*);
void            setkilled(struct proc*);
void            scheduler(void) __attribute__((noreturn));
void            sched(void);
int             either_copyout(int, uint, void*, uint);
int             either_copyin(void*, int, uint, uint);
int             getprocs(uint, int);
int             growproc(int);
void            wake_idle(int prefer);
extern struct spinlock tickslock;
extern uint     ticks;

// shm.c
void            shminit(void);
int             shmget(int, uint);
int             shmat(int);

// spinlock.c
void            acquire(struct spinlock*);
int             holding(struct spinlock*);
void            initlock(struct spinlock*, char*);
void            release(struct spinlock*);
void            push_off(void);
void            pop_off(void);
void            initsleeplock(struct sleeplock*, char*);
void            acquiresleep(struct sleeplock*);
void            releasesleep(struct sleeplock*);

// string.c
int             memcmp(const void*, const void*, uint);
void*           memmove(void*, const void*, uint);
void*           memcpy(void*, const void*, uint);
void*           memset(void*, int, uint);
char*           safestrcpy(char*, const char*, int);
int             strlen(const char*);
int             strncmp(const char*, const char*, uint);
char*           strncpy(char*, const char*, int);

// swtch.S
void            swtch(struct context*, struct context*);

// syscall.c
int             argint(int, int*);
uint            argaddr(int);
int             argstr(int, char*, int);
int             fetchstr(uint, char*, int);
void            syscall(void);

// trap.c
void            trapinit(uint);
void            trap(struct trapframe*);
void            usertrapret(struct trapframe*) __attribute__((noreturn));

// vm.c
pde_t*          pgdir_alloc(void);
pte_t*          walk(pde_t*, uint, int);
void            pgdir_free(pde_t*);
int             uvmcopy(pde_t*, pde_t*);
void            uvmunmap(pde_t*, uint, uint);
int             uvmmap(pde_t*, uint, uint, uint);
uint            uva2pa(struct proc*, uint, int);
int             vm_fault(struct proc*, uint, int);
int             copyout(struct proc*, uint, void*, uint);
int             copyin(struct proc*, void*, uint, uint);
int             copyinstr(struct proc*, char*, uint, uint);
void            vm_activate(struct proc*);
void            vm_dropctx(struct proc*);
void            vminit(void);
extern pde_t*   pgdir_cur[];

#define NELEM(x) (sizeof(x)/sizeof((x)[0]))
