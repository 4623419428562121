// The model: a user-space interpreter for classic BPF as the kernel runs it
// for seccomp (after seccomp_check_filter's rewrites). It never crashes and
// never loops on any input: classic BPF only jumps forward, and anything the
// kernel would have refused ends the run with a fault instead.
#pragma once

#include <linux/seccomp.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "filter/program.h"

namespace stubfuzz::filter {

// What the kernel does with a filter's return, in precedence order: a lower
// value wins when filters are stacked.
enum class Action : uint8_t {
  kKillProcess,
  kKillThread,
  kTrap,
  kErrno,
  kUserNotif,
  kTrace,
  kLog,
  kAllow,
};
const char* to_string(Action a);

// The kernel's reading of a return value; action codes it does not know
// kill the process (__seccomp_filter's default case).
Action action_of(uint32_t ret);
inline uint16_t ret_data(uint32_t ret) { return ret & SECCOMP_RET_DATA; }
bool is_known_action(uint32_t ret);
// Whether the syscall runs: ALLOW and LOG.
inline bool executes(Action a) { return a == Action::kAllow || a == Action::kLog; }

// Where A (or X, or a scratch word) came from: a word of seccomp_data,
// ANDed with `mask` since, or anything else (field < 0). Fuzzers need it to
// find the compared value in their input; other ALU operations lose it.
struct Provenance {
  int16_t field = -1;  // byte offset into seccomp_data, or -1
  uint32_t mask = ~0u;
  bool known() const { return field >= 0; }
  bool operator==(const Provenance&) const = default;
};

// A conditional jump's test, for fuzzer feedback.
struct Comparison {
  uint16_t pc;
  uint16_t op;       // BPF_JEQ, BPF_JGT, BPF_JGE or BPF_JSET
  uint32_t value;    // A
  uint32_t operand;  // K or X
  bool taken;
  Provenance origin;  // of A
};

struct Evaluation {
  uint32_t ret = SECCOMP_RET_KILL_THREAD;
  // False when the program faulted (an instruction the kernel's checker
  // refuses, or running off the end); `fault` says which.
  bool ok = false;
  std::string fault;
  std::vector<uint16_t> trace;  // indices of the instructions that ran
  std::vector<Comparison> comparisons;

  Action action() const { return action_of(ret); }
  uint16_t data() const { return ret_data(ret); }
};

struct EvalOptions {
  bool trace = true;
  bool comparisons = true;
};

seccomp_data make_seccomp_data(int nr, uint32_t arch, uint64_t ip,
                               const std::array<uint64_t, 6>& args = {});

Evaluation evaluate(const Program& prog, const seccomp_data& data, const EvalOptions& options = {});

// Stacked filters, `rets` in install order: the kernel runs the newest
// first and keeps the first return whose action (s32, data masked) is
// strictly lower. No filters at all means ALLOW.
uint32_t combine_returns(std::span<const uint32_t> rets);
uint32_t evaluate_stack(std::span<const Program> filters, const seccomp_data& data);

}  // namespace stubfuzz::filter
