// Monitor calls of the disco flavour (docs/monitor-abi.md): a SYSCALL from
// virtual kernel mode with the call number in $v0 and every argument in
// $a0-$a3; the monitor preserves every register but $v0, the result.
#define MC_PUTC          0
#define MC_GETC          1
#define MC_ZERO_PAGE     2
#define MC_PAGE_FREED    3
#define MC_IDLE          5
#define MC_PANIC         6
#define MC_EXIT          7
#define MC_INFO          8
#define MC_DISK_INFO     10
#define MC_DISK_READ     11
#define MC_DISK_WRITE    12
#define MC_IPI           13
#define MC_IPI_ACK       14
#define MC_RTC           15
#define MC_NET_SEND      16
#define MC_NET_RECV      17
#define MC_NET_PEEK      18
#define MC_NET_ADDR      19
#define MC_NET_ACK       20
#define MC_INTR_PENDING  32

static inline uint
mcall(uint nr, uint a0, uint a1, uint a2, uint a3)
{
  register uint v0 asm("$2") = nr;
  register uint r4 asm("$4") = a0;
  register uint r5 asm("$5") = a1;
  register uint r6 asm("$6") = a2;
  register uint r7 asm("$7") = a3;
  asm volatile("syscall" : "+r"(v0) : "r"(r4), "r"(r5), "r"(r6), "r"(r7) : "memory");
  return v0;
}

// One argument: the page allocator's hint on every kfree sets $a0 alone.
static inline uint
mcall1(uint nr, uint a0)
{
  register uint v0 asm("$2") = nr;
  register uint r4 asm("$4") = a0;
  asm volatile("syscall" : "+r"(v0) : "r"(r4) : "memory");
  return v0;
}
