// Scaling: spawn latency and notification latency with N live stubs (N-1
// idle ones kept alive, listeners held by the monitor), and the memory one
// live stub costs: its Pss, the monitor's growth, the kernel's.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "notify_setup.h"
#include "plain.h"
#include "profile/profile.h"
#include "raw_stub.h"
#include "stub/factory.h"
#include "stub/stub.h"

namespace stubfuzz::bench {

namespace {

// Idle stubs kept across repetitions; grown or shrunk to what a case needs.
std::vector<Stub>& idle_stubs() {
  static std::vector<Stub> idle;
  return idle;
}

std::string keep_idle(size_t n) {
  auto& idle = idle_stubs();
  if (idle.size() > n) idle.erase(idle.begin() + static_cast<std::ptrdiff_t>(n), idle.end());
  const StubConfig c = seed_config("listener");
  while (idle.size() < n) {
    auto s = Stub::spawn(c);
    if (!s) return s.error().message;
    idle.push_back(std::move(*s));
  }
  return "";
}

// A kB field of a /proc file ("Pss:", "VmRSS:", "KernelStack:").
int64_t proc_kib(const std::string& path, const char* field) {
  std::ifstream in(path);
  std::string line;
  const size_t n = strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0) return std::stoll(line.substr(n));
  return 0;
}

int64_t kernel_kib() {
  return proc_kib("/proc/meminfo", "KernelStack:") + proc_kib("/proc/meminfo", "PageTables:") +
         proc_kib("/proc/meminfo", "Slab:");
}

void scale_spawn(benchmark::State& s, bool harness, Strategy strategy) {
  const size_t n = static_cast<size_t>(s.range(0));
  if (auto e = keep_idle(n - 1); !e.empty()) {
    s.SkipWithError(e.c_str());
    return;
  }
  const StubConfig c = seed_config("listener");
  RawConfig rc;
  rc.filter = c.filter;
  rc.seccomp_flags = c.seccomp_flags;
  SpawnPhases ph;
  StubConfig hc = c;
  hc.phases = &ph;
  PhaseSums sums;
  Samples samples(s);
  for (auto _ : s) {
    const auto t0 = Clock::now();
    std::string err;
    std::optional<Stub> stub;
    RawStub raw;
    if (harness) {
      auto r = Stub::spawn(hc);
      if (r)
        stub.emplace(std::move(*r));
      else
        err = r.error().message;
    } else {
      err = spawn_raw(strategy, rc, &raw, &ph);
    }
    const int64_t ns = since_ns(t0);
    if (!err.empty()) {
      s.SkipWithError(err.c_str());
      break;
    }
    s.SetIterationTime(static_cast<double>(ns) * 1e-9);
    samples.add(ns);
    sums.add(ph);
  }
  sums.report(s);
  s.counters["live_stubs"] = static_cast<double>(n);
  samples.report(s);
}

void scale_notify(benchmark::State& s) {
  const size_t n = static_cast<size_t>(s.range(0));
  if (auto e = keep_idle(n - 1); !e.empty()) {
    s.SkipWithError(e.c_str());
    return;
  }
  s.counters["live_stubs"] = static_cast<double>(n);
  harness_notify(s, Mmap::kNotified, true);
}

// Spawns N stubs from none and measures what they cost. Manual time: the
// spawn of all N, per stub.
void scale_memory(benchmark::State& s) {
  const size_t n = static_cast<size_t>(s.range(0));
  for (auto _ : s) {
    idle_stubs().clear();
    const int64_t rss0 = proc_kib("/proc/self/status", "VmRSS:");
    const int64_t pss0 = proc_kib("/proc/self/smaps_rollup", "Pss:");
    const int64_t kern0 = kernel_kib();
    const auto t0 = Clock::now();
    if (auto e = keep_idle(n); !e.empty()) {
      s.SkipWithError(e.c_str());
      return;
    }
    s.SetIterationTime(static_cast<double>(since_ns(t0)) * 1e-9 / static_cast<double>(n));
    int64_t stub_pss = 0;
    for (const Stub& st : idle_stubs())
      stub_pss += proc_kib("/proc/" + std::to_string(st.pid()) + "/smaps_rollup", "Pss:");
    const double per = 1.0 / static_cast<double>(n);
    const double monitor_pss =
        static_cast<double>(proc_kib("/proc/self/smaps_rollup", "Pss:") - pss0) * per;
    s.counters["stub_pss_kib"] = static_cast<double>(stub_pss) * per;
    s.counters["monitor_rss_kib"] =
        static_cast<double>(proc_kib("/proc/self/status", "VmRSS:") - rss0) * per;
    s.counters["monitor_pss_kib"] = monitor_pss;
    s.counters["user_total_kib"] = static_cast<double>(stub_pss) * per + monitor_pss;
    s.counters["kernel_kib"] = static_cast<double>(kernel_kib() - kern0) * per;
    s.counters["live_stubs"] = static_cast<double>(n);
  }
  idle_stubs().clear();
}

// The fuzzer's spawn (stub/factory.h) with N-1 other stubs alive: the
// template forks with its own small fd table, whatever the monitor holds.
void scale_factory_spawn(benchmark::State& s) {
  const size_t n = static_cast<size_t>(s.range(0));
  if (auto e = keep_idle(n - 1); !e.empty()) {
    s.SkipWithError(e.c_str());
    return;
  }
  // Its own thread: pooled stubs' spawning thread joins their pid namespace
  // and can start no thread after (stub/sandbox.h).
  std::thread([&] {
    StubFactory factory((*find_profile("listener"))->stub_config({}, /*pooled=*/true));
    if (!factory.make().ok()) {
      s.SkipWithError("the stub factory cannot start here");
      return;
    }
    Samples samples(s);
    for (auto _ : s) {
      const auto t0 = Clock::now();
      auto stub = factory.make();
      const int64_t ns = since_ns(t0);
      if (!stub) {
        s.SkipWithError(stub.error().message.c_str());
        break;
      }
      s.SetIterationTime(static_cast<double>(ns) * 1e-9);
      samples.add(ns);
    }
    s.counters["live_stubs"] = static_cast<double>(n);
    samples.report(s);
  }).join();
}

}  // namespace

void release_idle_stubs() { idle_stubs().clear(); }

void register_scale_benchmarks() {
  // alt_zygote: the helper's fd table stays small however many stubs live.
  const struct {
    const char* kind;
    bool harness;
    Strategy strategy;
  } spawns[] = {{"harness", true, Strategy::kCloneVfork},
                {"floor", false, Strategy::kCloneVfork},
                {"alt_zygote", false, Strategy::kZygote}};
  for (const auto& k : spawns) {
    reg(std::string("BM_ScaleSpawn/") + k.kind, Timing::kManual,
        [=](benchmark::State& s) { scale_spawn(s, k.harness, k.strategy); })
        ->ArgName("live")
        ->Arg(1)
        ->Arg(10)
        ->Arg(100)
        ->Arg(1000);
  }
  reg("BM_ScaleSpawn/factory", Timing::kManual, scale_factory_spawn)
      ->ArgName("live")
      ->Arg(1)
      ->Arg(10)
      ->Arg(100)
      ->Arg(1000);
  reg("BM_ScaleNotify/harness", Timing::kReal, scale_notify)
      ->ArgName("live")
      ->Arg(1)
      ->Arg(10)
      ->Arg(100)
      ->Arg(1000);
  reg("BM_ScaleMemory/harness", Timing::kManual, scale_memory)
      ->ArgName("live")
      ->Arg(1)
      ->Arg(10)
      ->Arg(100)
      ->Arg(1000)
      ->Iterations(1);
}

}  // namespace stubfuzz::bench
