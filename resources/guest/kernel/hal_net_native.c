// The network on the bare machine: the machine's NIC (docs/devices.md) has
// no driver yet, so the kernel has no network and the network system calls
// fail with ENODEV.
#include "types.h"
#include "net.h"

int
hal_net_init(void)
{
  return 0;
}

void
hal_net_irq_on(void)
{
}

int
hal_net_addr(void)
{
  return NET_E_NODEV;
}

int
hal_net_send(uint dest, uint pa, uint n, int more)
{
  (void)dest; (void)pa; (void)n; (void)more;
  return NET_E_NODEV;
}

int
hal_net_recv(uint pa, uint n)
{
  (void)pa; (void)n;
  return NET_E_NODEV;
}

int
hal_net_peek(int what)
{
  (void)what;
  return NET_E_NODEV;
}

void
hal_net_ack(void)
{
}
