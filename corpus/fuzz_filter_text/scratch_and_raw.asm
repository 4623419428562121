# scratch memory, X, every ALU op, and a raw instruction
  ld [args[0]]
  st M[0]
  ldx #3
  div x
  mod #7
  lsh #4
  rsh x
  neg
  tax
  ld M[0]
  stx M[15]
  ldx M[15]
  txa
  jset x, +0, done
  jgt #0x10, done
  ja done
  .raw 0x0028, 0, 0, 0x2   ; ldh [2]: refused by seccomp
done:
  ret a
