/* Bare-metal start-up: the entry points of CPU 0 and of released CPUs.
 *
 * CPU 0 arrives at _start in kernel mode with $sp at the top of RAM (see
 * docs/test-machine.md). Other CPUs are released through the start block
 * at _secondary_start (or wherever start_cpu() points them) with $sp and
 * $a0 set by the block.
 */
	.set	noreorder
	.set	mips32r2

#define EXIT_DEVICE	0xBFD00010

	.section .text.start, "ax", @progbits
	.globl	_start
	.ent	_start
_start:
	la	$gp, _gp

	/* Clear .bss four words per iteration (link.ld aligns both ends to 16). */
	la	$t0, _bss_start
	la	$t1, _bss_end
	beq	$t0, $t1, 2f
	nop
1:	sw	$zero, 0($t0)
	sw	$zero, 4($t0)
	sw	$zero, 8($t0)
	addiu	$t0, $t0, 16
	bne	$t0, $t1, 1b
	sw	$zero, -4($t0)
2:
	/* main(cpu): only CPU 0 starts here, so cpu is 0 without asking EBase
	 * (unicorn, our reference, reads CPUNum as 1023). o32 wants a 16-byte
	 * home area for $a0-$a3 in our frame. */
	move	$a0, $zero
	addiu	$sp, $sp, -24
	jal	main
	nop

	/* main returned: its value is the exit code. */
	li	$t0, EXIT_DEVICE
	sw	$v0, 0($t0)
3:	b	3b
	nop
	.end	_start

/* A released CPU: $a0 = the start argument, $sp = its stack top. */
	.globl	_secondary_start
	.ent	_secondary_start
_secondary_start:
	la	$gp, _gp
	addiu	$sp, $sp, -24
	la	$t9, secondary_main
	beqz	$t9, 4f			/* the program has no secondary_main */
	nop
	jalr	$t9
	nop
	/* Done: sleep for good. CPU 0 ends the run through the exit device. */
4:	wait
	b	4b
	nop
	.end	_secondary_start

	.weak	secondary_main
