#include "fuzz/stats.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace stubfuzz::fuzz {

namespace fs = std::filesystem;
using nlohmann::json;

void Stats::add(const Program& p, const Execution& ex, const Judgement& j, uint64_t exec_ns) {
  execs++;
  const std::string cls = to_string(classify(ex));
  class_programs[cls]++;
  class_ns[cls] += exec_ns;
  for (size_t i = 0; i < j.records.size() && i < ex.records.size(); i++) {
    const auto& o = ex.records[i];
    if (o.kind == Observed::kNotRun || o.kind == Observed::kRefused) continue;
    for (uint16_t pc : j.records[i].model.trace) {
      if (pc >= pcs_added.size() || pcs_added[pc]) continue;
      pcs_added.set(pc);
      filter_pcs.insert(pc);
    }
    for (const auto& c : j.records[i].model.comparisons) {
      const uint32_t side = uint32_t{c.pc} << 1 | (c.taken ? 1u : 0u);
      if (side >= sides_added.size() || sides_added[side]) continue;
      sides_added.set(side);
      branch_sides.insert(side);
    }
    cells.insert(static_cast<uint32_t>(o.resolved.abi) << 20 |
                 static_cast<uint32_t>(p.records[i].site.kind) << 16 | o.resolved.nr);
  }
  for (const auto& b : j.breaches)
    if (b.known) known[std::string(b.class_name())]++;
}

size_t branch_sides_of(const filter::Program& filter) {
  size_t sides = 0;
  for (const sock_filter& insn : filter)
    if (BPF_CLASS(insn.code) == BPF_JMP && BPF_OP(insn.code) != BPF_JA) sides += 2;
  return sides;
}

void StatsWriter::set_filter(const filter::Program& filter) {
  stats_.filter_len = filter.size();
  stats_.branch_total = branch_sides_of(filter);
}

void Stats::merge(const Stats& o) {
  execs += o.execs;
  stubs += o.stubs;
  resets += o.resets;
  seconds = std::max(seconds, o.seconds);
  filter_len = std::max(filter_len, o.filter_len);
  filter_pcs.insert(o.filter_pcs.begin(), o.filter_pcs.end());
  branch_total = std::max(branch_total, o.branch_total);
  branch_sides.insert(o.branch_sides.begin(), o.branch_sides.end());
  cells.insert(o.cells.begin(), o.cells.end());
  for (const auto& [id, n] : o.known) known[id] += n;
  for (const auto& [c, n] : o.class_programs) class_programs[c] += n;
  for (const auto& [c, n] : o.class_ns) class_ns[c] += n;
}

std::string Stats::to_json() const {
  json j{{"execs", execs},
         {"stubs", stubs},
         {"resets", resets},
         {"seconds", seconds},
         {"filter_len", filter_len},
         {"filter_pcs", filter_pcs},
         {"branch_total", branch_total},
         {"branch_sides", branch_sides},
         {"cells", cells},
         {"known", known},
         {"class_programs", class_programs},
         {"class_ns", class_ns}};
  return j.dump();
}

Result<Stats> Stats::from_json(const std::string& text) {
  try {
    const json j = json::parse(text);
    Stats s;
    s.execs = j.at("execs");
    s.stubs = j.at("stubs");
    s.resets = j.value("resets", uint64_t{0});
    s.seconds = j.at("seconds");
    s.filter_len = j.at("filter_len");
    s.filter_pcs = j.at("filter_pcs").get<std::set<uint16_t>>();
    s.branch_total = j.value("branch_total", size_t{0});
    s.branch_sides = j.value("branch_sides", std::set<uint32_t>{});
    s.cells = j.at("cells").get<std::set<uint32_t>>();
    s.known = j.at("known").get<std::map<std::string, uint64_t>>();
    s.class_programs = j.value("class_programs", std::map<std::string, uint64_t>{});
    s.class_ns = j.value("class_ns", std::map<std::string, uint64_t>{});
    return s;
  } catch (const json::exception& e) {
    return Error{std::string("bad stats: ") + e.what(), EINVAL};
  }
}

StatsWriter::StatsWriter(std::string dir)
    : dir_(std::move(dir)), start_(std::chrono::steady_clock::now()), last_flush_(start_) {}

void StatsWriter::record(const Program& p, const Execution& ex, const Judgement& j, uint64_t stubs,
                         uint64_t resets, uint64_t exec_ns) {
  if (dir_.empty()) return;
  const size_t known_before = stats_.known.size();
  stats_.add(p, ex, j, exec_ns);
  stats_.stubs = stubs;
  stats_.resets = resets;
  if (stats_.known.size() != known_before) {
    // A reproducer for each known finding, the first time it is seen here.
    for (const auto& b : j.breaches) {
      const std::string path = dir_ + "/known-" + std::string(b.class_name()) + ".txt";
      if (!b.known || fs::exists(path)) continue;
      std::ofstream(path) << "# known finding " << b.class_name() << " (" << b.claim_name() << ")\n"
                          << to_text(p);
    }
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - last_flush_ >= std::chrono::seconds(1)) {
    last_flush_ = now;
    stats_.seconds = std::chrono::duration<double>(now - start_).count();
    flush();
  }
}

void StatsWriter::flush() {
  const std::string path = dir_ + "/worker-" + std::to_string(getpid()) + ".json";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << stats_.to_json();
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
}

void StatsWriter::violation(const std::string& report) {
  if (dir_.empty()) return;
  std::ofstream(dir_ + "/violation-" + std::to_string(getpid()) + ".txt", std::ios::app) << report;
}

Stats read_stats_dir(const std::string& dir) {
  Stats all;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;
    std::ifstream in(e.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (auto s = Stats::from_json(text)) all.merge(*s);
  }
  return all;
}

}  // namespace stubfuzz::fuzz
