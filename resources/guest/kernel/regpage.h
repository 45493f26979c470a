// The register page of the disco flavour (docs/monitor-abi.md, "The register
// page"; disco_core/monitor/regpage.py has the same word indexes): this vCPU's
// CP0 registers without side effects, read and written with ordinary loads and
// stores at REGPAGE_VA instead of MFC0/MTC0, which trap.

#define REGPAGE_VA    0xDFFFF000u
#define RP_STATUS     0
#define RP_CAUSE      1
#define RP_EPC        2
#define RP_BADVADDR   3
#define RP_ENTRYHI    4
#define RP_ENTRYLO0   5
#define RP_ENTRYLO1   6
#define RP_CONTEXT    7
#define RP_PAGEMASK   8
#define RP_INDEX      9
#define RP_EBASE      10
#define RP_ERROREPC   11
#define RP_USERLOCAL  12
#define RP_KSCRATCH   13

// From assembly: with a register holding 0xE0000000 (`lui r, 0xE000`), word w
// is at offset RP_OFF(w), a 16-bit negative displacement.
#define RP_OFF(w)     ((w) * 4 - 0x1000)

#ifndef __ASSEMBLER__
#define regpage ((volatile uint *)REGPAGE_VA)
#endif
