// Launching and supervising fuzzing engines (libFuzzer, AFL++) on the
// fuzz_stub_syscalls target: their command lines, written once for `fuzz`
// and `matrix`, and a supervisor that runs each in its own process group
// with a hard bound and never leaves one behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace stubfuzz::campaign {

enum class Engine { kLibFuzzer, kAfl };

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// One engine run: what every engine is told, in its own terms.
struct EngineJob {
  Engine engine = Engine::kLibFuzzer;
  std::string target;  // the engine's build of fuzz_stub_syscalls
  std::chrono::seconds time{60};
  int jobs = 1;                    // libFuzzer workers, or AFL++ instances
  std::string dir;                 // working directory, absolute
  std::string corpus;              // libFuzzer's corpus; AFL++'s -o
  std::string artifacts;           // libFuzzer's crash files (a directory)
  std::vector<std::string> seeds;  // seed corpus directories
  std::string dict;                // a dictionary in the engine's format, or ""
  EnvVars env;                     // the target's contract (campaign/target_env.h)
};

// One process per libFuzzer job; AFL++ runs one main and jobs-1 secondaries.
std::vector<std::vector<std::string>> engine_commands(const EngineJob& job);
// What every engine process gets in its environment besides job.env.
EnvVars engine_env(const EngineJob& job);

// Runs engine processes, each in its own process group, and kills a group
// that outlives its bound. Kills and reaps whatever still runs when it ends.
class Supervisor {
 public:
  Supervisor() = default;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  ~Supervisor();

  // Starts `argv` in `dir` with `env` added, its output in `log`; a process
  // still running after `bound` is killed.
  Result<pid_t> launch(const std::vector<std::string>& argv, const EnvVars& env,
                       const std::string& dir, const std::string& log, std::chrono::seconds bound);
  // Every command of `job`, logs beside each other in job.dir.
  Status launch_all(const EngineJob& job, const std::string& log_prefix);
  // Reaps what has ended and kills what overran; returns how many run.
  size_t poll();
  bool running(pid_t pid) const;
  void kill_all();

 private:
  struct Child {
    pid_t pid;
    std::chrono::steady_clock::time_point deadline;
  };
  std::vector<Child> children_;
};

// The hard bound the engines get: they stop themselves at `time`.
std::chrono::seconds hard_bound(std::chrono::seconds time);

}  // namespace stubfuzz::campaign
