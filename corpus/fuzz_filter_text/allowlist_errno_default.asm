  ld [arch]                              ; 0
  jeq #AUDIT_ARCH_X86_64, +0, L14        ; 1
  ld [nr]                                ; 2
  jge #0x40000000, +0, L5                ; 3
  jeq #0xffffffff, +0, L14               ; 4
L5:
  jeq #getpid, L13                       ; 5
  jeq #execve, +0, L8                    ; 6
  ret #ERRNO(20)                         ; 7
L8:
  jeq #kill, L14                         ; 8
  jeq #getuid, L13                       ; 9
  jeq #getppid, L13                      ; 10
  jeq #gettid, L13                       ; 11
  ret #ERRNO(1)                          ; 12
L13:
  ret #ALLOW                             ; 13
L14:
  ret #TRAP                              ; 14
