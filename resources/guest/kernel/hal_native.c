// The HAL on the bare machine: CP0 through mfc0/mtc0, devices through kseg1.
#include "types.h"
#include "param.h"
#include "mips.h"
#include "memlayout.h"
#include "hal.h"
#include "defs.h"

#define REG(pa)   (*(volatile uint *)((uint)(pa) + KSEG1))

// Device bases (physical), from the description block's device table.
static uint uart_base, rtc_base, ipi_base, power_base;
static uint disk_base[8];
static int ndisks;

// Registers (docs/devices.md).
#define UART_DATA        0x00
#define UART_LSR         0x04
#define UART_STATUS      0x08
#define UART_IRQ_ENABLE  0x0C
#define RTC_SECONDS      0x00
#define IPI_SLOT(i)      (0x100 + 0x10 * (i))
#define DISK_CAPACITY    0x04
#define DISK_SECTOR      0x14
#define DISK_COUNT       0x18
#define DISK_DMA_ADDR    0x1C
#define DISK_DMA_ADDR_HI 0x20
#define DISK_COMMAND     0x24
#define DISK_STATUS      0x28
#define DISK_IRQ_ENABLE  0x30
#define POWER_OFF        0x00


uint
hal_machdesc(uint off)
{
  return REG(MACHDESC + off);
}

void
hal_devices_init(void)
{
  uint n = hal_machdesc(0x20), table = hal_machdesc(0x38);
  for (uint i = 0; i < n; i++) {
    uint e = table + 32 * i;
    uint type = hal_machdesc(e), unit = hal_machdesc(e + 4), base = hal_machdesc(e + 8);
    if (type == 0x54524155)        // "UART"
      uart_base = base;
    else if (type == 0x20435452)   // "RTC "
      rtc_base = base;
    else if (type == 0x20495049)   // "IPI "
      ipi_base = base;
    else if (type == 0x52574F50)   // "POWR"
      power_base = base;
    else if (type == 0x4B534944 && unit < 8) {  // "DISK"
      disk_base[unit] = base;
      if (unit + 1 > ndisks)
        ndisks = unit + 1;
      // Commands complete during the store that issues them, so the driver
      // polls STATUS once and needs no completion interrupt.
      REG(base + DISK_IRQ_ENABLE) = 0;
    }
  }
  if (uart_base)
    REG(uart_base + UART_IRQ_ENABLE) = 1;  // receive interrupts to CPU 0
}

void
hal_uart_putc(int c)
{
  if (uart_base)
    REG(uart_base + UART_DATA) = c & 0xFF;
}

int
hal_uart_getc(void)
{
  uint v = REG(uart_base + UART_DATA);
  return v == 0xFFFFFFFFu ? -1 : (int)v;
}

void
hal_uart_ack(void)
{
  REG(uart_base + UART_STATUS) = 1;
}

int
hal_disk_rw(int unit, uint sector, uint count, uint pa, int write)
{
  if (unit < 0 || unit >= ndisks || !disk_base[unit])
    return -1;
  uint b = disk_base[unit];
  REG(b + DISK_SECTOR) = sector;
  REG(b + DISK_COUNT) = count;
  REG(b + DISK_DMA_ADDR) = pa;
  REG(b + DISK_DMA_ADDR_HI) = 0;
  REG(b + DISK_COMMAND) = write ? 2 : 1;
  uint st;
  while (((st = REG(b + DISK_STATUS)) & 1) == 0)
    ;
  REG(b + DISK_STATUS) = 3;
  return (st & 2) ? -1 : 0;
}

uint
hal_disk_sectors(int unit)
{
  if (unit < 0 || unit >= ndisks || !disk_base[unit])
    return 0;
  return REG(disk_base[unit] + DISK_CAPACITY);
}

void
hal_disk_ack(void)
{
  for (int i = 0; i < ndisks; i++)
    if (disk_base[i])
      REG(disk_base[i] + DISK_STATUS) = 1;
}

uint
hal_rtc_seconds(void)
{
  return rtc_base ? REG(rtc_base + RTC_SECONDS) : 0;
}

void
hal_ipi_send(uint64 mask)
{
  uint slot = ipi_base + IPI_SLOT(hal_cpuid());
  if ((uint)mask)
    REG(slot + 0x0) = (uint)mask;
  if ((uint)(mask >> 32))
    REG(slot + 0x4) = (uint)(mask >> 32);
}

void
hal_ipi_ack(void)
{
  uint slot = ipi_base + IPI_SLOT(hal_cpuid());
  // Write back what is pending: bits naming absent CPUs count as errors.
  uint lo = REG(slot + 0x8), hi = REG(slot + 0xC);
  if (lo)
    REG(slot + 0x8) = lo;
  if (hi)
    REG(slot + 0xC) = hi;
}

void
hal_poweroff(uint code)
{
  REG((power_base ? power_base : 0x1F001000u) + POWER_OFF) = code;
  for (;;)
    ;
}
