// The floors' building blocks: the same kernel operations as the harness,
// written plainly (a forked child, a shared memfd, raw syscalls), plus the
// small pieces every benchmark file shares.
#pragma once

#include <benchmark/benchmark.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "filter/program.h"
#include "profile/profile.h"
#include "stub/stub.h"

extern "C" {
extern char bench_gadget_page[];
long bench_gadget(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0);
extern char bench_gadget_restorer[];
}

namespace stubfuzz::bench {

using Clock = std::chrono::steady_clock;

inline int64_t since_ns(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

// The listener profile's flags and the mainline profile's, from the harness.
uint64_t listener_flags();
uint64_t mainline_flags();

// The UML stub filter with stub_start = bench_gadget_page, for plain children;
// `extra` extends the allowlist (the filter-install floor needs seccomp).
filter::Program gadget_filter(const std::vector<uint32_t>& extra = {});
// `prog` (a UML stub filter) with mmap's ALLOW changed to USER_NOTIF.
filter::Program notify_mmap(filter::Program prog);

// Where every mmap benchmark maps: one fixed page, replaced each time, so a
// stub's address space does not grow with the iterations.
// The seed's path, as UML runs it: no sandbox and no safety net, so that the
// harness and its floor do the same kernel work. BM_Spawn/cost_sandboxed_*
// shows what the sandbox and the net add.
inline StubConfig seed_config(const char* profile, bool sandboxed = false) {
  StubConfig c = (*find_profile(profile))->stub_config();
  if (!sandboxed) {
    c.sandbox.enabled = false;
    c.safety_net.clear();
  }
  return c;
}

inline constexpr uint64_t kMmapTarget = 0x7e0020000000;
struct MmapArgs {
  uint64_t a[6];
};
MmapArgs mmap_args();

// A MAP_SHARED memfd page, as the stub's data pages: futexes on it are shared.
struct SharedPage {
  SharedPage();
  ~SharedPage();
  SharedPage(const SharedPage&) = delete;
  SharedPage& operator=(const SharedPage&) = delete;
  template <class T>
  T* as() {
    return static_cast<T*>(mem);
  }
  void* mem = nullptr;
};

void futex_wait(uint32_t* word, uint32_t expected);
void futex_wake(uint32_t* word);

// One side of the monitor/stub ping-pong on `word`, like Stub::run: set it,
// wake, wait until the other side writes 0.
void ping(uint32_t* word);
// The waiting half of ping: until the other side writes 0 (set the word
// non-zero before forking, and wait for the child's first 0 = ready).
void wait_idle(uint32_t* word);
// The other side's loop, through the gadget (the child runs under a filter):
// wait for work, run `op`, write 0, wake. Never returns.
[[noreturn]] void pong_loop(uint32_t* word, void (*op)(void*), void* arg);

// A forked child running `body`; killed (SIGKILL by pidfd) and reaped by
// end() or the destructor.
class Child {
 public:
  explicit Child(const std::function<void()>& body);
  ~Child() { end(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_; }
  void end();
  // Waits for the child to exit by itself; its waitid status.
  int wait_exit();

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
};

// In a child: no_new_privs, then `prog` with `flags`; returns seccomp()'s value.
long install_filter(const filter::Program& prog, unsigned flags);
// In a child: a SIGSYS handler that returns through the gadget page's
// restorer (the filter traps rt_sigreturn from anywhere else).
void install_sigsys_counter(uint32_t* counter);

// Per-iteration latencies, reported as p50/p90 counters (nanoseconds).
class Samples {
 public:
  explicit Samples(benchmark::State& s) {
    v_.reserve(s.max_iterations < 1000000 ? s.max_iterations : 1000000);
  }
  void add(int64_t ns) { v_.push_back(ns); }
  void report(benchmark::State& s, const std::string& prefix = "");

 private:
  std::vector<int64_t> v_;
};

// Answers every notification on a listener with CONTINUE from its own thread,
// as a monitor does while Stub::run blocks. `answer` receives and sends once;
// it returns false when interrupted. Stopped by a signal that breaks the
// blocking NOTIF_RECV.
class Answerer {
 public:
  explicit Answerer(std::function<bool()> answer);
  ~Answerer() { stop(); }
  void stop();
  uint64_t answered() const { return answered_.load(); }

 private:
  std::function<bool()> answer_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> answered_{0};
  std::thread thread_;
};

// One notification answered with CONTINUE through raw ioctls (the floor).
bool answer_raw(int listener_fd);

double p90_of(const std::vector<double>& v);
enum class Timing { kManual, kReal };
// Registers `fn` as `name` with the suite's common settings: microseconds, a
// p90 aggregate next to mean/median/stddev, manual or real time.
template <class Fn>
benchmark::internal::Benchmark* reg(const std::string& name, Timing t, Fn&& fn) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn));
  b->Unit(benchmark::kMicrosecond)->ComputeStatistics("p90", p90_of);
  return t == Timing::kManual ? b->UseManualTime() : b->UseRealTime();
}

// Spawn phases (setup, clone/exec, pidfd_open, ready, pidfd_getfd) summed
// over the iterations, reported as per-iteration counters.
struct PhaseSums {
  int64_t ns[5] = {};
  void add(const SpawnPhases& p);
  void report(benchmark::State& s) const;
};

}  // namespace stubfuzz::bench
