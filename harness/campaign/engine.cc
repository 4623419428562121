#include "campaign/engine.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "kernel/sys.h"

namespace stubfuzz::campaign {

namespace {

std::vector<std::string> libfuzzer_command(const EngineJob& job) {
  std::vector<std::string> argv = {
      job.target, "-max_total_time=" + std::to_string(job.time.count()),
      "-artifact_prefix=" + job.artifacts + "/", "-print_final_stats=1", "-close_fd_mask=3",
      // A leak check after every input whose run kept memory (each new
      // feature does: the stats' sets grow) is a full LSan scan; leaks are
      // checked at exit and by the ASan soak instead.
      "-detect_leaks=0",
      // Every reload lists and stats the whole corpus directory, thousands
      // of files within minutes: once a second (the default) it took 4.5%
      // of a worker's CPU. Workers still see each other's finds.
      "-reload=10"};
  if (job.jobs > 1) {
    argv.push_back("-jobs=" + std::to_string(job.jobs));
    argv.push_back("-workers=" + std::to_string(job.jobs));
  }
  if (!job.dict.empty()) argv.push_back("-dict=" + job.dict);
  argv.push_back(job.corpus);
  argv.insert(argv.end(), job.seeds.begin(), job.seeds.end());
  return argv;
}

std::vector<std::string> afl_command(const EngineJob& job, int instance) {
  std::vector<std::string> argv = {"afl-fuzz", "-i", job.seeds.front(), "-o", job.corpus};
  // cmplog on the main instance: the target's own compare hooks
  // (fuzzers/feedback.h) fill AFL++'s cmplog map, so the same binary serves.
  if (instance == 0)
    argv.insert(argv.end(), {"-M", "main", "-c", "0"});
  else
    argv.insert(argv.end(), {"-S", "secondary" + std::to_string(instance)});
  argv.insert(argv.end(), {"-V", std::to_string(job.time.count())});
  if (!job.dict.empty()) argv.insert(argv.end(), {"-x", job.dict});
  argv.insert(argv.end(), {"--", job.target});
  return argv;
}

}  // namespace

std::vector<std::vector<std::string>> engine_commands(const EngineJob& job) {
  if (job.engine == Engine::kLibFuzzer) return {libfuzzer_command(job)};
  std::vector<std::vector<std::string>> all;
  for (int i = 0; i < std::max(1, job.jobs); i++) all.push_back(afl_command(job, i));
  return all;
}

EnvVars engine_env(const EngineJob& job) {
  EnvVars env = job.env;
  if (job.engine == Engine::kAfl)
    for (const char* v : {"AFL_NO_UI", "AFL_SKIP_CPUFREQ", "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES",
                          "AFL_NO_AFFINITY"})
      env.emplace_back(v, "1");
  return env;
}

std::chrono::seconds hard_bound(std::chrono::seconds time) {
  return time * 2 + std::chrono::seconds(30);
}

Supervisor::~Supervisor() { kill_all(); }

Result<pid_t> Supervisor::launch(const std::vector<std::string>& argv, const EnvVars& env,
                                 const std::string& dir, const std::string& log,
                                 std::chrono::seconds bound) {
  const pid_t pid = fork();
  if (pid < 0) return Error::from_errno("fork(" + argv[0] + ")");
  if (pid == 0) {
    setpgid(0, 0);
    if (chdir(dir.c_str()) < 0) _exit(126);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    if (FILE* f = std::fopen(log.c_str(), "w")) {
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
  children_.push_back({pid, kernel::Clock::now() + bound});
  return pid;
}

Status Supervisor::launch_all(const EngineJob& job, const std::string& log_prefix) {
  const auto commands = engine_commands(job);
  const EnvVars env = engine_env(job);
  for (size_t i = 0; i < commands.size(); i++) {
    const std::string log =
        log_prefix + (commands.size() > 1 ? "-" + std::to_string(i) : "") + ".log";
    if (auto pid = launch(commands[i], env, job.dir, log, hard_bound(job.time)); !pid)
      return pid.error();
  }
  return {};
}

size_t Supervisor::poll() {
  const auto now = kernel::Clock::now();
  std::erase_if(children_, [&](const Child& c) {
    if (waitpid(c.pid, nullptr, WNOHANG) == c.pid) return true;
    // A stuck engine: killed now, reaped on a later poll.
    if (now > c.deadline) kill(-c.pid, SIGKILL);
    return false;
  });
  return children_.size();
}

bool Supervisor::running(pid_t pid) const {
  return std::any_of(children_.begin(), children_.end(),
                     [&](const Child& c) { return c.pid == pid; });
}

void Supervisor::kill_all() {
  for (const Child& c : children_) {
    kill(-c.pid, SIGKILL);
    waitpid(c.pid, nullptr, 0);  // SIGKILL: ends at once
  }
  children_.clear();
}

}  // namespace stubfuzz::campaign
