; ioctl from the stub page only for one request code (the lower half of args[1])
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
  jeq #ioctl, +0, kill
  ld [args[1]]
  jeq #0xc0182101, allow, kill
allow: ret #ALLOW
kill: ret #KILL_PROCESS
trap: ret #TRAP
