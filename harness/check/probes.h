// Directed probes: for each claim, the syscalls that would break it, run in
// real stubs. A probe records every broken expectation in the Lab.
#pragma once

#include <string_view>

#include "check/lab.h"
#include "profile/claim.h"
#include "profile/findings.h"

namespace stubfuzz {

using Probe = void (*)(Lab&);
// The probe of a claim, or nullptr if no directed probe exists for it yet.
Probe probe_for(ClaimId claim);

// Runs the reproducer of a known finding; true if it still reproduces.
// Unknown ids are reported as not reproducing, with a failure in the lab.
bool reproduce_finding(FindingId id, Lab& lab);

}  // namespace stubfuzz
