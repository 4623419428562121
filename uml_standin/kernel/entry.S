/* SPDX-License-Identifier: MIT */
/* "linux" holds the stub page and is not a kernel: run, it exits with 1. */
	.text
	.globl _start
_start:
	mov $60, %eax
	mov $1, %edi
	syscall
	ud2

	.section .note.GNU-stack,"",@progbits
