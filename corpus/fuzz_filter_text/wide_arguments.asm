  ld [arch]                              ; 0
  jeq #AUDIT_ARCH_X86_64, +0, L44        ; 1
  ld [nr]                                ; 2
  jge #0x40000000, +0, L5                ; 3
  jeq #0xffffffff, +0, L44               ; 4
L5:
  jeq #getpid, L9                        ; 5
  jeq #getuid, L9                        ; 6
  jeq #getppid, L9                       ; 7
  jeq #gettid, +0, L10                   ; 8
L9:
  ret #ALLOW                             ; 9
L10:
  jeq #munmap, +0, L16                   ; 10
  ld [args_hi[0]]                        ; 11
  jeq #0x12345678, +0, L43               ; 12
  ld [args[0]]                           ; 13
  jeq #0x9abcdef0, +0, L43               ; 14
  ret #ERRNO(21)                         ; 15
L16:
  jeq #mremap, +0, L24                   ; 16
  ld [args_hi[2]]                        ; 17
  and #0xffff0000                        ; 18
  jeq #0x7e000000, +0, L43               ; 19
  ld [args[2]]                           ; 20
  and #0xffff0000                        ; 21
  jeq #0x10000000, +0, L43               ; 22
  ret #ERRNO(23)                         ; 23
L24:
  jeq #mlock, +0, L29                    ; 24
  ld [args_hi[1]]                        ; 25
  jeq #0xffffffff, +0, L44               ; 26
  ld [args[1]]                           ; 27
  jeq #1, L43, L44                       ; 28
L29:
  jeq #msync, +0, L36                    ; 29
  ld [args_hi[0]]                        ; 30
  jgt #0x7e00, L35                       ; 31
  jeq #0x7e00, +0, L43                   ; 32
  ld [args[0]]                           ; 33
  jge #0x10000000, +0, L43               ; 34
L35:
  ret #ERRNO(24)                         ; 35
L36:
  jeq #madvise, +0, L43                  ; 36
  ld [args_hi[1]]                        ; 37
  jgt #1, L43                            ; 38
  jeq #1, +0, L42                        ; 39
  ld [args[1]]                           ; 40
  jge #0, L43                            ; 41
L42:
  ret #ERRNO(22)                         ; 42
L43:
  ret #ERRNO(2)                          ; 43
L44:
  ret #TRAP                              ; 44
