; ioctl whenever the upper half of args[2] is above 0x7fff (JGT on args_hi[2])
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
  ld [args_hi[2]]
  jgt #0x7fff, allow, kill
allow: ret #ALLOW
kill: ret #KILL_PROCESS
trap: ret #TRAP
