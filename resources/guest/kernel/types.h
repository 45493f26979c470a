// Basic integer types for a freestanding 32-bit kernel.
typedef unsigned int   uint;
typedef unsigned short ushort;
typedef unsigned char  uchar;
typedef unsigned int   uint32;
typedef unsigned long long uint64;
typedef int            int32;
typedef uint32         pte_t;
typedef uint32         pde_t;
#define NULL ((void *)0)
