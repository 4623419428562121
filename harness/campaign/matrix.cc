#include "campaign/matrix.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

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
  return {.engine = Engine::kLibFuzzer,
          .target = o.target,
          .time = o.time,
          .dir = dir,
          .corpus = dir + "/corpus",
          .artifacts = dir,
          .seeds = o.seeds,
          .dict = o.dict,
          .env = {{env::kProfile, profile},
                  {env::kMatrixDir, dir + "/found"},
                  {env::kStatsDir, dir + "/stats"}}};
}

std::string seconds_text(double s) {
  std::ostringstream t;
  if (s < 1)
    t << "<1";
  else
    t << static_cast<int>(s);
  return t.str();
}

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
    if (auto f = find_profile(p); !f) return f.error();
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
      const EngineJob job = engine_job(o, o.profiles[next]);
      auto pid = engines.launch(engine_commands(job).front(), engine_env(job), job.dir,
                                job.dir + "/engine.log", hard_bound(o.time));
      if (!pid) return pid.error();  // the supervisor ends the others
      runs.emplace_back(o.profiles[next++], *pid);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::ostringstream line;
    line << "[" << std::setw(5)
         << std::chrono::duration_cast<std::chrono::seconds>(kernel::Clock::now() - start).count()
         << "s] profiles started " << next << "/" << o.profiles.size() << ", fuzzing:";
    for (const auto& [profile, pid] : runs)
      if (engines.running(pid)) line << " " << profile;
    if (tty)
      status << "\r" << line.str() << "\033[K" << std::flush;
    else if (++tick % 15 == 0)
      status << line.str() << "\n" << std::flush;
  }
  if (tty) status << "\n";
  return read_matrix(o);
}

std::string to_text(const MatrixResult& m) {
  size_t w = 5;
  for (const auto& r : m.rows) w = std::max(w, r.size());
  size_t cw = 8;
  for (const auto& p : m.profiles) cw = std::max(cw, p.size() + 2);
  std::ostringstream out;
  out << "attack matrix: each profile fuzzed " << m.time.count()
      << " s, every claim judged; a cell is seconds until first found, '-' not found\n\n";
  out << std::left << std::setw(static_cast<int>(w) + 2) << "finding";
  for (const auto& p : m.profiles) out << std::setw(static_cast<int>(cw)) << p;
  out << "reproducer\n";
  for (size_t i = 0; i < m.rows.size(); i++) {
    out << std::setw(static_cast<int>(w) + 2) << m.rows[i];
    for (const auto& c : m.cells[i])
      out << std::setw(static_cast<int>(cw)) << (c.found ? seconds_text(c.seconds) + " s" : "-");
    out << (m.reproducers[i].empty() ? "(none committed)" : m.reproducers[i]) << "\n";
  }
  out << std::setw(static_cast<int>(w) + 2) << "programs run";
  for (auto e : m.execs) out << std::setw(static_cast<int>(cw)) << e;
  out << "\n";
  return out.str();
}

std::string to_markdown(const MatrixResult& m) {
  std::ostringstream out;
  out << "| finding |";
  for (const auto& p : m.profiles) out << " `" << p << "` |";
  out << " reproducer |\n|---|";
  for (size_t i = 0; i < m.profiles.size(); i++) out << "---|";
  out << "---|\n";
  for (size_t i = 0; i < m.rows.size(); i++) {
    out << "| " << m.rows[i] << " |";
    for (const auto& c : m.cells[i])
      out << (c.found ? " **found in " + seconds_text(c.seconds) + " s** |"
                      : " not found in " + std::to_string(m.time.count()) + " s |");
    const std::string& r = m.reproducers[i];
    out << " " << (r.empty() ? "-" : "`" + fs::path(r).filename().string() + "`") << " |\n";
  }
  out << "| programs run |";
  for (auto e : m.execs) out << " " << e << " |";
  out << " |\n";
  return out.str();
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
