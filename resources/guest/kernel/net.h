// The network HAL (docs/monitor-abi.md, "Virtual network"): under the Disco
// monitor (hal_net_disco.c) a virtual switch between the monitor's VMs,
// reached through monitor calls; natively (hal_net_native.c) not yet driven,
// so every call reports that there is no network.
//
// A message goes to a link address and has any length. hal_net_send gives it
// one guest-physical piece at a time (more = 1: pieces follow); whole
// page-aligned pages are remapped by the monitor rather than copied, so the
// caller hands over the user's own physical pages. Results below 0 are the
// monitor's NET_E* codes.

#define NET_E_BUFFER  (-1)   // buffer outside memory, bad length
#define NET_E_DEST    (-2)   // no VM has that link address
#define NET_E_FULL    (-3)   // the receiver's queue is full: dropped
#define NET_E_EMPTY   (-4)   // nothing waiting
#define NET_E_TOOBIG  (-5)   // longer than the receiver's memory
#define NET_E_PIECE   (-6)   // pieces for two destinations
#define NET_E_NODEV   (-100) // no network (the native flavour)

#define NET_PEEK_LENGTH 0    // bytes left of the head message
#define NET_PEEK_SOURCE 1    // its sender's link address
#define NET_PEEK_COUNT  2    // messages waiting

int  hal_net_init(void);     // 1 if there is a network (CPU 0, once)
void hal_net_irq_on(void);   // unmask the arrival interrupt on this CPU
int  hal_net_addr(void);     // this machine's link address
int  hal_net_send(uint dest, uint pa, uint n, int more);  // 0 or NET_E_*
int  hal_net_recv(uint pa, uint n);   // bytes of the head message taken, or NET_E_*
int  hal_net_peek(int what);          // NET_PEEK_*, or NET_E_EMPTY
void hal_net_ack(void);               // acknowledge the arrival interrupt
