// The model: what the kernel does with one syscall, given the filter under
// test, the safety net installed before it, and the kernel's facts (which
// ABIs reach seccomp at all, which calls it never sees). The oracle, explain
// and check all ask this one function.
#pragma once

#include <linux/seccomp.h>

#include <cstdint>
#include <string>

#include "filter/evaluator.h"
#include "filter/program.h"
#include "kernel/facts.h"

namespace stubfuzz::filter {

// How far the call gets before anything decides it.
enum class Path : uint8_t {
  kFiltered,  // seccomp runs the filters: `ret` decides
  kExempt,    // the kernel runs it without consulting seccomp
  kNoAbi,     // int $0x80 without the i386 ABI: SIGSEGV before seccomp
};

struct Prediction {
  Path path = Path::kFiltered;
  // The filter under test's own run (empty unless kFiltered).
  Evaluation model;
  // What decides the call by the kernel's precedence, net included; only
  // meaningful when kFiltered (the default ALLOW otherwise).
  uint32_t ret = SECCOMP_RET_ALLOW;
  bool denied_by_net = false;  // the net overrode the filter's verdict

  Action action() const { return action_of(ret); }
  // Whether the call runs: exempt, or ALLOW/LOG.
  bool executes() const {
    return path == Path::kExempt || (path == Path::kFiltered && filter::executes(action()));
  }
};

// How far a call of `audit_arch` and `nr` gets on a kernel with `facts`.
Path path_of(const kernel::Facts& facts, uint32_t audit_arch, uint32_t nr);

// `net` may be empty. The ABI is read from `data.arch`.
Prediction predict(const Program& filter, const Program& net, const kernel::Facts& facts,
                   const seccomp_data& data, const EvalOptions& options = {});

// "KILL_PROCESS", "ERRNO(1) (safety net)", "fault before seccomp (no i386
// ABI)", "unfiltered (exempt from seccomp)".
std::string describe(const Prediction& p);
// Why a call never met the filter, or "" when it did.
std::string path_reason(const Prediction& p);

}  // namespace stubfuzz::filter
