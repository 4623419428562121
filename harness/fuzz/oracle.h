// The oracle: for every record, the model's prediction (the evaluator on the
// seccomp_data the kernel saw) against what the kernel did (model-agrees),
// and every claim of the profile judged on the truth the harness knows: the
// real instruction address and the real (arch, syscall).
#pragma once

#include <string>
#include <vector>

#include "filter/evaluator.h"
#include "filter/predict.h"
#include "fuzz/executor.h"
#include "fuzz/program.h"
#include "profile/profile.h"

namespace stubfuzz::fuzz {

// The model's prediction (filter/predict.h) for one record, and the verdict.
struct RecordVerdict : filter::Prediction {
  seccomp_data data{};  // what the filter saw
  bool agrees = true;
  // The stub died of a fault after an earlier record changed its address
  // space: the record's own instruction may be gone, so it is not judged.
  bool inconclusive = false;
};

struct Breach {
  ClaimId claim = ClaimId::kModelAgrees;
  FindingId cls = FindingId::kModelDisagrees;  // its class of finding
  bool known = false;                          // the profile documents the class: not a violation
  size_t record = 0;
  std::string detail;

  std::string_view claim_name() const { return claim_info(claim).name; }
  std::string_view class_name() const { return to_string(cls); }
};

struct Judgement {
  std::vector<RecordVerdict> records;
  std::vector<Breach> breaches;  // violations and known findings
  bool violated() const;         // a breach that is not a known finding
  const Breach* first_violation() const;
};

// `config` is what the stubs ran: the filter under test and the safety net.
// `every_claim`: judge all claims, not only the profile's (the attack matrix
// asks of every profile what the last one promises). `facts`: the kernel the
// stubs ran on (tests may judge as if on another).
Judgement judge(const Profile& profile, const StubConfig& config, const Program& program,
                const Execution& ex, bool every_claim = false,
                const kernel::Facts& facts = kernel::facts());

// One line per record: text, model prediction, observation.
std::string describe(const Program& program, const Execution& ex, const Judgement& j);

}  // namespace stubfuzz::fuzz
