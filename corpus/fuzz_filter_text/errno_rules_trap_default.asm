  ld [arch]                              ; 0
  jeq #AUDIT_ARCH_X86_64, +0, L22        ; 1
  ld [nr]                                ; 2
  jge #0x40000000, +0, L5                ; 3
  jeq #0xffffffff, +0, L22               ; 4
L5:
  jeq #read, +0, L7                      ; 5
  ret #ERRNO(100)                        ; 6
L7:
  jeq #write, +0, L9                     ; 7
  ret #ERRNO(101)                        ; 8
L9:
  jeq #mmap, +0, L11                     ; 9
  ret #ERRNO(105)                        ; 10
L11:
  jeq #getpid, L19                       ; 11
  jeq #ptrace, +0, L14                   ; 12
  ret #ERRNO(104)                        ; 13
L14:
  jeq #getuid, L19                       ; 14
  jeq #getppid, L19                      ; 15
  jeq #reboot, +0, L18                   ; 16
  ret #ERRNO(103)                        ; 17
L18:
  jeq #gettid, +0, L20                   ; 18
L19:
  ret #ALLOW                             ; 19
L20:
  jeq #openat, +0, L22                   ; 20
  ret #ERRNO(102)                        ; 21
L22:
  ret #TRAP                              ; 22
