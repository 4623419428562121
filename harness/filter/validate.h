// The kernel's verdict on a seccomp program, without installing it:
// bpf_check_basics_ok + bpf_check_classic + check_load_and_stores
// (net/core/filter.c), then seccomp_check_filter (kernel/seccomp.c). Every
// rejection here is an EINVAL from seccomp(SECCOMP_SET_MODE_FILTER).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "base/result.h"
#include "filter/program.h"

namespace stubfuzz::filter {

enum class Rejection : uint8_t {
  kEmpty,             // length 0
  kTooLong,           // more than BPF_MAXINSNS (4096) instructions
  kBadOpcode,         // not a classic BPF opcode at all
  kDivisionByZero,    // DIV or MOD by constant 0
  kShiftTooFar,       // LSH/RSH by constant >= 32
  kBadScratchIndex,   // M[k] with k >= 16
  kJumpOutOfRange,    // a target at or past the end
  kBadPacketLoad,     // ABS load at an offset no ancillary field answers
  kNoFinalReturn,     // the last instruction is not RET
  kScratchNotStored,  // M[k] read on a path that never wrote it
  kNotForSeccomp,     // classic BPF, but not an opcode seccomp allows
  kBadDataOffset,     // LD W ABS misaligned or past sizeof(seccomp_data)
};
const char* to_string(Rejection r);

struct CheckFailure {
  Rejection reason;
  size_t index;         // the offending instruction
  std::string message;  // "instruction 7: jump out of range (...)"
};

// nullopt: the kernel accepts the program.
std::optional<CheckFailure> check_program(const Program& prog);

// The same as a Status whose message is CheckFailure::message.
Status validate(const Program& prog);

}  // namespace stubfuzz::filter
