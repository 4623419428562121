// Probes written as fuzz programs, run through the executor with the
// profile's monitor: how `check` probes the series' profiles, whose monitor
// answers notifications while a batch runs (the Lab probes of probes.h speak
// to a stub directly and hold for mainline and listener).
#pragma once

#include <string>
#include <string_view>

#include "profile/profile.h"

namespace stubfuzz {

struct ProgramProbeResult {
  bool broken = false;   // a breach of the claim that is not a known finding
  std::string evidence;  // the first breach, or what was run
  int programs = 0;
  int syscalls = 0;
};

// Attack programs for `claim`; false if there are none.
bool has_program_probe(ClaimId claim);
ProgramProbeResult probe_claim_with_programs(const Profile& profile, ClaimId claim);

// Runs the class's registry reproducer (profile/findings.h); true if the
// class of finding shows.
ProgramProbeResult reproduce_with_program(const Profile& profile, FindingId id);

}  // namespace stubfuzz
