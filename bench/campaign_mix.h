// The class mix of a real campaign (fuzz::ProgramClass: what became of each
// program's stub), which BM_FuzzThroughput reproduces and models. From the
// committed fixture bench/data/campaign-mix.json, or from STUBFUZZ_BENCH_MIX:
// a campaign's stats directory (<out>/stats, the worker-*.json files
// `stubfuzz fuzz` writes) or one JSON file.
#pragma once

#include <array>
#include <string>

#include "base/result.h"
#include "fuzz/executor.h"

namespace stubfuzz::bench {

inline constexpr size_t kClassCount = std::size(fuzz::kProgramClasses);

struct CampaignMix {
  std::array<double, kClassCount> share{};  // by kProgramClasses' order, sums to 1
  std::string source;                       // where it came from, for the report
};

// A JSON object with "class_programs" (counts by class name, as a stats file
// has them) or "class_percent" (the summary's percentages, as the fixture).
Result<CampaignMix> parse_campaign_mix(const std::string& text);
// A stats directory (every *.json in it, merged) or one JSON file.
Result<CampaignMix> read_campaign_mix(const std::string& path);
// STUBFUZZ_BENCH_MIX if set, else the fixture.
Result<CampaignMix> load_campaign_mix();

}  // namespace stubfuzz::bench
