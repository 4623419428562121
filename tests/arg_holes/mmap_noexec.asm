; mmap unless prot has PROT_EXEC (JSET on args[2])
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
  jeq #mmap, +0, kill
  ld [args[2]]
  jset #4, kill, allow
allow: ret #ALLOW
kill: ret #KILL_PROCESS
trap: ret #TRAP
