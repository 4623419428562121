// `stubfuzz fuzz`: a campaign of the fuzz_stub_syscalls target under
// libFuzzer or AFL++, with a live status line and a summary. A crash file
// whose program still breaks a claim on replay is a new finding.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "campaign/engine.h"

namespace stubfuzz::campaign {

struct CampaignOptions {
  Engine engine = Engine::kLibFuzzer;
  std::string target;    // the engine's build of fuzz_stub_syscalls
  std::string profile;   // or:
  std::string filter;    // a filter file judged by
  std::string claims;    // this profile's claims
  std::string uml_tree;  // or UML's own stub from this tree (absolute)
  bool unsafe = false;   // STUBFUZZ_UNSAFE: no sandbox
  std::chrono::seconds time{60};
  int jobs = 1;
  std::string out_dir;             // corpus, crashes and stats go here
  std::vector<std::string> seeds;  // seed corpus directories
  // Profile-independent tokens; the campaign adds the filter's own
  // constants (fuzz/dictionary.h) and gives the engines the result.
  std::string dict;
};

struct CampaignResult {
  uint64_t execs = 0;
  double seconds = 0;
  size_t filter_len = 0, filter_covered = 0, cells = 0;
  size_t branch_total = 0, branch_covered = 0;             // conditional jumps' outcomes
  std::vector<std::pair<std::string, std::string>> known;  // id, reproducer file
  std::vector<std::string> crashes;                        // files the engine kept
  // Per program class (fuzz/executor.h): programs and the executor's time.
  struct ClassCost {
    std::string name;
    uint64_t programs = 0;
    uint64_t ns = 0;
  };
  std::vector<ClassCost> classes;
  uint64_t stubs = 0, resets = 0;  // fresh stubs, and stubs reset and reused
};
// "programs/s per outcome class" lines of the summary.
std::string class_table(const CampaignResult& r);

// Writes <out>/dictionary.dict: o.dict's tokens and the constants of the
// filter the campaign tests (its profile's, or o.filter). Returns its path.
Result<std::string> campaign_dictionary(const CampaignOptions& o, const std::string& out);

// Writes <out>/dictionary.dict: o.dict's tokens and the constants of the
// filter the campaign tests (its profile's, or o.filter). Returns its path.
Result<std::string> campaign_dictionary(const CampaignOptions& o, const std::string& out);

// Runs the campaign to its end, printing status to `status` once a second.
Result<CampaignResult> run_campaign(const CampaignOptions& o, std::ostream& status);

}  // namespace stubfuzz::campaign
