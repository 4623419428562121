// The oracle's rules, one per claim, each beside the claim it judges: given
// one judged record (what ran, where, what the model said), report the
// breaches of that claim. The oracle (fuzz/oracle.cc) decides which records
// are judged and what is known of them; the rules only read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "fuzz/executor.h"
#include "fuzz/oracle.h"
#include "fuzz/program.h"
#include "profile/profile.h"

namespace stubfuzz::fuzz {

// One judged record, as every rule sees it.
struct JudgedRecord {
  const Profile& profile;
  const Program& program;
  const Execution& ex;
  size_t index;
  const Observation& o;
  const RecordVerdict& v;
  bool inside = false;      // the syscall instruction is on the stub page
  bool ran = false;         // the call took effect: executed, not denied, a real syscall
  bool exempt_ran = false;  // the kernel ran it without consulting seccomp
  bool no_syscall = false;  // never reached the syscall path (no such ABI)
  uint64_t fd = 0;          // args[0] as the ABI reads it

  // Every breach of a call the kernel exempts from seccomp is that finding.
  FindingId cls(FindingId c) const { return exempt_ran ? FindingId::kSeccompExemption : c; }
  // Whether the call is one of `names` (libseccomp's, in the record's ABI).
  bool is(std::initializer_list<std::string_view> names) const;
};

using BreachSink = std::function<void(ClaimId, FindingId, size_t record, std::string detail)>;

struct RecordRule {
  ClaimId claim;
  void (*judge)(const JudgedRecord&, const BreachSink&);
};
// In the order their breaches are reported.
std::span<const RecordRule> record_rules();

// Rules on the batch as a whole (the monitor's hang, the listener's health).
void judge_batch(const Execution& ex, const BreachSink& breach);

}  // namespace stubfuzz::fuzz
