// Command round trip: Stub::run of one record, and its floor, the same
// kernel operations written plainly: a forked child under the same UML
// filter (stub page = the gadget page) ping-pongs a futex word on a
// MAP_SHARED memfd with the benchmark, running the same syscall each time.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "monitor/batch.h"
#include "plain.h"
#include "profile/profile.h"
#include "stub/record.h"
#include "stub/stub.h"

namespace stubfuzz::bench {

namespace {

// The trap path: getppid from guest code traps; the SIGSYS handler records it.
stub_record trap_record() { return from_outside(SYS_getppid); }
// The pure round trip: an allowlisted futex WAKE (nobody waits) from the page.
stub_record wake_record(const StubLayout& l) {
  return from_stub(SYS_futex, {l.scratch(), FUTEX_WAKE, 1});
}

void harness_command(benchmark::State& s, bool trap) {
  auto stub = Stub::spawn(seed_config("listener"));
  if (!stub) {
    s.SkipWithError(stub.error().message.c_str());
    return;
  }
  const stub_record rec = trap ? trap_record() : wake_record(stub->layout());
  Samples samples(s);
  for (auto _ : s) {
    const auto t0 = Clock::now();
    auto out = run_batch(*stub, {rec});
    samples.add(since_ns(t0));
    if (!out || out->end != BatchEnd::kCompleted || out->results[0].trapped != (trap ? 1u : 0u)) {
      s.SkipWithError("the record did not run as expected");
      break;
    }
  }
  samples.report(s);
}

struct FloorPage {
  uint32_t word;
  uint32_t scratch;
  uint32_t sigsys[4];
};

void trap_op(void*) { syscall(SYS_getppid); }  // outside the gadget page: traps
void wake_op(void* p) {
  bench_gadget(SYS_futex, reinterpret_cast<long>(&static_cast<FloorPage*>(p)->scratch), FUTEX_WAKE,
               1);
}

void floor_command(benchmark::State& s, bool trap) {
  SharedPage page;
  auto* fp = page.as<FloorPage>();
  fp->word = 2;  // booting: the child's first 0 says it is ready
  const auto prog = gadget_filter();
  Child child([&] {
    install_sigsys_counter(fp->sigsys);
    if (install_filter(prog, static_cast<unsigned>(listener_flags())) < 0) _exit(121);
    pong_loop(&fp->word, trap ? trap_op : wake_op, fp);
  });
  wait_idle(&fp->word);
  Samples samples(s);
  for (auto _ : s) {
    const auto t0 = Clock::now();
    ping(&fp->word);
    samples.add(since_ns(t0));
  }
  if (trap && fp->sigsys[0] < s.iterations()) s.SkipWithError("the floor's syscall did not trap");
  samples.report(s);
}

}  // namespace

void register_command_benchmarks() {
  reg("BM_Command/harness_trap", Timing::kReal,
      [](benchmark::State& s) { harness_command(s, true); });
  reg("BM_Command/floor_trap", Timing::kReal, [](benchmark::State& s) { floor_command(s, true); });
  reg("BM_Command/harness_futex_wake", Timing::kReal,
      [](benchmark::State& s) { harness_command(s, false); });
  reg("BM_Command/floor_futex_wake", Timing::kReal,
      [](benchmark::State& s) { floor_command(s, false); });
}

}  // namespace stubfuzz::bench
