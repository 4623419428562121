// Spawn → listener in hand: the harness's Stub::spawn (both methods), the
// same kernel operations written plainly against stub_abi.h (the floors),
// and the other ways to start a stub. Kill and reap run outside the timing.
#include <linux/futex.h>
#include <sys/syscall.h>

#include <algorithm>
#include <thread>

#include "monitor/batch.h"
#include "plain.h"
#include "profile/profile.h"
#include "raw_stub.h"
#include "stub/factory.h"
#include "stub/record.h"
#include "stub/stub.h"

namespace stubfuzz::bench {

namespace {

const Profile& profile(const char* name) { return **find_profile(name); }

// Times `spawn()` (a Result<Stub>) to the listener in hand; the kill and
// reap run outside the timing.
template <class Spawn>
void time_spawns(benchmark::State& s, const SpawnPhases& ph, Spawn spawn) {
  PhaseSums sums;
  Samples samples(s);
  for (auto _ : s) {
    const auto t0 = Clock::now();
    auto stub = spawn();
    const int64_t ns = since_ns(t0);
    if (!stub) {
      s.SkipWithError(stub.error().message.c_str());
      break;
    }
    s.SetIterationTime(static_cast<double>(ns) * 1e-9);
    samples.add(ns);
    sums.add(ph);
    (void)stub->kill();
  }
  sums.report(s);
  samples.report(s);
}

void harness_spawn(benchmark::State& s, SpawnMethod method, const char* profile_name,
                   bool sandboxed = false) {
  StubConfig c = seed_config(profile_name, sandboxed);
  c.spawn = method;
  SpawnPhases ph;
  c.phases = &ph;
  time_spawns(s, ph, [&] { return Stub::spawn(c); });
}

// Times `spawn(&stub)`, a raw spawn that returns "" or what failed, with
// its phases when `sums` is given; the stub ends outside the timing.
template <class Spawn>
void time_raw_spawns(benchmark::State& s, Spawn spawn, PhaseSums* sums = nullptr,
                     const SpawnPhases* ph = nullptr) {
  Samples samples(s);
  for (auto _ : s) {
    RawStub stub;
    const auto t0 = Clock::now();
    const std::string err = spawn(&stub);
    const int64_t ns = since_ns(t0);
    if (!err.empty()) {
      s.SkipWithError(err.c_str());
      break;
    }
    s.SetIterationTime(static_cast<double>(ns) * 1e-9);
    samples.add(ns);
    if (sums) sums->add(*ph);
    stub.end();
  }
  if (sums) sums->report(s);
  samples.report(s);
}

// Spawn → listener in hand for the fuzzer's stubs (sandboxed, pooled: one
// pid namespace), by the seed's path or from the factory's template.
void pooled_spawn(benchmark::State& s, bool factory) {
  // Its own thread: pooled stubs' spawning thread joins their pid namespace
  // and can start no thread after (stub/sandbox.h).
  std::thread([&] {
    StubConfig c = profile("listener").stub_config({}, /*pooled=*/true);
    SpawnPhases ph;
    c.phases = &ph;
    StubFactory f(c);
    if (factory && !f.make().ok()) {  // the template, started outside the timing
      s.SkipWithError("the stub factory cannot start here");
      return;
    }
    time_spawns(s, ph, [&] { return factory ? f.make() : Stub::spawn(c); });
  }).join();
}

// The factory's floor: the same template fork against stub_abi.h with no
// harness code (raw_stub.h: fork_raw), unsandboxed: the data memfd and
// socket pair, the template's CLONE_PARENT|CLONE_PIDFD fork, the child's
// init, second thread and filter install, pidfd_getfd.
void floor_factory(benchmark::State& s) {
  const StubConfig c = profile("listener").stub_config({}, /*pooled=*/true);
  RawConfig child;
  child.filter = c.filter;
  child.seccomp_flags = c.seccomp_flags;
  child.layout = c.layout;
  child.second_thread = c.second_thread;
  child.handover = Handover::kAssumeFd1;
  RawConfig parent = child;
  parent.mode = STUB_MODE_TEMPLATE;
  parent.safety_net = c.safety_net;
  parent.second_thread = false;
  parent.handover = Handover::kNone;
  RawStub factory_template;
  if (auto e = spawn_raw(Strategy::kClonePidfd, parent, &factory_template, nullptr); !e.empty()) {
    s.SkipWithError(("the raw template: " + e).c_str());
    return;
  }
  time_raw_spawns(s, [&](RawStub* st) { return fork_raw(factory_template, child, st); });
}

// A reset (Stub::reset) against a fresh factory stub, in one run: after a
// program that wrote an arena and executed a traceless call, the monitor's
// reset plus what the stub's refill adds to its next batch (an empty batch
// after a reset, less an empty batch without one), beside the factory's
// make() of a fresh stub (counter fresh_us).
void pooled_reset(benchmark::State& s) {
  std::thread([&] {
    StubConfig c = profile("listener").stub_config({}, /*pooled=*/true);
    StubFactory f(c);
    auto stub = f.make();
    if (!stub) {
      s.SkipWithError(stub.error().message.c_str());
      return;
    }
    const stub_record program[] = {
        at_address(c.layout.page_above() + 64, SYS_getpid),
        from_stub(SYS_futex, {c.layout.scratch(), FUTEX_WAKE, 1}),
    };
    Samples samples(s);
    int64_t refill_ns = 0, plain_ns = 0, fresh_ns = 0, n = 0;
    for (auto _ : s) {
      if (!run_batch(*stub, program).ok() || !stub->usable()) {
        s.SkipWithError("the program did not leave its stub alive");
        break;
      }
      auto t0 = Clock::now();
      const bool reset = stub->reset().ok();
      const int64_t reset_ns = since_ns(t0);
      t0 = Clock::now();
      const bool refilled = run_batch(*stub, std::span<const stub_record>{}).ok();
      const int64_t with_refill = since_ns(t0);
      t0 = Clock::now();
      const bool plain = run_batch(*stub, std::span<const stub_record>{}).ok();
      const int64_t without = since_ns(t0);
      if (!reset || !refilled || !plain) {
        s.SkipWithError("reset failed");
        break;
      }
      const int64_t ns = reset_ns + std::max<int64_t>(0, with_refill - without);
      s.SetIterationTime(static_cast<double>(ns) * 1e-9);
      samples.add(ns);
      refill_ns += with_refill;
      plain_ns += without;
      n++;
    }
    // The alternative: fresh stubs from the same factory (at most 500: a
    // reset is thousands of times cheaper, so the loop above runs long).
    const int64_t fresh_n = std::clamp<int64_t>(n, 1, 500);
    for (int64_t i = 0; i < fresh_n && n; i++) {
      const auto t0 = Clock::now();
      auto fresh = f.make();
      fresh_ns += since_ns(t0);
      if (!fresh) {
        s.SkipWithError(fresh.error().message.c_str());
        return;
      }
    }
    if (n) {
      s.counters["refill_batch_us"] = static_cast<double>(refill_ns) / n / 1e3;
      s.counters["empty_batch_us"] = static_cast<double>(plain_ns) / n / 1e3;
      s.counters["fresh_us"] = static_cast<double>(fresh_ns) / fresh_n / 1e3;
    }
    samples.report(s);
  }).join();
}

void raw_spawn(benchmark::State& s, Strategy strategy, const char* profile_name) {
  const Profile& p = profile(profile_name);
  RawConfig c;
  c.filter = p.make_filter(c.layout);
  c.seccomp_flags = p.seccomp_flags;
  c.handover = p.wants_listener() ? Handover::kAssumeFd1 : Handover::kNone;
  SpawnPhases ph;
  PhaseSums sums;
  time_raw_spawns(
      s, [&](RawStub* stub) { return spawn_raw(strategy, c, stub, &ph); }, &sums, &ph);
}

}  // namespace

void register_spawn_benchmarks() {
  const char* seed = "listener";
  reg("BM_Spawn/harness_uml_clone", Timing::kManual,
      [=](benchmark::State& s) { harness_spawn(s, SpawnMethod::kUmlClone, seed); });
  reg("BM_Spawn/harness_clone_pidfd", Timing::kManual,
      [=](benchmark::State& s) { harness_spawn(s, SpawnMethod::kClonePidfd, seed); });
  // What stubfuzz itself runs: the same spawn inside the sandbox, with the net.
  reg("BM_Spawn/cost_sandboxed_uml_clone", Timing::kManual,
      [=](benchmark::State& s) { harness_spawn(s, SpawnMethod::kUmlClone, seed, true); });
  // The fuzzer's stubs: the seed's path against the factory (stub/factory.h).
  reg("BM_Spawn/pooled_seed_path", Timing::kManual,
      [](benchmark::State& s) { pooled_spawn(s, false); });
  reg("BM_Spawn/pooled_factory", Timing::kManual,
      [](benchmark::State& s) { pooled_spawn(s, true); });
  reg("BM_Spawn/floor_factory", Timing::kManual, floor_factory);
  // Fixed iterations: each also runs three batches outside its timing.
  reg("BM_Spawn/pooled_reset", Timing::kManual, pooled_reset)->Iterations(20000);
  const struct {
    const char* name;
    Strategy strategy;
  } raw[] = {
      {"BM_Spawn/floor_uml_clone", Strategy::kCloneVfork},
      {"BM_Spawn/floor_clone_pidfd", Strategy::kClonePidfd},
      {"BM_Spawn/alt_fork_execve", Strategy::kForkExecve},
      {"BM_Spawn/alt_fork_execveat", Strategy::kForkExecveat},
      {"BM_Spawn/alt_posix_spawn", Strategy::kPosixSpawn},
      {"BM_Spawn/alt_zygote", Strategy::kZygote},
  };
  for (const auto& r : raw)
    reg(r.name, Timing::kManual, [=](benchmark::State& s) { raw_spawn(s, r.strategy, seed); });

  // What NEW_LISTENER (and pulling the listener) adds to a spawn.
  reg("BM_ListenerCost/harness_listener", Timing::kManual,
      [](benchmark::State& s) { harness_spawn(s, SpawnMethod::kUmlClone, "listener"); });
  reg("BM_ListenerCost/harness_mainline", Timing::kManual,
      [](benchmark::State& s) { harness_spawn(s, SpawnMethod::kUmlClone, "mainline"); });
  reg("BM_ListenerCost/floor_listener", Timing::kManual,
      [](benchmark::State& s) { raw_spawn(s, Strategy::kCloneVfork, "listener"); });
  reg("BM_ListenerCost/floor_mainline", Timing::kManual,
      [](benchmark::State& s) { raw_spawn(s, Strategy::kCloneVfork, "mainline"); });
}

}  // namespace stubfuzz::bench
