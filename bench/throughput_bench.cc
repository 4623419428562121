// BM_FuzzThroughput: programs per second through the executor for the
// class mix of a real campaign (campaign_mix.h), beside a floor model built
// in the same run: Σ share(class) × raw cost(class), where a class's raw cost
// is the kernel work alone, against stub_abi.h with no harness code
// (raw_stub.h): the factory template's fork (CLONE_PARENT|CLONE_PIDFD), the
// child's filter install, pidfd_getfd, the batch's futex round trip, the
// kill and reap, and for a blocked or spinning stub the time until /proc
// shows it asleep in the record's call or running it.
//
// BM_FuzzCeiling: the same raw programs on every CPU at once, one process a
// CPU as a campaign's jobs: the most programs/s this machine's kernel
// sustains for the mix, whatever the executor.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "campaign_mix.h"
#include "fuzz/executor.h"
#include "fuzz/oracle.h"
#include "kernel/facts.h"
#include "kernel/sys.h"
#include "plain.h"
#include "raw_stub.h"

namespace stubfuzz::bench {

namespace {

using fuzz::ProgramClass;

// One program per class, in kProgramClasses' order; each is checked to end
// in its class before the timing.
const char* const kRepresentative[kClassCount] = {
    "outside getpid()\n",                  // trapped only: SIGSYS, the stub is reused
    "stub close(SOCKET)\n",                // executed: a close that closes (a fresh stub next)
    "stub getpid()\n",                     // killed: off the allowlist, from the stub page
    "stub futex(&scratch+64, 0, 0, 0)\n",  // blocked: a futex wait nobody wakes
    "outside spin\n",                      // spun: a jump to itself in .text
};

// Raw samples per class (a fresh stub each but for trapped only).
constexpr int kSamples = 48;
constexpr int kTrapSamples = 256;

// Smooth weighted round robin: every prefix of the sequence keeps the
// shares as closely as whole programs can, and a run is reproducible.
class Schedule {
 public:
  explicit Schedule(const std::array<double, kClassCount>& share) : share_(share) {}
  size_t next() {
    size_t best = 0;
    for (size_t i = 0; i < kClassCount; i++) {
      credit_[i] += share_[i];
      if (credit_[i] > credit_[best]) best = i;
    }
    credit_[best] -= 1;
    return best;
  }

 private:
  std::array<double, kClassCount> share_;
  std::array<double, kClassCount> credit_{};
};

// What /proc shows of the stub's first thread.
std::string proc_line(pid_t pid, const char* file) {
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// Asleep in the record's own call: /proc/<pid>/syscall names it and its
// first argument (the stub's idle wait is a futex on its command word).
bool asleep_in(pid_t pid, const stub_record& r) {
  const std::string line = proc_line(pid, "syscall");
  long nr = -1;
  unsigned long long a0 = 0;
  return sscanf(line.c_str(), "%ld 0x%llx", &nr, &a0) == 2 && nr == static_cast<long>(r.nr) &&
         a0 == r.args[0];
}

// At the spin record: its index set and its status RUNNING (the data page
// alone, as the harness's monitor judges it).
bool spin_reached(const RawStub& st) {
  return __atomic_load_n(&st.data->current, __ATOMIC_ACQUIRE) == 0 &&
         __atomic_load_n(&st.data->results[0].status, __ATOMIC_ACQUIRE) == STUB_RESULT_RUNNING;
}

// The raw stubs: a template spawned against stub_abi.h, its children, and
// one live child for the trapping batch.
class RawFloor {
 public:
  explicit RawFloor(const StubConfig& c) {
    child_.filter = c.filter;
    child_.seccomp_flags = c.seccomp_flags;
    child_.layout = c.layout;
    child_.second_thread = c.second_thread;
    child_.handover = Handover::kAssumeFd1;
    template_ = child_;
    template_.mode = STUB_MODE_TEMPLATE;
    template_.safety_net = c.safety_net;
    template_.second_thread = false;
    template_.handover = Handover::kNone;
  }

  std::string start() {
    if (auto e = spawn_raw(Strategy::kClonePidfd, template_, &template_stub_, nullptr); !e.empty())
      return "the raw template: " + e;
    // At nice 0, as the harness's templates (docs/stub.md): its children's
    // cost is the kernel's work, not their wait for a CPU on a busy machine.
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(template_stub_.pid), 0) < 0)
      return std::string("setpriority(raw template, 0): ") + strerror(errno);
    return fork_raw(template_stub_, child_, &live_);
  }

  // One sample of `cls` with the program's only record `r`: its time, and
  // for blocked and spun the part spent waiting for /proc to show it.
  std::string sample(ProgramClass cls, const stub_record& r, int64_t* ns, int64_t* detect_ns) {
    *detect_ns = 0;
    const auto t0 = Clock::now();
    if (cls == ProgramClass::kTrappedOnly) {
      post_raw(live_, &r, 1);
      if (wait_raw(live_) != RawEnd::kCompleted || !live_.data->results[0].trapped)
        return "the trapping record did not trap and return";
      *ns = since_ns(t0);
      return "";
    }
    RawStub st;
    if (auto e = fork_raw(template_stub_, child_, &st); !e.empty()) return e;
    // As under the harness's quick looks: the thread hands the CPU over at
    // the spin record (stub_abi.h: spin_handoff_us) and the data page shows
    // it; without the handoff a spinner on this CPU held the floor's own
    // wait off until the next tick.
    if (cls == ProgramClass::kSpun) st.data->spin_handoff_us = 1000;
    post_raw(st, &r, 1);
    const auto posted = Clock::now();
    switch (cls) {
      case ProgramClass::kExecuted:
        if (wait_raw(st) != RawEnd::kCompleted || st.data->results[0].trapped)
          return "the executed record did not return";
        break;
      case ProgramClass::kKilled:
        if (wait_raw(st) != RawEnd::kDied) return "the killing record did not kill the stub";
        break;
      default: {
        const auto bound = kernel::paced(std::chrono::milliseconds(1000));
        const auto deadline = posted + bound;
        // Yielding: on a shared CPU the stub must run to get there.
        while (cls == ProgramClass::kBlocked ? !asleep_in(st.pid, r) : !spin_reached(st)) {
          if (Clock::now() > deadline)
            return "the record did not show within " + std::to_string(bound.count()) + " ms";
          if (cls == ProgramClass::kBlocked) {
            sched_yield();
          } else {
            const uint32_t v = __atomic_load_n(&st.data->sync, __ATOMIC_ACQUIRE);
            if (v) (void)kernel::futex_wait(&st.data->sync, v, std::chrono::microseconds(50));
          }
        }
        *detect_ns = since_ns(posted);
      }
    }
    st.end();
    *ns = since_ns(t0);
    return "";
  }

 private:
  RawConfig child_, template_;
  RawStub template_stub_, live_;
};

int64_t quantile(std::vector<int64_t> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

// The floor takes each class's lower quartile: on this busy 2-core VM a
// woken stub often waits for the next tick (4 ms) for a CPU, which is the
// machine's load, not the kernel's work; the median is reported beside it.
constexpr double kFloorQuantile = 0.25;

struct ClassFloor {
  int64_t cost_ns = 0;    // lower quartile
  int64_t detect_ns = 0;  // lower quartile of the /proc wait alone
  int64_t median_ns = 0;
};

// Each class's raw cost from interleaved samples (a class measured alone
// would see the machine's load of its moment only).
std::string measure_floor(const StubConfig& config,
                          const std::array<stub_record, kClassCount>& records,
                          std::array<ClassFloor, kClassCount>* out) {
  RawFloor raw(config);
  if (auto e = raw.start(); !e.empty()) return e;
  std::array<std::vector<int64_t>, kClassCount> cost, detect;
  for (int round = 0; round < kTrapSamples; round++) {
    for (size_t i = 0; i < kClassCount; i++) {
      if (i != 0 && round >= kSamples) continue;
      int64_t ns = 0, det = 0;
      if (auto e = raw.sample(fuzz::kProgramClasses[i], records[i], &ns, &det); !e.empty())
        return std::string("raw ") + fuzz::to_string(fuzz::kProgramClasses[i]) + ": " + e;
      cost[i].push_back(ns);
      detect[i].push_back(det);
    }
  }
  for (size_t i = 0; i < kClassCount; i++)
    (*out)[i] = {quantile(cost[i], kFloorQuantile), quantile(detect[i], kFloorQuantile),
                 quantile(cost[i], 0.5)};
  return "";
}

// "trapped only" -> "trapped_only", for counter names.
std::string counter_name(ProgramClass c) {
  std::string s = fuzz::to_string(c);
  std::replace(s.begin(), s.end(), ' ', '_');
  return s;
}

void fuzz_throughput(benchmark::State& s) {
  auto mix = load_campaign_mix();
  if (!mix) {
    s.SkipWithError(mix.error().message.c_str());
    return;
  }
  const Profile& profile = **find_profile("listener");
  fuzz::Executor executor(profile);
  std::vector<fuzz::Program> programs;
  std::array<stub_record, kClassCount> raw_records{};
  for (size_t i = 0; i < kClassCount; i++) {
    programs.push_back(*fuzz::parse_text(kRepresentative[i]));
    raw_records[i] = fuzz::resolve(programs[i].records[0], executor.layout());
    // Each program must end in its class, or the mix is not the campaign's.
    auto ex = executor.run(programs[i]);
    if (!ex || fuzz::classify(*ex) != fuzz::kProgramClasses[i]) {
      const std::string why =
          ex ? std::string("ended as ") + fuzz::to_string(fuzz::classify(*ex)) : ex.error().message;
      s.SkipWithError(
          ("the " + std::string(fuzz::to_string(fuzz::kProgramClasses[i])) + " program " + why)
              .c_str());
      return;
    }
  }

  Schedule schedule(mix->share);
  std::array<int64_t, kClassCount> ran{}, ran_ns{};
  int64_t misclassified = 0;
  for (auto _ : s) {
    const size_t k = schedule.next();
    const auto t0 = Clock::now();
    auto ex = executor.run(programs[k]);
    if (!ex) {
      s.SkipWithError(ex.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(fuzz::judge(profile, executor.config(), programs[k], *ex));
    ran_ns[k] += since_ns(t0);
    ran[k]++;
    misclassified += fuzz::classify(*ex) != fuzz::kProgramClasses[k];
  }

  // The floor, after the timed loop, from the same run.
  std::array<ClassFloor, kClassCount> floor{};
  if (auto e = measure_floor(executor.config(), raw_records, &floor); !e.empty()) {
    s.SkipWithError(e.c_str());
    return;
  }
  // With the time /proc took to show a blocked or spinning stub, and without.
  double floor_ns = 0, detect_ns = 0;
  for (size_t i = 0; i < kClassCount; i++) {
    floor_ns += mix->share[i] * static_cast<double>(floor[i].cost_ns);
    detect_ns += mix->share[i] * static_cast<double>(floor[i].detect_ns);
  }
  const double iters = static_cast<double>(s.iterations());
  double measured_ns = 0;
  for (int64_t ns : ran_ns) measured_ns += static_cast<double>(ns);
  measured_ns /= iters;

  s.counters["programs_per_s"] = benchmark::Counter(iters, benchmark::Counter::kIsRate);
  s.counters["floor_programs_per_s"] = 1e9 / floor_ns;
  s.counters["floor_us"] = floor_ns / 1e3;
  s.counters["ratio"] = measured_ns / floor_ns;
  s.counters["floor_without_detect_programs_per_s"] = 1e9 / (floor_ns - detect_ns);
  s.counters["ratio_without_detect"] = measured_ns / (floor_ns - detect_ns);
  s.counters["misclassified"] = static_cast<double>(misclassified);
  for (size_t i = 0; i < kClassCount; i++) {
    const std::string n = counter_name(fuzz::kProgramClasses[i]);
    s.counters["share_" + n] = mix->share[i];
    s.counters["raw_" + n + "_us"] = static_cast<double>(floor[i].cost_ns) / 1e3;
    s.counters["raw_" + n + "_p50_us"] = static_cast<double>(floor[i].median_ns) / 1e3;
    if (floor[i].detect_ns)
      s.counters["raw_" + n + "_detect_us"] = static_cast<double>(floor[i].detect_ns) / 1e3;
    if (ran[i]) s.counters["measured_" + n + "_us"] = static_cast<double>(ran_ns[i]) / 1e3 / ran[i];
  }
  s.SetLabel(mix->source);
}

// Programs each thread of a ceiling job runs per iteration.
constexpr int kCeilingBurst = 128;

// One job of BM_FuzzCeiling: a process of its own, as a campaign's job is
// (its stubs are its children, so they do not share a parent's locks with
// the other job's), running `threads` raw floors at once. It answers each
// 'g' on its pipe with one burst, and then a length and "" or what failed;
// 'q' ends it.
class CeilingJob {
 public:
  CeilingJob() = default;
  CeilingJob(const CeilingJob&) = delete;
  CeilingJob& operator=(const CeilingJob&) = delete;
  ~CeilingJob() { stop(); }

  std::string start(const StubConfig& config, const CampaignMix& mix,
                    const std::array<stub_record, kClassCount>& records, int threads) {
    int down[2], up[2];
    if (pipe2(down, O_CLOEXEC) < 0) return std::string("pipe2: ") + strerror(errno);
    // Ours from here, closed by stop() whatever fails.
    to_job_ = down[1];
    if (pipe2(up, O_CLOEXEC) < 0) {
      close(down[0]);
      return std::string("pipe2: ") + strerror(errno);
    }
    from_job_ = up[0];
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
      close(down[1]);
      close(up[0]);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(2);  // the benchmark ended before the prctl
      _exit(serve(down[0], up[1], config, mix, records, threads));
    }
    const int fork_errno = errno;
    close(down[0]);
    close(up[1]);
    if (pid < 0) return std::string("fork: ") + strerror(fork_errno);
    pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd_ < 0) {
      const std::string why = std::string("pidfd_open: ") + strerror(errno);
      kill(pid, SIGKILL);
      (void)waitpid(pid, nullptr, 0);
      return why;
    }
    return reply();  // the templates spawned, or why not
  }

  void go() const { (void)!write(to_job_, "g", 1); }
  // The burst's end: "" or what failed.
  std::string reply() const {
    uint32_t len = 0;
    if (!read_within(&len, sizeof(len))) return "a ceiling job did not answer";
    std::string why(len, '\0');
    if (len && !read_within(why.data(), len)) return "a ceiling job's answer was cut short";
    return why;
  }

 private:
  static int serve(int in, int out, const StubConfig& config, const CampaignMix& mix,
                   const std::array<stub_record, kClassCount>& records, int threads) {
    auto answer = [out](const std::string& why) {
      const auto len = static_cast<uint32_t>(why.size());
      return write(out, &len, sizeof(len)) == sizeof(len) &&
             (!len || write(out, why.data(), len) == static_cast<ssize_t>(len));
    };
    std::vector<std::unique_ptr<RawFloor>> raw;
    std::vector<Schedule> schedules;
    for (int t = 0; t < threads; t++) {
      raw.push_back(std::make_unique<RawFloor>(config));
      if (auto e = raw.back()->start(); !e.empty()) return answer(e) ? 1 : 2;
      schedules.emplace_back(mix.share);
    }
    if (!answer("")) return 2;
    std::mutex failed_mu;
    // Until told to quit: a later job holds a copy of our pipe's write end,
    // so its end of file would come only when that job ends.
    char go;
    while (read(in, &go, 1) == 1 && go == 'g') {
      std::string failed;
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; t++)
        workers.emplace_back([&, t] {
          for (int n = 0; n < kCeilingBurst; n++) {
            const size_t k = schedules[t].next();
            int64_t ns = 0, det = 0;
            if (auto e = raw[t]->sample(fuzz::kProgramClasses[k], records[k], &ns, &det);
                !e.empty()) {
              std::lock_guard lock(failed_mu);
              failed = std::string("raw ") + fuzz::to_string(fuzz::kProgramClasses[k]) + ": " + e;
              return;
            }
          }
        });
      for (auto& w : workers) w.join();
      if (!answer(failed)) return 2;
    }
    return 0;  // the raw stubs end with `raw`
  }

  bool read_within(void* buf, size_t len) const {
    auto* p = static_cast<char*>(buf);
    const auto deadline = Clock::now() + kernel::paced(std::chrono::milliseconds(30000));
    while (len) {
      pollfd pfd{from_job_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0 || poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return false;
      const ssize_t n = read(from_job_, p, len);
      if (n <= 0) return false;
      p += n;
      len -= static_cast<size_t>(n);
    }
    return true;
  }

  // The job ends its raw stubs and exits; one that does not is killed.
  void stop() {
    if (to_job_ >= 0) {
      (void)!write(to_job_, "q", 1);
      close(to_job_);
    }
    if (from_job_ >= 0) close(from_job_);
    if (pidfd_ >= 0) {
      auto ended = kernel::reap(pidfd_, kernel::paced(std::chrono::milliseconds(5000)));
      if (!ended || !*ended) {
        (void)kernel::pidfd_send_signal(pidfd_, SIGKILL);
        (void)kernel::reap(pidfd_, kernel::paced(std::chrono::milliseconds(5000)));
      }
      close(pidfd_);
    }
    to_job_ = from_job_ = pidfd_ = -1;
  }

  int to_job_ = -1, from_job_ = -1, pidfd_ = -1;
};

// BM_FuzzCeiling/threads:T: the floor model's raw programs for the same
// class mix, run at once by one job process per CPU (as `fuzz --jobs`),
// each with T threads and a raw template per thread: what the kernel's work
// alone sustains on every CPU this process may use, with no harness, engine
// or sanitizer. No executor can go faster on this machine;
// BM_FuzzThroughput's floor is one CPU's serial cost.
void fuzz_ceiling(benchmark::State& s) {
  auto mix = load_campaign_mix();
  if (!mix) {
    s.SkipWithError(mix.error().message.c_str());
    return;
  }
  const int threads = static_cast<int>(s.range(0));
  const int jobs = kernel::allowed_cpus();
  StubConfig config;
  std::array<stub_record, kClassCount> records{};
  {
    // The executor's stub configuration; its pool thread ends before the fork.
    fuzz::Executor executor(**find_profile("listener"));
    config = executor.config();
    for (size_t i = 0; i < kClassCount; i++)
      records[i] =
          fuzz::resolve(fuzz::parse_text(kRepresentative[i])->records[0], executor.layout());
  }
  std::vector<std::unique_ptr<CeilingJob>> running;
  for (int j = 0; j < jobs; j++) {
    running.push_back(std::make_unique<CeilingJob>());
    if (auto e = running.back()->start(config, *mix, records, threads); !e.empty()) {
      s.SkipWithError(e.c_str());
      return;
    }
  }
  int64_t programs = 0;
  for (auto _ : s) {
    for (auto& j : running) j->go();
    std::string failed;
    for (auto& j : running)
      if (auto e = j->reply(); !e.empty()) failed = e;
    if (!failed.empty()) {
      s.SkipWithError(failed.c_str());
      return;
    }
    programs += int64_t{jobs} * threads * kCeilingBurst;
  }
  s.counters["programs_per_s"] =
      benchmark::Counter(static_cast<double>(programs), benchmark::Counter::kIsRate);
  s.counters["cpus"] = jobs;
  // The kernel's audit record of every kill is part of the kernel's work here.
  s.counters["kills_audited"] = kernel::seccomp_kills_logged(kernel::seccomp_actions_logged());
  s.SetLabel(mix->source);
}

}  // namespace

void register_throughput_benchmarks() {
  reg("BM_FuzzThroughput", Timing::kReal, fuzz_throughput);
  // One, two and four threads a job: a thread waits while its stub runs, so
  // one a CPU leaves the CPUs idle part of the time (here the most came from
  // four).
  reg("BM_FuzzCeiling", Timing::kReal, fuzz_ceiling)->ArgName("threads")->Arg(1)->Arg(2)->Arg(4);
}

}  // namespace stubfuzz::bench
