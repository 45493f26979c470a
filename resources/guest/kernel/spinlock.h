// Mutual exclusion locks.
struct spinlock {
  uint locked;       // is the lock held?
  char *name;        // for debugging
  struct cpu *cpu;   // the cpu holding the lock
};

// Long-term locks for processes: a holder may sleep.
struct sleeplock {
  uint locked;
  struct spinlock lk;
  char *name;
  int pid;
};
