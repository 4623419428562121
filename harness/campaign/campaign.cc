#include "campaign/campaign.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "campaign/target_env.h"
#include "fuzz/dictionary.h"
#include "fuzz/stats.h"
#include "kernel/sys.h"
#include "profile/profile.h"
#include "profile/uml_profile.h"

namespace stubfuzz::campaign {

namespace fs = std::filesystem;

namespace {

// The engine, told what the target needs (campaign/target_env.h).
EngineJob engine_job(const CampaignOptions& o, const std::string& out) {
  EngineJob job{.engine = o.engine,
                .target = o.target,
                .time = o.time,
                .jobs = o.jobs,
                .dir = out,
                .corpus = out + (o.engine == Engine::kAfl ? "/afl" : "/corpus"),
                .artifacts = out + "/crashes",
                .seeds = o.seeds,
                .dict = o.dict,
                .env = {{env::kStatsDir, out + "/stats"}}};
  if (o.engine == Engine::kAfl && job.seeds.empty()) job.seeds = {out + "/seeds"};
  if (!o.uml_tree.empty()) {
    job.env.emplace_back(env::kUmlTree, o.uml_tree);
  } else if (!o.filter.empty()) {
    job.env.emplace_back(env::kFilter, o.filter);
    job.env.emplace_back(env::kClaims, o.claims);
  } else {
    job.env.emplace_back(env::kProfile, o.profile);
  }
  if (o.unsafe) job.env.emplace_back(env::kUnsafe, "1");
  // A CPU per worker pays when the workers fill the machine: a worker's
  // monitor, pool and stubs then wake each other without crossing CPUs.
  // With fewer workers than CPUs the stubs are better off on the idle ones
  // (docs/fuzzing.md has both measured).
  const char* no_affinity = std::getenv(env::kNoAffinity);
  if (o.engine == Engine::kLibFuzzer && o.jobs >= kernel::allowed_cpus() &&
      !(no_affinity && *no_affinity == '1'))
    job.env.emplace_back(env::kBindCpu, "1");
  return job;
}

std::string status_line(const fuzz::Stats& s, double elapsed, size_t crashes) {
  const auto known =
      std::count_if(s.known.begin(), s.known.end(), [](const auto& kv) { return kv.second > 0; });
  return fmt::format(
      "[{:5}s] {:8} execs/s | filter {}/{} insns, {}/{} branch sides | {} cells | "
      "known findings {} | crashes {}",
      static_cast<int>(elapsed), static_cast<uint64_t>(elapsed > 0 ? s.execs / elapsed : 0),
      s.filter_pcs.size(), s.filter_len, s.branch_sides.size(), s.branch_total, s.cells.size(),
      known, crashes);
}

std::vector<std::string> crash_files(const CampaignOptions& o, const std::string& out) {
  std::vector<std::string> files;
  std::error_code ec;
  if (o.engine == Engine::kLibFuzzer) {
    for (const auto& e : fs::directory_iterator(out + "/crashes", ec))
      files.push_back(e.path().string());
  } else {
    for (const auto& inst : fs::directory_iterator(out + "/afl", ec))
      for (const auto& e : fs::directory_iterator(inst.path() / "crashes", ec))
        if (e.path().filename().string().rfind("id:", 0) == 0) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<std::string> make_dirs(const CampaignOptions& o) {
  const std::string out = fs::absolute(o.out_dir).string();
  for (const char* sub : {"corpus", "crashes", "stats", "seeds"}) {
    std::error_code ec;
    fs::create_directories(out + "/" + sub, ec);
    if (ec) return Error{out + "/" + sub + ": " + ec.message(), ec.value()};
  }
  if (o.engine == Engine::kAfl && o.seeds.empty())
    std::ofstream(out + "/seeds/outside-getpid.txt") << "outside getpid()\n";
  return out;
}

// The filter the target will run, as the target itself builds it.
Result<filter::Program> filter_under_test(const CampaignOptions& o) {
  if (!o.uml_tree.empty()) {
    auto p = profile_from_uml_tree(o.uml_tree, !o.unsafe);
    if (!p) return p.error();
    return p->make_filter(StubLayout{});
  }
  if (!o.filter.empty()) {
    auto p = profile_from_filter_file(o.filter, o.claims.empty() ? kDefaultProfile : o.claims);
    if (!p) return p.error();
    return p->make_filter(StubLayout{});
  }
  auto p = find_profile(o.profile.empty() ? kDefaultProfile : o.profile);
  if (!p) return p.error();
  return (*p)->make_filter(StubLayout{});
}

CampaignResult summary(const CampaignOptions& o, const std::string& out, double seconds) {
  const fuzz::Stats s = fuzz::read_stats_dir(out + "/stats");
  CampaignResult r;
  r.execs = s.execs;
  r.seconds = seconds;
  r.filter_len = s.filter_len;
  r.filter_covered = s.filter_pcs.size();
  r.branch_total = s.branch_total;
  r.branch_covered = s.branch_sides.size();
  r.cells = s.cells.size();
  for (const auto& [id, n] : s.known) r.known.emplace_back(id, out + "/stats/known-" + id + ".txt");
  r.crashes = crash_files(o, out);
  r.stubs = s.stubs;
  r.resets = s.resets;
  for (fuzz::ProgramClass c : fuzz::kProgramClasses) {
    const std::string name = to_string(c);
    const auto n = s.class_programs.find(name);
    const auto t = s.class_ns.find(name);
    r.classes.push_back(
        {name, n == s.class_programs.end() ? 0 : n->second, t == s.class_ns.end() ? 0 : t->second});
  }
  return r;
}

}  // namespace

Result<std::string> campaign_dictionary(const CampaignOptions& o, const std::string& out) {
  auto prog = filter_under_test(o);
  if (!prog) return prog.error();
  return fuzz::write_dictionary(out + "/dictionary.dict", o.dict, *prog);
}

std::string class_table(const CampaignResult& r) {
  std::string out = "programs by what became of their stub (executor time, all workers):\n";
  for (const auto& c : r.classes) {
    if (c.programs == 0) continue;
    out += fmt::format("  {:<13} {:>9} programs {:5.1f}%  {:8.0f}/s  mean {:7.1f} us\n", c.name,
                       c.programs, r.execs ? 100.0 * c.programs / r.execs : 0.0,
                       r.seconds > 0 ? c.programs / r.seconds : 0.0, c.ns / 1e3 / c.programs);
  }
  if (r.stubs || r.resets)
    out += fmt::format("stubs: {} fresh, {} reset and reused\n", r.stubs, r.resets);
  return out;
}

Result<CampaignResult> run_campaign(const CampaignOptions& o, std::ostream& status) {
  if (access(o.target.c_str(), X_OK) != 0)
    return Error{"fuzz target " + o.target + " not found (build it with scripts/build " +
                     (o.engine == Engine::kAfl ? "afl" : "fuzz") + ")",
                 ENOENT};
  auto out = make_dirs(o);
  if (!out) return out.error();
  auto dict = campaign_dictionary(o, *out);
  if (!dict) return dict.error();
  EngineJob job = engine_job(o, *out);
  job.dict = *dict;
  Supervisor engines;
  if (auto s = engines.launch_all(job, *out + (o.engine == Engine::kAfl ? "/afl" : "/engine")); !s)
    return s.error();
  // Bounded: the engines stop themselves at o.time; the supervisor at twice it.
  const auto start = kernel::Clock::now();
  const bool tty = isatty(fileno(stdout));
  int tick = 0;
  while (engines.poll() > 0) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const double elapsed = std::chrono::duration<double>(kernel::Clock::now() - start).count();
    const std::string line =
        status_line(fuzz::read_stats_dir(*out + "/stats"), elapsed, crash_files(o, *out).size());
    if (tty)
      status << "\r" << line << std::flush;
    else if (++tick % 10 == 0)
      status << line << "\n" << std::flush;
  }
  if (tty) status << "\n";
  return summary(o, *out, std::chrono::duration<double>(kernel::Clock::now() - start).count());
}

}  // namespace stubfuzz::campaign
