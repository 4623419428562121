; mmap when (flags & (MAP_SHARED|MAP_PRIVATE|MAP_FIXED)) == MAP_PRIVATE (a masked equality on args[3])
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
  ld [args[3]]
  and #0x13
  jeq #0x2, allow, kill
allow: ret #ALLOW
kill: ret #KILL_PROCESS
trap: ret #TRAP
