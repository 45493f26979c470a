/* User start-up: _start(argc, argv) calls main and then exit.
 *
 * The kernel enters _start in user mode with $a0 = argc, $a1 = argv and
 * $sp 8-byte aligned below the argument strings (docs/guest-abi.md).
 */
	.set	noreorder
	.set	mips32r2

	.section .text.start, "ax", @progbits
	.globl	_start
	.ent	_start
_start:
	la	$gp, _gp
	/* o32 gives the callee a 16-byte home area for $a0-$a3; keep $sp
	 * 8-byte aligned. */
	addiu	$sp, $sp, -24
	jal	main
	nop
	jal	exit
	move	$a0, $v0
1:	b	1b			/* exit does not return */
	nop
	.end	_start
