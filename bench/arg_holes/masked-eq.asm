; bench/arg_holes/masked-eq.asm: UML's listener filter with one hole behind an argument
; value: from the stub page, fadvise64 is allowed when args[3] & 0xff00 equals 0x3700 (a masked equality). The claim it breaks:
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
  jeq #fadvise64, hole
  ret #KILL_PROCESS
hole:
  ld [args[3]]
  and #0xff00
  jeq #0x3700, allow, kill
kill:
  ret #KILL_PROCESS
allow:
  ret #ALLOW
