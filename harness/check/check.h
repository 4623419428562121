// `stubfuzz check`: every claim of a profile, probed in real stubs, and every
// known finding reproduced, as one table.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "profile/profile.h"

namespace stubfuzz {

enum class Verdict {
  kPass,           // the probe found no violation
  kFail,           // a violation that is not a known finding
  kFinding,        // a known finding, reproduced as documented
  kGone,           // a known finding that no longer reproduces: update the profile
  kPresent,        // a finding of the kernel (KnownFinding::kernel_specific) it has
  kAbsent,         // a finding of the kernel this kernel does not have
  kNotApplicable,  // the claim cannot be probed on this kernel (evidence: why)
  kNoProbe,        // no directed probe for this claim yet (the fuzzer covers it)
};
const char* to_string(Verdict v);

enum class RowKind { kClaim, kFinding, kHarness };
const char* to_string(RowKind k);

struct CheckRow {
  std::string name;  // claim or finding id
  RowKind kind = RowKind::kClaim;
  Verdict verdict = Verdict::kPass;
  int stubs = 0;
  int syscalls = 0;
  std::string evidence;  // first failure, or what was shown
};

struct CheckReport {
  std::string profile;
  std::vector<CheckRow> rows;
  bool ok() const;  // no FAIL, no GONE
};

CheckReport run_checks(const Profile& profile);
void print_report(const CheckReport& report, std::ostream& out);
// One JSON object: the rows and the kernel facts they were judged under
// (docs/json.md has the schema).
void print_report_json(const CheckReport& report, std::ostream& out);

// Processes and fds this process has now, to show a run left nothing behind.
struct ResourceCount {
  int fds = 0;
  int children = 0;  // live and zombie
  bool operator==(const ResourceCount&) const = default;
};
ResourceCount count_resources();

}  // namespace stubfuzz
