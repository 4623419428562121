// A page of its own for the floors' syscalls: a plain child installs the UML
// filter with stub_start = this page, so its calls through bench_gadget count
// as the stub page's and every other syscall traps, as in the stub.
// File-scope asm rather than a .S: the project enables no ASM language.
__asm__(R"(
	.pushsection .text.bench_gadget_page, "ax", @progbits
	.balign 4096
	.globl bench_gadget_page
bench_gadget_page:
# long bench_gadget(long nr, long a, long b, long c, long d, long e, long f)
	.globl bench_gadget
	.type bench_gadget, @function
bench_gadget:
	mov %rdi, %rax
	mov %rsi, %rdi
	mov %rdx, %rsi
	mov %rcx, %rdx
	mov %r8, %r10
	mov %r9, %r8
	mov 8(%rsp), %r9
	syscall
	ret
# SA_RESTORER for a SIGSYS handler: rt_sigreturn from inside the page.
	.balign 16
	.globl bench_gadget_restorer
bench_gadget_restorer:
	mov $15, %eax
	syscall
	ud2
	.balign 4096
	.popsection
)");
