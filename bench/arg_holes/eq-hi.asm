; bench/arg_holes/eq-hi.asm: UML's listener filter with one hole behind an argument
; value: from the stub page, lseek is allowed when args[1]'s upper 32 bits equal 0x7b3c0de1 (the lower half is not checked). The claim it breaks:
; stub-allowlist (a call off the allowlist runs from the stub page).
; A benchmark for scripts/arg-hole-trials; never a seed or a dictionary entry.
  ld [ip_hi]
  jeq #STUB_HI, +0, trap
  ld [ip]
  and #PAGE_MASK
  jeq #STUB_LO, inside
trap:
  ret #TRAP
inside:
  ld [arch]
  jeq #AUDIT_ARCH_X86_64, x86_64
  ret #KILL_PROCESS
x86_64:
  ld [nr]
  jeq #futex, allow
  jeq #recvmsg, allow
  jeq #close, allow
  jeq #mmap, allow
  jeq #munmap, allow
  jeq #arch_prctl, allow
  jeq #rt_sigreturn, allow
  jeq #lseek, hole
  ret #KILL_PROCESS
hole:
  ld [args_hi[1]]
  jeq #0x7b3c0de1, allow, kill
kill:
  ret #KILL_PROCESS
allow:
  ret #ALLOW
