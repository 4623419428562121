// What a filter's verdict on one syscall depends on in the syscall's
// arguments. For a fixed nr, arch and instruction pointer, every path
// through the program is followed with the twelve 32-bit argument words
// left open; each path that some argument values take becomes one case:
// the tests on those words along it, its return, and example arguments.
// The cases are disjoint and cover every argument value.
#pragma once

#include <linux/seccomp.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "filter/program.h"

namespace stubfuzz::filter {

// The 32-bit words of seccomp_data.args: word 2i is args[i]'s low half (the
// filter format's `args[i]`), 2i+1 its upper half (`args_hi[i]`).
inline constexpr int kArgWords = 12;
using ArgWords = std::array<uint32_t, kArgWords>;

enum class Relation : uint8_t {
  kEq,       // (word & mask) == value
  kNe,       // (word & mask) != value
  kGt,       // (word & mask) > value
  kLe,       // (word & mask) <= value
  kGe,       // (word & mask) >= value
  kLt,       // (word & mask) < value
  kAnySet,   // (word & mask) != 0, a JSET taken
  kNoneSet,  // (word & mask) == 0, a JSET not taken
};

struct ArgTest {
  uint8_t word = 0;
  uint32_t mask = 0xffffffff;
  Relation rel = Relation::kEq;
  uint32_t value = 0;

  bool holds(uint32_t w) const;
  int arg() const { return word / 2; }
  bool upper() const { return word % 2 == 1; }
};

struct ArgCase {
  std::vector<ArgTest> tests;  // all of them hold on this path
  uint32_t ret = 0;
  // The lowest and the highest values of each tested word that take this
  // path (untested words 0): the two sides a probe should try.
  std::array<uint64_t, 6> lowest{};
  std::array<uint64_t, 6> highest{};
};

struct ArgVerdicts {
  std::vector<ArgCase> cases;  // in program order, true sides first
  // Empty when the analysis covered every path; otherwise why it gave up
  // (arithmetic on an argument, too many paths, a faulting program).
  std::string incomplete;

  bool depends_on_args() const;
};

// `data` supplies nr, arch and instruction_pointer; its args are ignored.
ArgVerdicts arg_verdicts(const Program& prog, const seccomp_data& data);

// A value of `word` that passes every test on it (tests on other words are
// ignored): the lowest, or the highest; none if the tests contradict.
std::optional<uint32_t> solve_word(const std::vector<ArgTest>& tests, int word, bool highest);

}  // namespace stubfuzz::filter
