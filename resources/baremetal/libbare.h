// A tiny C runtime for bare-metal programs on the test machine.
//
// Devices are reached through kseg1 (uncached, unmapped); the register map
// is in docs/test-machine.md.

#ifndef LIBBARE_H
#define LIBBARE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_BASE    0xBFD00000u     // +0 write a byte, +4 read a byte or -1
#define EXIT_BASE       0xBFD00010u     // +0 write the exit code
#define START_BASE      0xBFD00020u     // +0 pc, +4 sp, +8 arg, +12 cpu / ncpus

#define MAXCPU          64

// Console.
int             putchar(int c);
int             getchar(void);                  // -1 when no input is waiting
int             puts(const char *s);            // appends a newline, like C's
int             printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int             vprintf(const char *fmt, va_list ap);

// Memory and strings.
void *          memcpy(void *dst, const void *src, size_t n);
void *          memset(void *dst, int c, size_t n);
void *          memmove(void *dst, const void *src, size_t n);
int             memcmp(const void *a, const void *b, size_t n);
size_t          strlen(const char *s);
int             strcmp(const char *a, const char *b);

// Machine control.
void            exit(int code) __attribute__((noreturn));
unsigned        cpu_id(void);
unsigned        ncpus(void);
// Release parked CPU n at fn_pc with $sp = sp and $a0 = arg. Pass
// _secondary_start as fn_pc to have the CPU call secondary_main(arg).
void            start_cpu(unsigned n, void (*fn_pc)(void), void *sp, unsigned arg);
void            _secondary_start(void);

// Synchronisation (LL/SC).
typedef volatile int spinlock_t;
void            spin_lock(spinlock_t *lock);
void            spin_unlock(spinlock_t *lock);
int             atomic_add(volatile int *p, int v);     // returns the new value

// Defined by the program.
int             main(int cpu);
void            secondary_main(unsigned arg);           // optional

#endif
