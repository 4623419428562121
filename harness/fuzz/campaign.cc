#include "fuzz/campaign.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <thread>

#include "fuzz/dictionary.h"
#include "fuzz/stats.h"
#include "fuzz/target_env.h"
#include "kernel/sys.h"
#include "profile/profile.h"

namespace stubfuzz::fuzz {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> engine_argv(const CampaignOptions& o, const std::string& out) {
  std::vector<std::string> argv;
  if (o.engine == Engine::kLibFuzzer) {
    argv = {o.target, "-max_total_time=" + std::to_string(o.time.count()),
            "-artifact_prefix=" + out + "/crashes/", "-print_final_stats=1", "-close_fd_mask=3"};
    if (o.jobs > 1) {
      argv.push_back("-jobs=" + std::to_string(o.jobs));
      argv.push_back("-workers=" + std::to_string(o.jobs));
    }
    if (!o.dict.empty()) argv.push_back("-dict=" + o.dict);
    argv.push_back(out + "/corpus");
    for (const auto& s : o.seeds) argv.push_back(s);
    return argv;
  }
  // AFL++: one main, the rest secondaries, each started by its own afl-fuzz.
  return {};
}

std::vector<std::vector<std::string>> afl_instances(const CampaignOptions& o,
                                                    const std::string& out) {
  std::vector<std::vector<std::string>> all;
  const std::string seeds = o.seeds.empty() ? out + "/seeds" : o.seeds.front();
  for (int i = 0; i < std::max(1, o.jobs); i++) {
    std::vector<std::string> argv = {"afl-fuzz",
                                     "-i",
                                     seeds,
                                     "-o",
                                     out + "/afl",
                                     i == 0 ? "-M" : "-S",
                                     i == 0 ? "main" : "secondary" + std::to_string(i),
                                     "-V",
                                     std::to_string(o.time.count())};
    // cmplog on the main instance: the target's own compare hooks
    // (fuzzers/feedback.h) fill AFL++'s cmplog map, so the same binary serves.
    if (i == 0) argv.insert(argv.end(), {"-c", "0"});
    if (!o.dict.empty()) argv.insert(argv.end(), {"-x", o.dict});
    argv.insert(argv.end(), {"--", o.target});
    all.push_back(argv);
  }
  return all;
}

std::vector<std::pair<std::string, std::string>> engine_env(const CampaignOptions& o,
                                                            const std::string& out) {
  std::vector<std::pair<std::string, std::string>> env = {{env::kStatsDir, out + "/stats"}};
  if (!o.filter.empty()) {
    env.push_back({env::kFilter, o.filter});
    env.push_back({env::kClaims, o.claims});
  } else {
    env.push_back({env::kProfile, o.profile});
  }
  if (o.unsafe) env.push_back({env::kUnsafe, "1"});
  if (o.engine == Engine::kAfl)
    for (const char* v : {"AFL_NO_UI", "AFL_SKIP_CPUFREQ", "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES",
                          "AFL_NO_AFFINITY"})
      env.push_back({v, "1"});
  return env;
}

std::string status_line(const Stats& s, double elapsed, size_t crashes) {
  std::ostringstream line;
  uint64_t known = 0;
  for (const auto& [id, n] : s.known) known += n ? 1 : 0;
  line << "[" << std::setw(5) << static_cast<int>(elapsed) << "s] " << std::setw(8)
       << static_cast<uint64_t>(elapsed > 0 ? s.execs / elapsed : 0) << " execs/s | filter "
       << s.filter_pcs.size() << "/" << s.filter_len << " insns, " << s.branch_sides.size() << "/"
       << s.branch_total << " branch sides | " << s.cells.size() << " cells | known findings "
       << known << " | crashes " << crashes;
  return line.str();
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

// The filter the target will run, as the target itself builds it.
Result<filter::Program> filter_under_test(const CampaignOptions& o) {
  if (!o.filter.empty()) {
    auto p = profile_from_filter_file(o.filter, o.claims.empty() ? kDefaultProfile : o.claims);
    if (!p) return p.error();
    return p->make_filter(StubLayout{});
  }
  auto p = find_profile(o.profile.empty() ? kDefaultProfile : o.profile);
  if (!p) return p.error();
  return (*p)->make_filter(StubLayout{});
}

}  // namespace

Result<std::string> campaign_dictionary(const CampaignOptions& o, const std::string& out) {
  auto prog = filter_under_test(o);
  if (!prog) return prog.error();
  return write_dictionary(out + "/dictionary.dict", o.dict, *prog);
}

Result<pid_t> launch_engine(const std::vector<std::string>& argv,
                            const std::vector<std::pair<std::string, std::string>>& env,
                            const std::string& dir, const std::string& log) {
  const pid_t pid = fork();
  if (pid < 0) return Error::from_errno("fork(" + argv[0] + ")");
  if (pid == 0) {
    setpgid(0, 0);
    if (chdir(dir.c_str()) < 0) _exit(126);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    FILE* f = std::fopen(log.c_str(), "w");
    if (f) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

Result<CampaignResult> run_campaign(const CampaignOptions& o, std::ostream& status) {
  if (access(o.target.c_str(), X_OK) != 0)
    return Error{"fuzz target " + o.target + " not found (build it with scripts/build " +
                     (o.engine == Engine::kAfl ? "afl" : "fuzz") + ")",
                 ENOENT};
  const std::string out = fs::absolute(o.out_dir).string();
  for (const char* sub : {"corpus", "crashes", "stats", "seeds"}) {
    std::error_code ec;
    fs::create_directories(out + "/" + sub, ec);
    if (ec) return Error{out + "/" + sub + ": " + ec.message(), ec.value()};
  }
  if (o.engine == Engine::kAfl && o.seeds.empty())
    std::ofstream(out + "/seeds/outside-getpid.txt") << "outside getpid()\n";
  auto dict = campaign_dictionary(o, out);
  if (!dict) return dict.error();
  CampaignOptions with_dict = o;
  with_dict.dict = *dict;

  std::vector<pid_t> pids;
  if (o.engine == Engine::kLibFuzzer) {
    auto pid =
        launch_engine(engine_argv(with_dict, out), engine_env(o, out), out, out + "/engine.log");
    if (!pid) return pid.error();
    pids.push_back(*pid);
  } else {
    int i = 0;
    for (const auto& argv : afl_instances(with_dict, out)) {
      auto pid = launch_engine(argv, engine_env(o, out), out,
                               out + "/afl-" + std::to_string(i++) + ".log");
      if (!pid) return pid.error();
      pids.push_back(*pid);
    }
  }

  // Bounded: the engines stop themselves at o.time; we stop them at twice it.
  const auto start = kernel::Clock::now();
  const auto hard_stop = start + o.time * 2 + std::chrono::seconds(30);
  const bool tty = isatty(fileno(stdout));
  size_t running = pids.size();
  int tick = 0;
  while (running) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    for (auto& pid : pids) {
      int st;
      if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) {
        pid = -1;
        running--;
      }
    }
    const double elapsed = std::chrono::duration<double>(kernel::Clock::now() - start).count();
    const std::string line =
        status_line(read_stats_dir(out + "/stats"), elapsed, crash_files(o, out).size());
    if (tty)
      status << "\r" << line << std::flush;
    else if (++tick % 10 == 0)
      status << line << "\n" << std::flush;
    if (kernel::Clock::now() > hard_stop) {
      for (pid_t pid : pids)
        if (pid > 0) kill(-pid, SIGKILL);
    }
  }
  if (tty) status << "\n";

  const Stats s = read_stats_dir(out + "/stats");
  CampaignResult r;
  r.execs = s.execs;
  r.seconds = std::chrono::duration<double>(kernel::Clock::now() - start).count();
  r.filter_len = s.filter_len;
  r.filter_covered = s.filter_pcs.size();
  r.branch_total = s.branch_total;
  r.branch_covered = s.branch_sides.size();
  r.cells = s.cells.size();
  for (const auto& [id, n] : s.known) r.known.emplace_back(id, out + "/stats/known-" + id + ".txt");
  r.crashes = crash_files(o, out);
  return r;
}

}  // namespace stubfuzz::fuzz
