// The filter's comparisons in the fuzz input's own bytes. The model says
// which word of seccomp_data a conditional jump tested (filter::Origin);
// this finds the bytes of the binary form that decide that word (the
// record's u16 number, an argument's kind, width and value) and says what
// they would have to be for the jump's other side. Engines that replace
// compared operands in their input (libFuzzer's table of recent compares,
// AFL++'s cmplog) then reach the value in one step; fuzzers/feedback.h
// hands these to them.
#pragma once

#include <linux/seccomp.h>

#include <cstdint>
#include <span>
#include <vector>

#include "filter/evaluator.h"
#include "fuzz/program.h"

namespace stubfuzz::fuzz {

// `seen` is what the input holds at `offset`, `wanted` the same number of
// bytes that would take the other side.
struct InputCompare {
  size_t offset = 0;
  std::vector<uint8_t> seen, wanted;
};

// For one comparison the model made on `record` (decoded from `input`, at
// `span`), with `data` what the filter saw. Comparisons on anything but nr,
// arch or an argument, or whose bytes pass the input's end, give none.
std::vector<InputCompare> input_compares(std::span<const uint8_t> input, const RecordSpan& span,
                                         const Record& record, const seccomp_data& data,
                                         const filter::Comparison& c);

}  // namespace stubfuzz::fuzz
