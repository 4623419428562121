; fcntl when args[0] >= 3 and args[1] == F_GETFD: two arguments at once
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
  jeq #fcntl, +0, kill
  ld [args[0]]
  jge #3, +0, kill
  ld [args[1]]
  jeq #1, allow, kill
allow: ret #ALLOW
kill: ret #KILL_PROCESS
trap: ret #TRAP
