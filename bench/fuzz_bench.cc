// Fuzz throughput: programs per second through the executor (sandboxed
// stubs from the pool, the oracle on every record), for a fixed mix, and the
// pool's time to hand out a ready stub. The floor is the command round trip
// (BM_Command/harness_wake): a program can not be cheaper than one batch.
#include <optional>
#include <string>

#include "fuzz/executor.h"
#include "fuzz/oracle.h"
#include "plain.h"
#include "stub/stub_pool.h"

namespace stubfuzz::bench {

namespace {

// Programs that only trap reuse their stub (reset); programs whose calls
// change the stub or kill it need a fresh one.
const char* const kMix[] = {
    "outside getpid()\noutside close(LISTENER)\nat(ALIAS+8) ioctl(LISTENER, 0)\n",
    "stub close(SOCKET)\n",
    "stub getpid()\n",
    "outside i386 getpid()\nat(ABOVE) dup2(SOCKET, LISTENER)\n",
};

// `expect`: the class every program must end in, or the benchmark measures
// something else (a blocked program that returned is cheap) and says so.
void fuzz_programs(benchmark::State& s, std::vector<const char*> texts,
                   std::optional<fuzz::ProgramClass> expect = {}) {
  const Profile& profile = **find_profile("listener");
  fuzz::Executor executor(profile);
  std::vector<fuzz::Program> programs;
  for (const char* t : texts) programs.push_back(*fuzz::parse_text(t));
  size_t i = 0;
  for (auto _ : s) {
    const fuzz::Program& p = programs[i++ % programs.size()];
    auto ex = executor.run(p);
    if (!ex) {
      s.SkipWithError(ex.error().message.c_str());
      break;
    }
    if (const auto c = fuzz::classify(*ex); expect && c != *expect) {
      s.SkipWithError((std::string("the program ended ") + fuzz::to_string(c) + ", not " +
                       fuzz::to_string(*expect))
                          .c_str());
      break;
    }
    benchmark::DoNotOptimize(fuzz::judge(profile, executor.config(), p, *ex));
  }
  s.counters["programs_per_s"] =
      benchmark::Counter(static_cast<double>(s.iterations()), benchmark::Counter::kIsRate);
}

void pool_take(benchmark::State& s) {
  StubPool pool((*find_profile("listener"))->stub_config());
  Samples samples(s);
  for (auto _ : s) {
    const auto t0 = Clock::now();
    auto stub = pool.take();
    samples.add(since_ns(t0));
    if (!stub) {
      s.SkipWithError(stub.error().message.c_str());
      break;
    }
    pool.retire(std::move(*stub));
  }
  samples.report(s);
}

}  // namespace

void register_fuzz_benchmarks() {
  reg("BM_Fuzz/mix", Timing::kReal, [](benchmark::State& s) {
    fuzz_programs(s, {std::begin(kMix), std::end(kMix)});
  });
  reg("BM_Fuzz/trap_only", Timing::kReal, [](benchmark::State& s) {
    fuzz_programs(s, {kMix[0], kMix[3]});
  });
  reg("BM_Fuzz/fresh_stub_each", Timing::kReal, [](benchmark::State& s) {
    fuzz_programs(s, {kMix[1], kMix[2]});
  });
  // A program whose executed call leaves no trace: its stub is reset and
  // reused (stub/traceless.h), against fresh_stub_each.
  reg("BM_Fuzz/reset_each", Timing::kReal, [](benchmark::State& s) {
    fuzz_programs(s, {"stub futex(&scratch, 1, 1)\n"}, fuzz::ProgramClass::kExecuted);
  });
  // A program whose record blocks for good (a futex wait nobody wakes): the
  // stub is recognised as blocked from /proc, killed and replaced; the floor
  // beside it is BM_Fuzz/fresh_stub_each, a program that also uses up its stub.
  reg("BM_Fuzz/blocked", Timing::kReal, [](benchmark::State& s) {
    fuzz_programs(s, {"stub futex(&scratch+64, 0, 0, 0)\n"}, fuzz::ProgramClass::kBlocked);
  });
  // The same wait with a timeout: the data page's first 16 bytes, read as a
  // timespec, are {STUB_STATE_READY, the listener fd} = 1 s + 1 ns, longer
  // than the stall bound, and lie where only a record could change them, so
  // the monitor reads the timeout and calls it blocked as soon as the thread
  // sleeps (monitor/batch.cc). Before, it waited out the two stall windows.
  reg("BM_Fuzz/blocked_timed", Timing::kReal, [](benchmark::State& s) {
    fuzz_programs(s, {"stub futex(&scratch+64, 0, 0, STUB+0x1000)\n"},
                  fuzz::ProgramClass::kBlocked);
  });
  // A program that spins in guest code: recognised from the record it runs.
  reg("BM_Fuzz/spin", Timing::kReal,
      [](benchmark::State& s) { fuzz_programs(s, {"outside spin\n"}, fuzz::ProgramClass::kSpun); });
  reg("BM_Fuzz/spin_after_i386", Timing::kReal,
      [](benchmark::State& s) { fuzz_programs(s, {"outside i386 getpid()\nt2 stub spin\n"}); });
  reg("BM_Fuzz/pool_take", Timing::kReal, pool_take);
}

}  // namespace stubfuzz::bench
