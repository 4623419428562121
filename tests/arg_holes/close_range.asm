; close of fds in (2, 100] only, both bounds (JGT)
  ld [ip_hi]
  jeq #STUB_HI, +0, trap
  ld [ip]
  and #PAGE_MASK
  jeq #STUB_PAGE, +0, trap
  ld [arch]
  jeq #AUDIT_ARCH_X86_64, +0, kill
  ld [nr]
  jeq #futex, allow
  jeq #rt_sigreturn, allow
  jeq #close, +0, kill
  ld [args[0]]
  jgt #100, kill
  jgt #2, allow, kill
allow: ret #ALLOW
kill: ret #KILL_PROCESS
trap: ret #TRAP
