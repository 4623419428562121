  ld [ip_hi]                             ; 0
  jeq #STUB_HI, +0, L5                   ; 1
  ld [ip]                                ; 2
  and #0xfffff000                        ; 3
  jeq #STUB_LO, L6                       ; 4
L5:
  ret #TRAP                              ; 5
L6:
  ld [arch]                              ; 6
  jeq #AUDIT_ARCH_X86_64, L9             ; 7
  ret #KILL_PROCESS                      ; 8
L9:
  ld [nr]                                ; 9
  jeq #futex, L18                        ; 10
  jeq #recvmsg, L18                      ; 11
  jeq #close, L18                        ; 12
  jeq #mmap, L18                         ; 13
  jeq #munmap, L18                       ; 14
  jeq #arch_prctl, L18                   ; 15
  jeq #rt_sigreturn, L18                 ; 16
  ret #KILL_PROCESS                      ; 17
L18:
  ret #ALLOW                             ; 18
