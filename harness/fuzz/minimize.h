// `stubfuzz minimize`: the shortest, plainest program that still breaks the
// same claim (or still shows the same known finding), found by removing
// records and zeroing arguments while the verdict holds.
#pragma once

#include <string>

#include "fuzz/executor.h"
#include "fuzz/oracle.h"

namespace stubfuzz::fuzz {

struct BreachKey {
  ClaimId claim;
  std::optional<FindingId> finding;  // none for a violation
  bool operator==(const BreachKey&) const = default;
};

// The breach a minimized program must keep: the first violation, else the
// first known finding; nullopt if the program breaks nothing.
std::optional<BreachKey> breach_key(const Judgement& j);

struct Minimized {
  Program program;
  BreachKey key;
  int runs = 0;
};

Result<Minimized> minimize(Executor& executor, const Profile& profile, const Program& program,
                           int max_runs = 400);

}  // namespace stubfuzz::fuzz
