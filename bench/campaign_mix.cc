#include "campaign_mix.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace stubfuzz::bench {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Result<size_t> class_index(const std::string& name) {
  for (size_t i = 0; i < kClassCount; i++)
    if (name == fuzz::to_string(fuzz::kProgramClasses[i])) return i;
  std::string known;
  for (fuzz::ProgramClass c : fuzz::kProgramClasses)
    known += std::string(known.empty() ? "" : ", ") + "\"" + fuzz::to_string(c) + "\"";
  return Error{"unknown program class \"" + name + "\" (the classes: " + known + ")", EINVAL};
}

// Adds one object's weights to `sum`; the key that holds them is `key`.
Status add_weights(const json& j, std::array<double, kClassCount>& sum) {
  if (!j.is_object()) return Error{"not a JSON object", EINVAL};
  const char* key = j.contains("class_programs")  ? "class_programs"
                    : j.contains("class_percent") ? "class_percent"
                                                  : nullptr;
  if (!key) return Error{"no \"class_programs\" or \"class_percent\" in it", EINVAL};
  if (!j[key].is_object()) return Error{std::string("\"") + key + "\" is not an object", EINVAL};
  for (const auto& [name, v] : j[key].items()) {
    auto i = class_index(name);
    if (!i) return i.error();
    if (!v.is_number() || v.get<double>() < 0 || !std::isfinite(v.get<double>()))
      return Error{"\"" + name + "\" is not a non-negative number", EINVAL};
    sum[*i] += v.get<double>();
  }
  return {};
}

Result<CampaignMix> normalized(std::array<double, kClassCount> sum, std::string source) {
  double total = 0;
  for (double v : sum) total += v;
  if (total <= 0) return Error{"no programs in any class", EINVAL};
  CampaignMix mix;
  for (size_t i = 0; i < kClassCount; i++) mix.share[i] = sum[i] / total;
  mix.source = std::move(source);
  return mix;
}

Result<std::string> read_text(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return Error::from_errno("open(" + p.string() + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<json> parse_json(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    return Error{std::string("not JSON: ") + e.what(), EINVAL};
  }
}

}  // namespace

Result<CampaignMix> parse_campaign_mix(const std::string& text) {
  auto j = parse_json(text);
  if (!j) return j.error();
  std::array<double, kClassCount> sum{};
  if (auto s = add_weights(*j, sum); !s) return s.error();
  return normalized(sum, "");
}

Result<CampaignMix> read_campaign_mix(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    auto text = read_text(path);
    if (!text) return text.error();
    auto mix = parse_campaign_mix(*text);
    if (!mix) return Error{path + ": " + mix.error().message, mix.error().err};
    mix->source = path;
    return mix;
  }
  // A campaign's stats directory: every worker's file, merged.
  std::array<double, kClassCount> sum{};
  int files = 0;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    if (e.path().extension() != ".json") continue;
    auto text = read_text(e.path());
    if (!text) return text.error();
    auto j = parse_json(*text);
    if (!j) return Error{e.path().string() + ": " + j.error().message, EINVAL};
    if (auto s = add_weights(*j, sum); !s)
      return Error{e.path().string() + ": " + s.error().message, EINVAL};
    files++;
  }
  if (ec) return Error{path + ": " + ec.message(), ec.value()};
  if (files == 0) return Error{path + ": no *.json stats files in it", ENOENT};
  auto mix = normalized(sum, path);
  if (!mix) return Error{path + ": " + mix.error().message, EINVAL};
  return mix;
}

Result<CampaignMix> load_campaign_mix() {
  if (const char* env = std::getenv("STUBFUZZ_BENCH_MIX"); env && *env) {
    auto mix = read_campaign_mix(env);
    if (!mix) return Error{"STUBFUZZ_BENCH_MIX: " + mix.error().message, mix.error().err};
    mix->source = std::string("STUBFUZZ_BENCH_MIX=") + env;
    return mix;
  }
  return read_campaign_mix(STUBFUZZ_BENCH_DATA_DIR "/campaign-mix.json");
}

}  // namespace stubfuzz::bench
