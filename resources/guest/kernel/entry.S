# Kernel entry, exception vectors and the trap frame save/restore.
#
# The host starts every CPU at _start in kernel mode with $a0 = its CPU
# number and $sp = 0. The vectors below are copied to EBase (0x80000000) by
# hal_vectors_install(): the TLB refill handler at +0x000 and the general
# exception vector at +0x180.

#include "trapframe.inc"

#if defined(DISCO) && !defined(DISCO_TRAPS_CP0)
#include "regpage.h"
// CP0 registers without side effects are words of the register page
// (regpage.h): a load or a store instead of an MFC0/MTC0 that traps. A load
// uses its target as the base register; a store names a scratch register.
#define GET_C0(rt, reg, word)        lui rt, 0xE000; lw rt, RP_OFF(word)(rt)
#define GET_C0SEL(rt, reg, sel, word) GET_C0(rt, reg, word)
#define PUT_C0(rt, tmp, reg, word)   lui tmp, 0xE000; sw rt, RP_OFF(word)(tmp)
#else
#define GET_C0(rt, reg, word)        mfc0 rt, reg
#define GET_C0SEL(rt, reg, sel, word) mfc0 rt, reg, sel
#define PUT_C0(rt, tmp, reg, word)   mtc0 rt, reg
#endif

	.set	noreorder
	.set	mips32r2

	.section .text.start, "ax", @progbits
	.globl	_start
_start:
#ifdef DISCO
	# The monitor starts every vCPU with zeroed registers: the vCPU number
	# comes from EBase.CPUNum (in the register page).
	GET_C0SEL($a0, $15, 1, RP_EBASE)
	andi	$a0, $a0, 0x3FF
#endif
	la	$gp, _gp
	# $sp = the top of this CPU's boot stack.
	la	$sp, stack0
	addiu	$t0, $a0, 1
	sll	$t0, $t0, 13		# 8 KiB per CPU
	addu	$sp, $sp, $t0
	addiu	$sp, $sp, -32
	jal	main
	nop
1:	b	1b
	nop

	.text

# TLB refill (EBase + 0x000). Context.PTEBase holds the CPU number, which
# indexes pgdir_cur[]; BadVAddr picks the 4 MiB page table and
# Context.BadVPN2 the even/odd pair of PTEs in it. Empty directory slots
# point at a page of zero PTEs, so there is no branch: an invalid PTE pair is
# loaded and the access takes a TLB invalid exception at the general vector.
	.globl	vec_refill
	.globl	vec_refill_end
vec_refill:
	.set	noat
#if defined(DISCO) && !defined(DISCO_TRAPS_CP0)
	# The same walk with the register page: $at is saved in its KScratch word
	# to hold the page's address, so only TLBWR and ERET trap.
	lui	$k0, 0xE000
	sw	$at, RP_OFF(RP_KSCRATCH)($k0)
	move	$at, $k0
	lw	$k1, RP_OFF(RP_CONTEXT)($at)
	srl	$k1, $k1, 23		# CPU number
	sll	$k1, $k1, 2
	lui	$k0, %hi(pgdir_cur)
	addu	$k0, $k0, $k1
	lw	$k0, %lo(pgdir_cur)($k0)
	lw	$k1, RP_OFF(RP_BADVADDR)($at)
	srl	$k1, $k1, 22
	sll	$k1, $k1, 2
	addu	$k0, $k0, $k1
	lw	$k0, 0($k0)		# page table (relocated kseg0)
	lw	$k1, RP_OFF(RP_CONTEXT)($at)
	andi	$k1, $k1, 0x1FF0	# VA[21:13] << 4
	srl	$k1, $k1, 1		# times 8 bytes per pair
	addu	$k0, $k0, $k1
	lw	$k1, 0($k0)
	sw	$k1, RP_OFF(RP_ENTRYLO0)($at)	# software bits 31..30: TLBWR drops them
	lw	$k1, 4($k0)
	sw	$k1, RP_OFF(RP_ENTRYLO1)($at)
	lw	$at, RP_OFF(RP_KSCRATCH)($at)
	tlbwr
	eret
#else
	mfc0	$k0, $4			# Context
	srl	$k0, $k0, 23		# CPU number
	sll	$k0, $k0, 2
	lui	$k1, %hi(pgdir_cur)
	addu	$k1, $k1, $k0
	lw	$k1, %lo(pgdir_cur)($k1)
	mfc0	$k0, $8			# BadVAddr
	srl	$k0, $k0, 22
	sll	$k0, $k0, 2
	addu	$k1, $k1, $k0
	lw	$k1, 0($k1)		# page table (kseg0)
	mfc0	$k0, $4
	andi	$k0, $k0, 0x1FF0	# VA[21:13] << 4
	srl	$k0, $k0, 1		# times 8 bytes per pair
	addu	$k1, $k1, $k0
	lw	$k0, 0($k1)
	lw	$k1, 4($k1)
	mtc0	$k0, $2			# EntryLo0 (software bits 31..30 dropped)
	mtc0	$k1, $3			# EntryLo1
	ehb
	tlbwr
	eret
#endif
	.set	at
vec_refill_end:

# General exception vector (EBase + 0x180): jump to the full handler.
	.globl	vec_general
	.globl	vec_general_end
vec_general:
	.set	noat
	lui	$k0, %hi(trapentry)
	addiu	$k0, $k0, %lo(trapentry)
	jr	$k0
	nop
	.set	at
vec_general_end:

# Save the registers in a trap frame, call trap(tf), restore and return.
# From user mode the frame goes at the top of the process's kernel stack
# (cpu_kstacktop[cpu]); from kernel mode it goes below the current $sp.
	.globl	trapentry
trapentry:
	.set	noat
	GET_C0($k0, $12, RP_STATUS)	# Status
	andi	$k0, $k0, 0x10		# UM: came from user mode?
	beqz	$k0, 1f
	move	$k1, $sp
	GET_C0SEL($k0, $15, 1, RP_EBASE)	# EBase.CPUNum
	andi	$k0, $k0, 0x3FF
	sll	$k0, $k0, 2
	lui	$sp, %hi(cpu_kstacktop)
	addu	$sp, $sp, $k0
	lw	$sp, %lo(cpu_kstacktop)($sp)
1:	addiu	$sp, $sp, -TF_SIZE
	sw	$k1, 29*4($sp)
	sw	$1, 1*4($sp)
	sw	$2, 2*4($sp)
	sw	$3, 3*4($sp)
	sw	$4, 4*4($sp)
	sw	$5, 5*4($sp)
	sw	$6, 6*4($sp)
	sw	$7, 7*4($sp)
	sw	$8, 8*4($sp)
	sw	$9, 9*4($sp)
	sw	$10, 10*4($sp)
	sw	$11, 11*4($sp)
	sw	$12, 12*4($sp)
	sw	$13, 13*4($sp)
	sw	$14, 14*4($sp)
	sw	$15, 15*4($sp)
	sw	$16, 16*4($sp)
	sw	$17, 17*4($sp)
	sw	$18, 18*4($sp)
	sw	$19, 19*4($sp)
	sw	$20, 20*4($sp)
	sw	$21, 21*4($sp)
	sw	$22, 22*4($sp)
	sw	$23, 23*4($sp)
	sw	$24, 24*4($sp)
	sw	$25, 25*4($sp)
	sw	$28, 28*4($sp)
	sw	$30, 30*4($sp)
	sw	$31, 31*4($sp)
	mfhi	$k0
	sw	$k0, TF_HI($sp)
	mflo	$k0
	sw	$k0, TF_LO($sp)
	GET_C0($k0, $14, RP_EPC)
	sw	$k0, TF_EPC($sp)
	GET_C0($k0, $12, RP_STATUS)
	sw	$k0, TF_STATUS($sp)
	GET_C0($k0, $13, RP_CAUSE)
	sw	$k0, TF_CAUSE($sp)
	GET_C0($k0, $8, RP_BADVADDR)
	sw	$k0, TF_BADVADDR($sp)
	.set	at
	la	$gp, _gp
	move	$a0, $sp
	addiu	$sp, $sp, -16		# o32 argument home area
	jal	trap
	nop
	addiu	$sp, $sp, 16
	# fall through

# Restore the frame at $sp and return from the exception.
	.globl	trapret
trapret:
	.set	noat
#if defined(DISCO) && !defined(DISCO_TRAPS_CP0)
	# DI as a store to the page's Status. $t0/$t1 are restored from the frame
	# below; an interrupt taken between the load and the store returns with
	# the same Status, so the store still only clears IE.
	lui	$t1, 0xE000
	lw	$t0, RP_OFF(RP_STATUS)($t1)
	ori	$t0, $t0, 1
	xori	$t0, $t0, 1
	sw	$t0, RP_OFF(RP_STATUS)($t1)
#else
	di
#endif
	ehb
	lw	$k0, TF_HI($sp)
	mthi	$k0
	lw	$k0, TF_LO($sp)
	mtlo	$k0
	lw	$k0, TF_STATUS($sp)	# EXL is set in it: no interrupt until eret
	PUT_C0($k0, $k1, $12, RP_STATUS)
	ehb
	lw	$k0, TF_EPC($sp)
	PUT_C0($k0, $k1, $14, RP_EPC)
	lw	$1, 1*4($sp)
	lw	$2, 2*4($sp)
	lw	$3, 3*4($sp)
	lw	$4, 4*4($sp)
	lw	$5, 5*4($sp)
	lw	$6, 6*4($sp)
	lw	$7, 7*4($sp)
	lw	$8, 8*4($sp)
	lw	$9, 9*4($sp)
	lw	$10, 10*4($sp)
	lw	$11, 11*4($sp)
	lw	$12, 12*4($sp)
	lw	$13, 13*4($sp)
	lw	$14, 14*4($sp)
	lw	$15, 15*4($sp)
	lw	$16, 16*4($sp)
	lw	$17, 17*4($sp)
	lw	$18, 18*4($sp)
	lw	$19, 19*4($sp)
	lw	$20, 20*4($sp)
	lw	$21, 21*4($sp)
	lw	$22, 22*4($sp)
	lw	$23, 23*4($sp)
	lw	$24, 24*4($sp)
	lw	$25, 25*4($sp)
	lw	$28, 28*4($sp)
	lw	$30, 30*4($sp)
	lw	$31, 31*4($sp)
	lw	$sp, 29*4($sp)
	eret
	.set	at

# usertrapret(tf): return to user space through the frame tf.
	.globl	usertrapret
usertrapret:
	b	trapret
	move	$sp, $a0

	.bss
	.align	4
	.globl	stack0
stack0:
	.space	8192 * 64
