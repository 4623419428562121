  ld [arch]                              ; 0
  jeq #AUDIT_ARCH_X86_64, +0, L50        ; 1
  ld [nr]                                ; 2
  jge #0x40000000, +0, L5                ; 3
  jeq #0xffffffff, +0, L50               ; 4
L5:
  jeq #getpid, L9                        ; 5
  jeq #getuid, L9                        ; 6
  jeq #getppid, L9                       ; 7
  jeq #gettid, +0, L10                   ; 8
L9:
  ret #ALLOW                             ; 9
L10:
  jeq #close, +0, L16                    ; 10
  ld [args_hi[0]]                        ; 11
  jeq #0, +0, L50                        ; 12
  ld [args[0]]                           ; 13
  jeq #5, +0, L50                        ; 14
  ret #ERRNO(11)                         ; 15
L16:
  jeq #dup, +0, L22                      ; 16
  ld [args_hi[0]]                        ; 17
  jeq #0, +0, L21                        ; 18
  ld [args[0]]                           ; 19
  jeq #7, L50                            ; 20
L21:
  ret #ERRNO(12)                         ; 21
L22:
  jeq #fcntl, +0, L30                    ; 22
  ld [args_hi[1]]                        ; 23
  and #0                                 ; 24
  jeq #0, +0, L50                        ; 25
  ld [args[1]]                           ; 26
  and #240                               ; 27
  jeq #48, +0, L50                       ; 28
  ret #ERRNO(15)                         ; 29
L30:
  jeq #tkill, +0, L36                    ; 30
  ld [args_hi[1]]                        ; 31
  jeq #0, +0, L50                        ; 32
  ld [args[1]]                           ; 33
  jeq #9, +0, L50                        ; 34
  ret #KILL_PROCESS                      ; 35
L36:
  jeq #lseek, +0, L43                    ; 36
  ld [args_hi[2]]                        ; 37
  jgt #0, L50                            ; 38
  jeq #0, +0, L42                        ; 39
  ld [args[2]]                           ; 40
  jge #3, L50                            ; 41
L42:
  ret #ERRNO(13)                         ; 42
L43:
  jeq #pread64, +0, L50                  ; 43
  ld [args_hi[3]]                        ; 44
  jgt #0, L49                            ; 45
  jeq #0, +0, L50                        ; 46
  ld [args[3]]                           ; 47
  jge #0x1000, +0, L50                   ; 48
L49:
  ret #ERRNO(14)                         ; 49
L50:
  ret #TRAP                              ; 50
