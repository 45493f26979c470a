// Processes and CPUs.

// Callee-saved registers for kernel context switches (swtch.S).
struct context {
  uint s[9];   // s0-s7, s8/fp
  uint sp;
  uint ra;
};

// Per-CPU state.
struct cpu {
  struct proc *proc;          // the process running on this cpu, or null
  struct context context;     // swtch() here to enter scheduler()
  int noff;                   // depth of push_off() nesting
  int intena;                 // were interrupts enabled before push_off()?
  uint asid_next;             // generation << 8 | last ASID handed out on this CPU
  int idle;                   // in the idle loop's WAIT
};

extern struct cpu cpus[NCPU];
extern int ncpu;

// Registers saved by the trap vector, at the top of the kernel stack (entry.S).
struct trapframe {
  uint regs[32];   // regs[0] unused
  uint hi, lo;
  uint epc, status, cause, badvaddr;
  uint pad[2];
};
#define TF_V0 2
#define TF_A0 4
#define TF_SP 29

enum procstate { UNUSED, USED, SLEEPING, RUNNABLE, RUNNING, ZOMBIE };

// Per-process state.
struct proc {
  struct spinlock lock;

  // p->lock must be held when using these:
  enum procstate state;
  void *chan;                  // if non-zero, sleeping on chan
  int killed;
  uint consread;               // when it last read the console (Ctrl-C: console.c)
  int xstate;                  // exit status for the parent's wait
  int pid;
  int cpu;                     // last CPU it ran on
  uint ready_tick;             // ticks when it last became runnable

  // wait_lock must be held when using this:
  struct proc *parent;

  // private to the process, so p->lock need not be held:
  char *kstack;                // bottom of the kernel stack
  uint sz;                     // end of the heap (the break)
  uint heapstart;              // end of the program image
  pde_t *pgdir;                // page directory (kseg0)
  uint asid[NCPU];             // per CPU: generation << 8 | ASID, 0 = none
  struct trapframe *tf;        // user registers, at the top of kstack
  struct context context;      // swtch() here to run the process
  struct file *ofile[NOFILE];
  struct inode *cwd;
  char name[16];
};
