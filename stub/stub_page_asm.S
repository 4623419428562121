/* SPDX-License-Identifier: MIT */
/*
 * The hand-written part of the stub page. Everything in section "stub_page"
 * is copied to stub_start and runs only there, so it may use only
 * PC-relative references to itself.
 */
	.section stub_page,"ax",@progbits
	.p2align 12

/* Offset 0: a ret, so that a syscall instruction written in the last two
 * bytes before the stub page returns into the page. */
	.globl stub_page_base
	.hidden stub_page_base
stub_page_base:
	ret

/* The stub page's own syscall instructions, one per ABI. */
	.globl stub_gate_x86_64
	.hidden stub_gate_x86_64
stub_gate_x86_64:
	syscall
	ret

	.globl stub_gate_i386
	.hidden stub_gate_i386
stub_gate_i386:
	int $0x80
	ret

/* sa_restorer for the SIGSYS handler: rt_sigreturn from the stub page. Its
 * syscall instruction sits at STUB_RESTORER_SYSCALL_OFFSET (stub_abi.h), the
 * only other address a hardened filter allows. */
	.globl stub_restorer
	.hidden stub_restorer
stub_restorer:
	mov $15, %eax
	syscall
	ud2

/*
 * long stub_call(uint64_t target, uint32_t abi, uint32_t nr,
 *                const uint64_t args[6])
 * Loads the syscall registers of the ABI and calls `target`, a syscall
 * instruction followed by ret.
 */
	.globl stub_call
	.hidden stub_call
stub_call:
	push %rbx
	push %rbp
	push %r12
	mov %rdi, %r11
	mov %edx, %eax
	mov %rcx, %r12
	test %esi, %esi
	jnz 1f
	mov 0(%r12), %rdi
	mov 8(%r12), %rsi
	mov 16(%r12), %rdx
	mov 24(%r12), %r10
	mov 32(%r12), %r8
	mov 40(%r12), %r9
	jmp 2f
1:	mov 0(%r12), %rbx
	mov 8(%r12), %rcx
	mov 16(%r12), %rdx
	mov 24(%r12), %rsi
	mov 32(%r12), %rdi
	mov 40(%r12), %rbp
2:	call *%r11
	pop %r12
	pop %rbp
	pop %rbx
	ret


/* A hijacked stub that never makes another syscall. */
	.globl stub_spin
	.hidden stub_spin
stub_spin:
	jmp stub_spin

	.section .note.GNU-stack,"",@progbits
