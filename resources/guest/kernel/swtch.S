# Context switch: swtch(struct context *old, struct context *new)
# Save the callee-saved registers in old, load them from new.
	.set	noreorder
	.text
	.globl	swtch
swtch:
	sw	$s0, 0($a0)
	sw	$s1, 4($a0)
	sw	$s2, 8($a0)
	sw	$s3, 12($a0)
	sw	$s4, 16($a0)
	sw	$s5, 20($a0)
	sw	$s6, 24($a0)
	sw	$s7, 28($a0)
	sw	$fp, 32($a0)
	sw	$sp, 36($a0)
	sw	$ra, 40($a0)
	lw	$s0, 0($a1)
	lw	$s1, 4($a1)
	lw	$s2, 8($a1)
	lw	$s3, 12($a1)
	lw	$s4, 16($a1)
	lw	$s5, 20($a1)
	lw	$s6, 24($a1)
	lw	$s7, 28($a1)
	lw	$fp, 32($a1)
	lw	$sp, 36($a1)
	lw	$ra, 40($a1)
	jr	$ra
	nop
