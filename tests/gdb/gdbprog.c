// A small bare-metal program for the GDB tests: a call chain, a watched variable,
// and a second CPU (tests/gdb/test_gdb_bare.py).

#include "libbare.h"

volatile int counter;           // watched by the tests
volatile int secondary_done;
volatile int spin_forever;      // a test sets it to hold the program in a loop
int total;
static spinlock_t lock;
static char stack1[4096] __attribute__((aligned(16)));

__attribute__((noinline)) int bump(int by)
{
    counter = counter + by;
    return counter;
}

__attribute__((noinline)) int twice(int by)
{
    return bump(by) + bump(by);
}

void secondary_main(unsigned arg)
{
    spin_lock(&lock);
    total += (int)arg;
    spin_unlock(&lock);
    secondary_done = 1;
}

int main(int cpu)
{
    (void)cpu;
    if (ncpus() > 1) {
        start_cpu(1, _secondary_start, stack1 + sizeof stack1, 7);
        while (!secondary_done)
            ;
    }
    for (int i = 1; i <= 4; i++)
        twice(i);
    while (spin_forever)
        ;
    printf("counter %d total %d\n", counter, total);
    return 0;
}
