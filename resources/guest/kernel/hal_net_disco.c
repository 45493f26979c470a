// The network under the Disco monitor: the monitor's virtual switch
// (disco_core/monitor/vnet.py), one monitor call per request; arrivals raise
// Cause.IP4 on vCPU 0 until NET_ACK.
#include "types.h"
#include "param.h"
#include "mips.h"
#include "net.h"
#include "mcall.h"

int
hal_net_init(void)
{
  return 1;
}

void
hal_net_irq_on(void)
{
  // The common CPU start (cp0.c) leaves IM4 off.
  w_c0_status(r_c0_status() | ST_IM(IRQ_NIC));
}

int
hal_net_addr(void)
{
  return (int)mcall(MC_NET_ADDR, 0, 0, 0, 0);
}

int
hal_net_send(uint dest, uint pa, uint n, int more)
{
  return (int)mcall(MC_NET_SEND, dest, pa, n, more ? 1 : 0);
}

int
hal_net_recv(uint pa, uint n)
{
  return (int)mcall(MC_NET_RECV, pa, n, 0, 0);
}

int
hal_net_peek(int what)
{
  return (int)mcall(MC_NET_PEEK, what, 0, 0, 0);
}

void
hal_net_ack(void)
{
  mcall(MC_NET_ACK, 0, 0, 0, 0);
}
