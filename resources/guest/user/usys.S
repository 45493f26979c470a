/* System call stubs: number in $v0, arguments already in $a0-$a3.
 *
 * A negative result is -errno; __syscall_error stores it in errno and
 * returns -1 to our caller (it is reached by a jump, so $ra is still the
 * caller's).
 */
	.set	noreorder
	.set	mips32r2
	.text

#define SYSCALL(name, num)		\
	.globl	name;			\
	.ent	name;			\
name:					\
	li	$v0, num;		\
	syscall;			\
	bltz	$v0, 1f;		\
	nop;				\
	jr	$ra;			\
	nop;				\
1:	j	__syscall_error;	\
	move	$a0, $v0;		\
	.end	name

SYSCALL(fork, 1)
SYSCALL(exit, 2)
SYSCALL(wait, 3)
SYSCALL(pipe, 4)
SYSCALL(read, 5)
SYSCALL(kill, 6)
SYSCALL(exec, 7)
SYSCALL(fstat, 8)
SYSCALL(chdir, 9)
SYSCALL(dup, 10)
SYSCALL(getpid, 11)
SYSCALL(sbrk, 12)
SYSCALL(sleep, 13)
SYSCALL(uptime, 14)
SYSCALL(open, 15)
SYSCALL(write, 16)
SYSCALL(mknod, 17)
SYSCALL(unlink, 18)
SYSCALL(link, 19)
SYSCALL(mkdir, 20)
SYSCALL(close, 21)
SYSCALL(time, 22)
SYSCALL(shmget, 23)
SYSCALL(shmat, 24)
SYSCALL(getprocs, 25)
SYSCALL(nprocs, 26)
SYSCALL(poweroff, 27)
SYSCALL(netaddr, 28)
SYSCALL(netsend, 29)
SYSCALL(netpeek, 30)
SYSCALL(netrecv, 31)
