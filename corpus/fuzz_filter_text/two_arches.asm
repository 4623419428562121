  ld [arch]                              ; 0
  jeq #AUDIT_ARCH_X86_64, +0, L15        ; 1
  ld [nr]                                ; 2
  jge #0x40000000, +0, L5                ; 3
  jeq #0xffffffff, +0, L35               ; 4
L5:
  jeq #open, L18                         ; 5
  jeq #munmap, L25                       ; 6
  jeq #getpid, L27                       ; 7
  jeq #execve, L20                       ; 8
  jeq #getuid, L27                       ; 9
  jeq #getppid, L27                      ; 10
  jeq #gettid, L27                       ; 11
  jeq #socket, +0, L35                   ; 12
  ld [args_hi[0]]                        ; 13
  jeq #0, L32, L35                       ; 14
L15:
  jeq #AUDIT_ARCH_I386, +0, L35          ; 15
  ld [nr]                                ; 16
  jeq #i386.open, +0, L19                ; 17
L18:
  ret #ERRNO(34)                         ; 18
L19:
  jeq #i386.execve, +0, L21              ; 19
L20:
  ret #ERRNO(31)                         ; 20
L21:
  jeq #i386.getpid, L27                  ; 21
  jeq #i386.getuid, L27                  ; 22
  jeq #i386.getppid, L27                 ; 23
  jeq #i386.munmap, +0, L26              ; 24
L25:
  ret #ERRNO(32)                         ; 25
L26:
  jeq #i386.gettid, +0, L28              ; 26
L27:
  ret #ALLOW                             ; 27
L28:
  jeq #i386.socketcall, +0, L31          ; 28
  ld [args[0]]                           ; 29
  jeq #1, L34, L35                       ; 30
L31:
  jeq #i386.socket, +0, L35              ; 31
L32:
  ld [args[0]]                           ; 32
  jeq #2, +0, L35                        ; 33
L34:
  ret #ERRNO(33)                         ; 34
L35:
  ret #TRAP                              ; 35
