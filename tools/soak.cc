// soak: a long run of the executor on random programs, watching whether the
// harness itself stays flat: its RSS, its open fds, its child processes and
// zombies, sampled every few seconds. Exit 0 when flat after the warm-up,
// 1 when something grows, 2 for bad arguments.
#include <dirent.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "check/check.h"
#include "fuzz/executor.h"
#include "fuzz/replay.h"
#include "profile/profile.h"
#include "stub/stub_pool.h"

namespace stubfuzz {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t executions = 0;  // 0: until `seconds`
  double seconds = 0;
  double sample_seconds = 2;
  std::string profile = "listener";
  uint64_t seed = 0;
};

struct Sample {
  double t = 0;
  uint64_t executions = 0;
  long rss_kib = 0;
  int fds = 0;
  int children = 0;
  int zombies = 0;
};

long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string key; in >> key;) {
    if (key == "VmRSS:") {
      long v = 0;
      in >> v;
      return v;
    }
    in.ignore(1 << 12, '\n');
  }
  return -1;
}

int zombies() {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream children(std::string("/proc/self/task/") + e->d_name + "/children");
    for (std::string pid; children >> pid;) {
      std::ifstream stat("/proc/" + pid + "/stat");
      std::string line;
      std::getline(stat, line);
      const auto close_paren = line.rfind(')');
      if (close_paren != std::string::npos && line.size() > close_paren + 2 &&
          line[close_paren + 2] == 'Z')
        n++;
    }
  }
  closedir(d);
  return n;
}

Sample sample(double t, uint64_t executions) {
  const ResourceCount c = count_resources();
  return {t, executions, rss_kib(), c.fds, c.children, zombies()};
}

void print(const Sample& s) {
  std::printf("%8.1f %12llu %10ld %5d %9d %8d\n", s.t,
              static_cast<unsigned long long>(s.executions), s.rss_kib, s.fds, s.children,
              s.zombies);
  std::fflush(stdout);
}

// Flat: a leak raises the floor, while the pool refilling in the background
// only moves fds and children up and down, between empty and full. So: the
// lowest value of the last quarter of the samples must not exceed the
// highest of the warm-up (the first quarter) by more than a full pool and the
// stub in use, and RSS grows by less than 8 MiB from the end of the warm-up
// to the last sample. (A leak of one stub per thousand executions is
// eighteen stubs in this 30 s slice.)
bool judge(const std::vector<Sample>& samples) {
  if (samples.size() < 4) {
    std::printf("too few samples to judge (%zu); run longer\n", samples.size());
    return true;
  }
  const size_t warm = std::max<size_t>(1, samples.size() / 4);
  const size_t last = samples.size() - warm;
  bool flat = true;
  auto check = [&](const char* name, int Sample::*field, int one_stub) {
    int during = 0, floor = INT32_MAX;
    for (size_t i = 0; i < warm; i++) during = std::max(during, samples[i].*field);
    for (size_t i = last; i < samples.size(); i++) floor = std::min(floor, samples[i].*field);
    const bool ok = floor <= during + one_stub;
    std::printf("%-9s warm-up max %d, last-quarter min %d: %s\n", name, during, floor,
                ok ? "flat" : "GROWS");
    flat &= ok;
  };
  constexpr int kStubs = StubPool::kDefaultDepth + 1;  // the pool, and the stub in use
  check("fds", &Sample::fds, kStubs * 3 + 1);          // pidfd, socket, listener; the monitor's dup
  check("children", &Sample::children, kStubs);
  check("zombies", &Sample::zombies, 1);
  const long growth = samples.back().rss_kib - samples[warm].rss_kib;
  const bool rss_ok = growth < 8 * 1024;
  std::printf("%-9s %ld KiB after warm-up, %ld KiB at the end (%+ld KiB): %s\n", "rss",
              samples[warm].rss_kib, samples.back().rss_kib, growth, rss_ok ? "flat" : "GROWS");
  return flat && rss_ok;
}

int usage(const char* msg) {
  std::fprintf(stderr,
               "soak: %s (usage: soak [--executions N | --seconds S] [--sample S] [--profile NAME] "
               "[--seed N])\n",
               msg);
  return 2;
}

int run(const Options& o) {
  auto profile = find_profile(o.profile);
  if (!profile) {
    std::fprintf(stderr, "soak: %s\n", profile.error().message.c_str());
    return 2;
  }
  const uint64_t seed = o.seed ? o.seed : std::random_device{}();
  std::mt19937_64 rng(seed);
  std::printf("soak: profile %s, seed %llu, %s\n", (*profile)->name.c_str(),
              static_cast<unsigned long long>(seed),
              o.executions ? (std::to_string(o.executions) + " executions").c_str()
                           : (std::to_string(o.seconds) + " s").c_str());
  std::printf("%8s %12s %10s %5s %9s %8s\n", "t(s)", "executions", "rss(KiB)", "fds", "children",
              "zombies");
  // The process-wide pieces (stub image, sandbox namespaces) stay; count after them.
  if (auto s = Stub::prepare((*profile)->stub_config()); !s) {
    std::fprintf(stderr, "soak: %s\n", s.error().message.c_str());
    return 1;
  }
  const ResourceCount baseline = count_resources();
  std::vector<Sample> samples;
  uint64_t executions = 0, errors = 0, violations = 0;
  {
    fuzz::Executor executor(**profile);
    const auto t0 = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };
    double next_sample = o.sample_seconds;
    std::vector<uint8_t> bytes;
    while (o.executions ? executions < o.executions : elapsed() < o.seconds) {
      bytes.resize(rng() % 256 + 1);
      for (auto& b : bytes) b = static_cast<uint8_t>(rng());
      const fuzz::Program p = fuzz::decode(bytes);
      if (p.records.empty()) continue;
      auto r = fuzz::replay(executor, **profile, p);
      executions++;
      if (!r) {
        if (errors++ < 5)
          std::printf("execution %llu: %s\n", static_cast<unsigned long long>(executions),
                      r.error().message.c_str());
      } else if (r->judgement.violated()) {
        violations++;
      }
      if (elapsed() >= next_sample) {
        samples.push_back(sample(elapsed(), executions));
        print(samples.back());
        next_sample += o.sample_seconds;
      }
    }
    samples.push_back(sample(elapsed(), executions));
    print(samples.back());
  }
  const Sample after = sample(samples.back().t, executions);
  std::printf(
      "%llu executions, %llu errors, %llu judged as breaking a claim (known findings included)\n",
      static_cast<unsigned long long>(executions), static_cast<unsigned long long>(errors),
      static_cast<unsigned long long>(violations));
  std::printf("after the executor is gone: %d fds (%d before it), %d children\n", after.fds,
              baseline.fds, after.children);
  const bool flat = judge(samples) && after.children == 0 && after.fds == baseline.fds;
  std::printf("soak: %s\n", flat ? "flat" : "NOT FLAT");
  return flat && errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace stubfuzz

int main(int argc, char** argv) {
  stubfuzz::Options o;
  CLI::App app{
      "soak: the executor on random programs, the harness's RSS, fds and children sampled"};
  auto* execs = app.add_option("--executions", o.executions, "programs to run");
  auto* secs = app.add_option("--seconds", o.seconds, "or: run this long");
  execs->excludes(secs);
  app.add_option("--sample", o.sample_seconds, "seconds between samples (default 2)");
  app.add_option("--profile", o.profile, "built-in profile (default listener)");
  app.add_option("--seed", o.seed, "random seed (default 0)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return stubfuzz::usage(e.what());
  }
  if ((o.executions == 0) == (o.seconds <= 0))
    return stubfuzz::usage("give one of --executions or --seconds");
  if (o.sample_seconds <= 0) return stubfuzz::usage("--sample must be positive");
  return stubfuzz::run(o);
}
