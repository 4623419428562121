/* SPDX-License-Identifier: MIT */
/* "Guest code": syscall instructions in the stub binary's ordinary .text,
 * outside the stub page. */
	.text
	.globl outside_gate_x86_64
outside_gate_x86_64:
	syscall
	ret

	.globl outside_gate_i386
outside_gate_i386:
	int $0x80
	ret

	.globl outside_spin
outside_spin:
	jmp outside_spin

	.globl _start
_start:
	xor %ebp, %ebp
	and $-16, %rsp
	call stub_main
	hlt

	.section .note.GNU-stack,"",@progbits
