// Console on the UART: output, and line-edited input with echo.
#include "types.h"
#include "param.h"
#include "spinlock.h"
#include "proc.h"
#include "fs.h"
#include "file.h"
#include "hal.h"
#include "errno.h"
#include "defs.h"

#define BACKSPACE 0x100
#define C(x) ((x) - '@')  // Control-x

static struct {
  struct spinlock lock;
  char buf[512];
  uint r;  // read index
  uint w;  // write index: end of the lines ready for read()
  uint e;  // edit index
  uint reads;  // read() calls so far: each process notes when it last read (Ctrl-C)
} cons;

void
consputc(int c)
{
  if (c == BACKSPACE) {
    hal_uart_putc('\b');
    hal_uart_putc(' ');
    hal_uart_putc('\b');
  } else {
    hal_uart_putc(c);
  }
}

static int
consolewrite(int user_src, uint src, int n)
{
  char buf[64];
  int i = 0;
  while (i < n) {
    int m = n - i < (int)sizeof(buf) ? n - i : (int)sizeof(buf);
    if (either_copyin(buf, user_src, src + i, m) < 0)
      return i > 0 ? i : -EFAULT;
    acquire(&cons.lock);
    for (int j = 0; j < m; j++)
      consputc(buf[j]);
    release(&cons.lock);
    i += m;
  }
  return n;
}

// Copy up to a whole line to dst; Ctrl-D ends input (a read returns 0).
static int
consoleread(int user_dst, uint dst, int n)
{
  int target = n;
  acquire(&cons.lock);
  myproc()->consread = ++cons.reads;
  while (n > 0) {
    while (cons.r == cons.w) {
      if (killed(myproc())) {
        release(&cons.lock);
        return -EINTR;
      }
      sleep(&cons.r, &cons.lock);
    }
    int c = cons.buf[cons.r++ % sizeof(cons.buf)];
    if (c == C('D')) {
      // Keep the ^D for next time if we already have data, so this read is short.
      if (n < target)
        cons.r--;
      break;
    }
    char cbuf = c;
    if (either_copyout(user_dst, dst, &cbuf, 1) < 0) {
      cons.r--;  // keep the byte for a read with a good buffer
      if (n == target) {
        release(&cons.lock);
        return -EFAULT;
      }
      break;
    }
    dst++;
    n--;
    if (c == '\n')
      break;
  }
  release(&cons.lock);
  return target - n;
}

// The UART's receive interrupt: drain the FIFO into the line buffer. Ctrl-C
// discards the line being typed and kills the foreground job (proc.c, killfg); with
// no job running it ends the line empty, so the shell prompts again.
void
consoleintr(void)
{
  int c;
  acquire(&cons.lock);
  while ((c = hal_uart_getc()) >= 0) {
    switch (c) {
    case C('C'):
      cons.e = cons.w;
      consputc('^');
      consputc('C');
      consputc('\n');
      // killfg takes the process locks: not under cons.lock (a reader sleeps holding
      // cons.lock until it has its own process lock)
      release(&cons.lock);
      int jobs = killfg();
      acquire(&cons.lock);
      if (jobs == 0 && cons.e - cons.r < sizeof(cons.buf)) {
        cons.buf[cons.e++ % sizeof(cons.buf)] = '\n';
        cons.w = cons.e;
        wakeup(&cons.r);
      }
      break;
    case C('U'):  // kill line
      while (cons.e != cons.w && cons.buf[(cons.e - 1) % sizeof(cons.buf)] != '\n') {
        cons.e--;
        consputc(BACKSPACE);
      }
      break;
    case C('H'):
    case 0x7f:
      if (cons.e != cons.w) {
        cons.e--;
        consputc(BACKSPACE);
      }
      break;
    default:
      if (c != 0 && cons.e - cons.r < sizeof(cons.buf)) {
        c = (c == '\r') ? '\n' : c;
        if (c != C('D'))
          consputc(c);
        cons.buf[cons.e++ % sizeof(cons.buf)] = c;
        if (c == '\n' || c == C('D') || cons.e - cons.r == sizeof(cons.buf)) {
          cons.w = cons.e;
          wakeup(&cons.r);
        }
      }
      break;
    }
  }
  hal_uart_ack();
  release(&cons.lock);
}

void
consoleinit(void)
{
  initlock(&cons.lock, "cons");
  devsw[CONSOLE].read = consoleread;
  devsw[CONSOLE].write = consolewrite;
}
