// Spawn → listener in hand: the harness's Stub::spawn (both methods), the
// same kernel operations written plainly against stub_abi.h (the floors),
// and the other ways to start a stub. Kill and reap run outside the timing.
#include <thread>

#include "plain.h"
#include "profile/profile.h"
#include "raw_stub.h"
#include "stub/factory.h"
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

void raw_spawn(benchmark::State& s, Strategy strategy, const char* profile_name) {
  const Profile& p = profile(profile_name);
  RawConfig c;
  c.filter = p.make_filter(c.layout);
  c.seccomp_flags = p.seccomp_flags;
  c.handover = p.wants_listener() ? Handover::kAssumeFd1 : Handover::kNone;
  SpawnPhases ph;
  PhaseSums sums;
  Samples samples(s);
  for (auto _ : s) {
    RawStub stub;
    const auto t0 = Clock::now();
    const std::string err = spawn_raw(strategy, c, &stub, &ph);
    const int64_t ns = since_ns(t0);
    if (!err.empty()) {
      s.SkipWithError(err.c_str());
      break;
    }
    s.SetIterationTime(static_cast<double>(ns) * 1e-9);
    samples.add(ns);
    sums.add(ph);
    stub.end();
  }
  sums.report(s);
  samples.report(s);
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
