#include "campaign/matrix.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "campaign/campaign.h"
#include "campaign/engine.h"
#include "campaign/found.h"
#include "campaign/target_env.h"
#include "fuzz/stats.h"
#include "kernel/sys.h"
#include "profile/findings.h"
#include "profile/profile.h"

namespace stubfuzz::campaign {

namespace fs = std::filesystem;

namespace {

// The rows the issue asks about are always shown, found or not.
constexpr FindingId kHeadlineRows[] = {finding::kUnsanctionedMmap, finding::kMonitorHang,
                                       finding::kMunmapStubRegion, finding::kStubStall,
                                       finding::kCloseListener};

std::string profile_dir(const MatrixOptions& o, const std::string& p) {
  return fs::absolute(o.out_dir).string() + "/" + p;
}

// One profile's libFuzzer run: judge every claim, write each class's first
// program (campaign/found.h).
EngineJob engine_job(const MatrixOptions& o, const std::string& profile) {
  const std::string dir = profile_dir(o, profile);
  const bool tree = profile == kUmlTreeColumn;
  return {.engine = Engine::kLibFuzzer,
          .target = o.target,
          .time = o.time,
          .dir = dir,
          .corpus = dir + "/corpus",
          .artifacts = dir,
          .seeds = o.seeds,
          .dict = o.dict,
          .env = {{tree ? env::kUmlTree : env::kProfile, tree ? o.uml_tree : profile},
                  {env::kMatrixDir, dir + "/found"},
                  {env::kStatsDir, dir + "/stats"}}};
}

std::string seconds_text(double s) { return s < 1 ? "<1" : std::to_string(static_cast<int>(s)); }

}  // namespace

Result<MatrixResult> read_matrix(const MatrixOptions& o) {
  MatrixResult m;
  m.profiles = o.profiles;
  m.time = o.time;
  for (const auto& p : o.profiles)
    m.execs.push_back(fuzz::read_stats_dir(profile_dir(o, p) + "/stats").execs);
  for (const auto& c : finding_classes()) {
    const std::string name(c.name());
    std::vector<MatrixCell> row;
    bool any = false;
    for (const auto& p : o.profiles) {
      MatrixCell cell;
      const std::string file = found_file(profile_dir(o, p) + "/found", c.id);
      if (auto s = found_seconds(file)) {
        cell = {true, *s, file};
        any = true;
      }
      row.push_back(cell);
    }
    const bool headline = std::find(std::begin(kHeadlineRows), std::end(kHeadlineRows), c.id) !=
                          std::end(kHeadlineRows);
    if (!any && !headline) continue;
    m.rows.push_back(name);
    std::string repro;
    for (const char* prefix : {"/matrix-", "/known-"}) {
      std::error_code ec;
      const std::string f = o.regressions + prefix + name + ".txt";
      if (repro.empty() && fs::exists(f, ec)) repro = f;
    }
    m.reproducers.push_back(repro);
    m.cells.push_back(row);
  }
  return m;
}

Result<MatrixResult> run_matrix(const MatrixOptions& o, std::ostream& status) {
  if (access(o.target.c_str(), X_OK) != 0)
    return Error{"fuzz target " + o.target + " not found (build it with scripts/build fuzz)",
                 ENOENT};
  for (const auto& p : o.profiles)
    if (auto f = find_profile(p); !f && !(p == kUmlTreeColumn && !o.uml_tree.empty()))
      return f.error();
  for (const auto& p : o.profiles) {
    const std::string dir = profile_dir(o, p);
    std::error_code ec;
    fs::remove_all(dir + "/found", ec);
    for (const char* sub : {"corpus", "found", "stats"}) {
      fs::create_directories(dir + "/" + sub, ec);
      if (ec) return Error{dir + "/" + sub + ": " + ec.message(), ec.value()};
    }
  }

  // Profiles wait their turn, `jobs` at a time; each runs for o.time.
  std::vector<std::pair<std::string, pid_t>> runs;
  Supervisor engines;
  const auto start = kernel::Clock::now();
  const bool tty = isatty(fileno(stdout));
  int tick = 0;
  size_t next = 0;
  while (next < o.profiles.size() || engines.poll() > 0) {
    while (engines.poll() < static_cast<size_t>(std::max(1, o.jobs)) && next < o.profiles.size()) {
      EngineJob job = engine_job(o, o.profiles[next]);
      // Each profile's own filter constants join the shared tokens.
      const bool tree = o.profiles[next] == kUmlTreeColumn;
      if (auto dict = campaign_dictionary({.profile = tree ? "" : o.profiles[next],
                                           .uml_tree = tree ? o.uml_tree : "",
                                           .dict = o.dict},
                                          job.dir))
        job.dict = *dict;
      auto pid = engines.launch(engine_commands(job).front(), engine_env(job), job.dir,
                                job.dir + "/engine.log", hard_bound(o.time));
      if (!pid) return pid.error();  // the supervisor ends the others
      runs.emplace_back(o.profiles[next++], *pid);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::string line = fmt::format(
        "[{:5}s] profiles started {}/{}, fuzzing:",
        std::chrono::duration_cast<std::chrono::seconds>(kernel::Clock::now() - start).count(),
        next, o.profiles.size());
    for (const auto& [profile, pid] : runs)
      if (engines.running(pid)) line += " " + profile;
    if (tty)
      status << "\r" << line << "\033[K" << std::flush;
    else if (++tick % 15 == 0)
      status << line << "\n" << std::flush;
  }
  if (tty) status << "\n";
  return read_matrix(o);
}

std::string to_text(const MatrixResult& m) {
  size_t w = 5;
  for (const auto& r : m.rows) w = std::max(w, r.size());
  w += 2;
  size_t cw = 8;
  for (const auto& p : m.profiles) cw = std::max(cw, p.size() + 2);
  std::string out = fmt::format(
      "attack matrix: each profile fuzzed {} s, every claim judged; a cell is seconds until "
      "first found, '-' not found\n\n{:<{}}",
      m.time.count(), "finding", w);
  for (const auto& p : m.profiles) out += fmt::format("{:<{}}", p, cw);
  out += "reproducer\n";
  for (size_t i = 0; i < m.rows.size(); i++) {
    out += fmt::format("{:<{}}", m.rows[i], w);
    for (const auto& c : m.cells[i])
      out += fmt::format("{:<{}}", c.found ? seconds_text(c.seconds) + " s" : "-", cw);
    out += (m.reproducers[i].empty() ? "(none committed)" : m.reproducers[i]) + "\n";
  }
  out += fmt::format("{:<{}}", "programs run", w);
  for (auto e : m.execs) out += fmt::format("{:<{}}", e, cw);
  return out + "\n";
}

std::string to_markdown(const MatrixResult& m) {
  std::string out = "| finding |";
  for (const auto& p : m.profiles) out += fmt::format(" `{}` |", p);
  out += " reproducer |\n|---|";
  for (size_t i = 0; i < m.profiles.size(); i++) out += "---|";
  out += "---|\n";
  for (size_t i = 0; i < m.rows.size(); i++) {
    out += fmt::format("| {} |", m.rows[i]);
    for (const auto& c : m.cells[i])
      out += c.found ? fmt::format(" **found in {} s** |", seconds_text(c.seconds))
                     : fmt::format(" not found in {} s |", m.time.count());
    const std::string& r = m.reproducers[i];
    out += fmt::format(" {} |\n", r.empty() ? "-" : "`" + fs::path(r).filename().string() + "`");
  }
  out += "| programs run |";
  for (auto e : m.execs) out += fmt::format(" {} |", e);
  return out + " |\n";
}

std::string to_json(const MatrixResult& m) {
  nlohmann::json j = {{"time_s", m.time.count()}, {"profiles", m.profiles}, {"execs", m.execs}};
  j["rows"] = nlohmann::json::array();
  for (size_t i = 0; i < m.rows.size(); i++) {
    nlohmann::json cells = nlohmann::json::array();
    for (const MatrixCell& c : m.cells[i])
      cells.push_back({{"found", c.found}, {"seconds", c.seconds}, {"program", c.program_file}});
    j["rows"].push_back(
        {{"finding", m.rows[i]}, {"reproducer", m.reproducers[i]}, {"cells", cells}});
  }
  return j.dump(2) + "\n";
}

}  // namespace stubfuzz::campaign
