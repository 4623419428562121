#include "fuzz/matrix.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include "fuzz/campaign.h"
#include "fuzz/stats.h"
#include "fuzz/target_env.h"
#include "kernel/sys.h"
#include "profile/findings.h"
#include "profile/profile.h"

namespace stubfuzz::fuzz {

namespace fs = std::filesystem;

namespace {

// The rows the issue asks about are always shown, found or not.
constexpr FindingId kHeadlineRows[] = {finding::kUnsanctionedMmap, finding::kMonitorHang,
                                       finding::kMunmapStubRegion, finding::kStubStall,
                                       finding::kCloseListener};

std::string profile_dir(const MatrixOptions& o, const std::string& p) {
  return fs::absolute(o.out_dir).string() + "/" + p;
}

std::vector<std::string> engine_argv(const MatrixOptions& o, const std::string& dir) {
  std::vector<std::string> argv = {o.target, "-max_total_time=" + std::to_string(o.time.count()),
                                   "-artifact_prefix=" + dir + "/", "-print_final_stats=1",
                                   "-close_fd_mask=3"};
  if (!o.dict.empty()) argv.push_back("-dict=" + o.dict);
  argv.push_back(dir + "/corpus");
  for (const auto& s : o.seeds) argv.push_back(s);
  return argv;
}

// "# seconds: 12.5" on the first line of a found program.
constexpr std::string_view kSecondsKey = "# seconds: ";

std::optional<double> seconds_in(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || !line.starts_with(kSecondsKey)) return std::nullopt;
  try {
    return std::stod(line.substr(kSecondsKey.size()));
  } catch (...) {
    return std::nullopt;
  }
}

std::string seconds_text(double s) {
  std::ostringstream t;
  if (s < 1)
    t << "<1";
  else
    t << static_cast<int>(s);
  return t.str();
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

}  // namespace

std::string found_file(const std::string& dir, FindingId cls) {
  return dir + "/" + std::string(to_string(cls)) + ".txt";
}

std::string found_header(double seconds) {
  return std::string(kSecondsKey) + std::to_string(seconds) + "\n";
}

Result<MatrixResult> read_matrix(const MatrixOptions& o) {
  MatrixResult m;
  m.profiles = o.profiles;
  m.time = o.time;
  for (const auto& p : o.profiles)
    m.execs.push_back(read_stats_dir(profile_dir(o, p) + "/stats").execs);
  for (const auto& c : finding_classes()) {
    const std::string name(c.name());
    std::vector<MatrixCell> row;
    bool any = false;
    for (const auto& p : o.profiles) {
      MatrixCell cell;
      const std::string file = found_file(profile_dir(o, p) + "/found", c.id);
      if (auto s = seconds_in(file)) {
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
  struct Run {
    std::string profile;
    pid_t pid = -1;
    bool done = false;
    kernel::Clock::time_point started;
  };
  std::vector<Run> runs;
  for (const auto& p : o.profiles) runs.push_back(Run{p, -1, false, {}});
  const auto start = kernel::Clock::now();
  const auto bound = o.time * 2 + std::chrono::seconds(30);
  size_t next = 0, running = 0, finished = 0;
  const bool tty = isatty(fileno(stdout));
  int tick = 0;
  while (finished < runs.size()) {
    while (running < static_cast<size_t>(std::max(1, o.jobs)) && next < runs.size()) {
      Run& r = runs[next++];
      const std::string dir = profile_dir(o, r.profile);
      // Each profile's own filter constants join the shared tokens.
      MatrixOptions with_dict = o;
      CampaignOptions c;
      c.profile = r.profile;
      c.dict = o.dict;
      auto dict = campaign_dictionary(c, dir);
      if (dict) with_dict.dict = *dict;
      auto pid = launch_engine(engine_argv(with_dict, dir),
                               {{env::kProfile, r.profile},
                                {env::kMatrixDir, dir + "/found"},
                                {env::kStatsDir, dir + "/stats"}},
                               dir, dir + "/engine.log");
      if (!pid) {
        for (auto& other : runs)
          if (other.pid > 0 && !other.done)
            kill(-other.pid, SIGKILL), waitpid(other.pid, nullptr, 0);
        return pid.error();
      }
      r.pid = *pid;
      r.started = kernel::Clock::now();
      running++;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    for (auto& r : runs) {
      if (r.pid <= 0 || r.done) continue;
      int st;
      if (waitpid(r.pid, &st, WNOHANG) == r.pid) {
        r.done = true;
        running--;
        finished++;
      } else if (kernel::Clock::now() - r.started > bound) {
        kill(-r.pid, SIGKILL);  // a stuck engine; the bounded wait reaps it next tick
      }
    }
    std::ostringstream line;
    line << "[" << std::setw(5)
         << std::chrono::duration_cast<std::chrono::seconds>(kernel::Clock::now() - start).count()
         << "s] profiles done " << finished << "/" << runs.size() << ", fuzzing:";
    for (const auto& r : runs)
      if (r.pid > 0 && !r.done) line << " " << r.profile;
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

std::string to_svg(const MatrixResult& m) {
  const int label_w = 300, cell_w = 116, cell_h = 30, top = 70;
  const int width = label_w + cell_w * static_cast<int>(m.profiles.size()) + 10;
  const int height = top + cell_h * static_cast<int>(m.rows.size()) + 40;
  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"13\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">stubfuzz attack matrix: "
      << "each profile fuzzed " << m.time.count() << " s</text>\n";
  for (size_t j = 0; j < m.profiles.size(); j++)
    out << "<text x=\"" << label_w + cell_w * static_cast<int>(j) + cell_w / 2 << "\" y=\""
        << top - 12 << "\" text-anchor=\"middle\" font-weight=\"bold\">" << escape(m.profiles[j])
        << "</text>\n";
  for (size_t i = 0; i < m.rows.size(); i++) {
    const int y = top + cell_h * static_cast<int>(i);
    out << "<text x=\"10\" y=\"" << y + 20 << "\">" << escape(m.rows[i]) << "</text>\n";
    for (size_t j = 0; j < m.cells[i].size(); j++) {
      const MatrixCell& c = m.cells[i][j];
      const int x = label_w + cell_w * static_cast<int>(j);
      out << "<rect x=\"" << x + 2 << "\" y=\"" << y + 2 << "\" width=\"" << cell_w - 4
          << "\" height=\"" << cell_h - 4 << "\" rx=\"4\" fill=\""
          << (c.found ? "#e4572e" : "#76b041") << "\"/>\n"
          << "<text x=\"" << x + cell_w / 2 << "\" y=\"" << y + 20
          << "\" text-anchor=\"middle\" fill=\"white\">"
          << (c.found ? "found " + seconds_text(c.seconds) + " s" : "not found") << "</text>\n";
    }
  }
  out << "<text x=\"10\" y=\"" << height - 14
      << "\" font-size=\"11\">red: the fuzzer broke the claim (seconds until first found); "
         "green: not found within the time</text>\n</svg>\n";
  return out.str();
}

}  // namespace stubfuzz::fuzz
