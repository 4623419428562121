// The comparisons a filter can make against seccomp_data, found without
// running it: for each conditional jump by a constant, which word of
// seccomp_data A holds there (on every path that reaches it) and the AND
// mask applied since. The fuzzers' dictionary is built from these.
#pragma once

#include <cstdint>
#include <vector>

#include "filter/evaluator.h"
#include "filter/program.h"

namespace stubfuzz::filter {

struct FieldCompare {
  uint16_t pc;
  uint16_t op;  // BPF_JEQ, BPF_JGT, BPF_JGE or BPF_JSET
  uint32_t k;
  Provenance origin;  // always known: jumps on anything else are left out
};

// A program the checker refuses gives what its well-formed prefix allows.
std::vector<FieldCompare> field_compares(const Program& prog);

// The values of the field that take each side of the jump (the field's
// other bits as in `field`): what a fuzzer should try to turn one side
// into the other. Empty when no value under the mask can.
std::vector<uint32_t> values_for_other_side(uint16_t op, uint32_t k, uint32_t mask, uint32_t field,
                                            bool taken);

// Offsets of seccomp_data's words, for the callers that map a field back
// to where a fuzz input encodes it.
inline constexpr int16_t kFieldNr = 0, kFieldArch = 4, kFieldIpLo = 8, kFieldIpHi = 12;
inline constexpr int16_t arg_field(int i, bool high) {
  return int16_t(16 + 8 * i + (high ? 4 : 0));
}

}  // namespace stubfuzz::filter
