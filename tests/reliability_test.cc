// Faults the harness must survive: a stub killed from outside, no fds left,
// a stub that blocks in every way its allowlist allows, a harness killed
// mid-run. Each ends as a clear report within a bound, and nothing leaks.
#include <dirent.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "fuzz/executor.h"
#include "kernel/facts.h"
#include "monitor/batch.h"
#include "monitor/monitor.h"
#include "stub/record.h"
#include "stub/stub_pool.h"
#include "test_support.h"

namespace stubfuzz {
namespace {

using std::chrono::milliseconds;
using testing_support::LeakFree;
using testing_support::listener_config;
using Clock = std::chrono::steady_clock;

class StubFaults : public LeakFree {};

TEST_F(StubFaults, AStubKilledFromOutsideMidBatchIsReportedAsDiedAndLeavesNothing) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::thread killer([pidfd = s->pidfd()] {
    std::this_thread::sleep_for(milliseconds(100));
    (void)kernel::pidfd_send_signal(pidfd, SIGKILL);
  });
  const auto t0 = Clock::now();
  // Blocks until the kill: a futex wait nobody wakes, bound far away.
  auto o = run_batch(*s, {from_stub(SYS_futex, {s->layout().scratch(), FUTEX_WAIT, 0, 0})},
                     milliseconds(10000));
  killer.join();
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->end, BatchEnd::kStubDied);
  EXPECT_EQ(o->results[0].status, STUB_RESULT_RUNNING);
  ASSERT_TRUE(o->exit.has_value());
  EXPECT_TRUE(o->exit->killed_by(SIGKILL));
  EXPECT_LT(Clock::now() - t0, kernel::paced(milliseconds(2000)))
      << "the robust futex reports the death at once";
  EXPECT_FALSE(s->usable());
}

// Runs in a child process (its own RLIMIT_NOFILE): one line on stderr per
// problem, exit 0 when there is none.
[[noreturn]] void spawn_at_every_fd_limit_then_recover() {
  const StubConfig config = listener_config();
  int problems = 0;
  auto problem = [&](const std::string& what) {
    fprintf(stderr, "%s\n", what.c_str());
    problems++;
  };
  // The process-wide pieces (image memfd, sandbox namespaces) come first,
  // as in any long-running harness; what is tested is each spawn's own fds.
  if (auto p = Stub::prepare(config); !p) problem("prepare: " + p.error().message);
  rlimit original{};
  getrlimit(RLIMIT_NOFILE, &original);
  const int lowest_free = dup(0);
  close(lowest_free);
  const int fds_before = count_resources().fds;
  bool saw_emfile = false, saw_success = false;
  // From no free fd at all up to enough: every step of spawn that opens an
  // fd fails in turn, and each failure must be a clear, leak-free error.
  for (int extra = 0; extra < 64 && !saw_success; extra++) {
    rlimit tight{static_cast<rlim_t>(lowest_free + extra), original.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &tight) < 0) problem("setrlimit failed");
    {
      auto s = Stub::spawn(config);
      if (s.ok()) {
        saw_success = true;
      } else {
        const Error& e = s.error();
        if (e.err == EMFILE) saw_emfile = true;
        if (e.message.find("EMFILE") == std::string::npos ||
            e.message.find(':') == std::string::npos)
          problem("with " + std::to_string(extra) + " free fds: unclear error '" + e.message + "'");
      }
    }
    setrlimit(RLIMIT_NOFILE, &original);
    if (count_resources().fds != fds_before)
      problem("with " + std::to_string(extra) + " free fds: spawn leaked fds");
  }
  if (!saw_emfile) problem("no spawn failed with EMFILE");
  if (!saw_success) problem("no spawn succeeded once fds were free");
  auto again = Stub::spawn(config);
  if (!again.ok()) problem("after the limit was restored: " + again.error().message);
  fflush(stderr);
  _exit(problems ? 1 : 0);
}

TEST_F(StubFaults, SpawnOutOfFdsFailsWithEmfileNamingTheCallAndRecoversOnceFdsAreFree) {
  EXPECT_EXIT(spawn_at_every_fd_limit_then_recover(), testing::ExitedWithCode(0), "");
}

uint64_t data_word(const Stub& s, size_t offset) { return s.layout().data_start() + offset; }

// Every record that blocks, from the stub page, under the listener profile's
// allowlist (futex, recvmsg, close, mmap, munmap, arch_prctl, rt_sigreturn).
TEST_F(StubFaults, ARecordBlockedInEveryWayTheAllowlistAllowsIsEndedAtTheBound) {
  const milliseconds bound(200);
  struct Case {
    const char* name;
    std::function<stub_record(Stub&)> record;
  };
  const uint64_t kTenSeconds = 0;  // scratch+0 holds {10, 0} as a timespec
  const Case cases[] = {
      {"futex wait on a zero word",
       [](Stub& s) {
         return from_stub(SYS_futex, {s.layout().scratch() + 64, FUTEX_WAIT, 0, 0});
       }},
      {"futex wait_bitset, no timeout",
       [](Stub& s) {
         return from_stub(SYS_futex, {s.layout().scratch() + 64, FUTEX_WAIT_BITSET, 0, 0, 0, ~0u});
       }},
      {"futex wait with a 10 s timeout",
       [&](Stub& s) {
         return from_stub(SYS_futex, {s.layout().scratch() + 64, FUTEX_WAIT, 0,
                                      s.layout().scratch() + kTenSeconds});
       }},
      {"futex wait on the alive word",
       [](Stub& s) {
         return from_stub(
             SYS_futex, {data_word(s, offsetof(stub_data, alive)), FUTEX_WAIT, s.data().alive, 0});
       }},
      {"futex wait on the sync word the monitor waits on",
       [](Stub& s) {
         return from_stub(SYS_futex, {data_word(s, offsetof(stub_data, sync)), FUTEX_WAIT,
                                      s.data().stub_tid | FUTEX_WAITERS, 0});
       }},
  };
  for (const Case& c : cases) {
    auto s = Stub::spawn(listener_config());
    ASSERT_TRUE(s.ok()) << s.error().message;
    const timespec ten{10, 0};
    ASSERT_TRUE(s->write_scratch({reinterpret_cast<const uint8_t*>(&ten), sizeof(ten)}).ok());
    const auto t0 = Clock::now();
    auto o = run_batch(*s, {c.record(*s)}, bound);
    const auto took = Clock::now() - t0;
    ASSERT_TRUE(o.ok()) << c.name << ": " << o.error().message;
    EXPECT_EQ(o->end, BatchEnd::kTimedOut) << c.name;
    EXPECT_EQ(o->results[0].status, STUB_RESULT_RUNNING) << c.name;
    ASSERT_TRUE(o->exit.has_value()) << c.name;
    EXPECT_TRUE(o->exit->killed_by(SIGKILL)) << c.name;
    // The harness's bounds follow the machine's pace (kernel/facts.h).
    EXPECT_LT(took, kernel::paced(bound + milliseconds(1000))) << c.name;
  }
}

TEST_F(StubFaults, RecvmsgOnTheControlSocketDoesNotBlockEvenWithMsgWaitall) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto o = run_batch(*s, {from_stub(SYS_recvmsg, {0, s->layout().scratch(), MSG_WAITALL})},
                     milliseconds(500));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->end, BatchEnd::kCompleted);
}

TEST_F(StubFaults, TheExecutorReportsABlockingProgramAsBlockedAndGoesOn) {
  const Profile& listener = **find_profile("listener");
  fuzz::Executor executor(listener, milliseconds(100));
  fuzz::Program blocking;
  fuzz::Record r;
  r.nr = SYS_futex;
  r.args[0] = {fuzz::ArgKind::kScratch, 64};
  r.args[1] = {fuzz::ArgKind::kLiteral, FUTEX_WAIT};
  blocking.records.push_back(r);
  auto ex = executor.run(blocking);
  ASSERT_TRUE(ex.ok()) << ex.error().message;
  EXPECT_EQ(ex->records[0].kind, fuzz::Observed::kBlocked);
  fuzz::Program trap;
  fuzz::Record getpid;
  getpid.site.kind = fuzz::SiteKind::kOutside;
  getpid.nr = SYS_getpid;
  trap.records.push_back(getpid);
  auto next = executor.run(trap);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->records[0].kind, fuzz::Observed::kTrapped);
}

// Under the harness's stall bound the monitor looks at /proc early, and ends
// a record only when it sleeps for good: a futex wait with a 5 ms timeout
// returns ETIMEDOUT, one without a timeout is blocked.
TEST_F(StubFaults, AQuickLookEndsOnlyAWaitWithoutATimeout) {
  Monitor monitor(MonitorRules{}, milliseconds(15));
  for (int i = 0; i < 5; i++) {
    auto s = Stub::spawn(listener_config());
    ASSERT_TRUE(s.ok()) << s.error().message;
    const timespec five_ms{0, 5000000};
    ASSERT_TRUE(
        s->write_scratch({reinterpret_cast<const uint8_t*>(&five_ms), sizeof(five_ms)}).ok());
    const stub_record timed =
        from_stub(SYS_futex, {s->layout().scratch() + 64, FUTEX_WAIT, 0, s->layout().scratch()});
    auto o = monitor.run(*s, {&timed, 1}, {}, milliseconds(1000));
    ASSERT_TRUE(o.ok()) << o.error().message;
    EXPECT_EQ(o->outcome.end, BatchEnd::kCompleted) << to_string(o->outcome.end);
    EXPECT_EQ(o->outcome.results[0].ret, -ETIMEDOUT);
    EXPECT_FALSE(o->outcome.asleep);
    const stub_record forever =
        from_stub(SYS_futex, {s->layout().scratch() + 64, FUTEX_WAIT, 0, 0});
    o = monitor.run(*s, {&forever, 1}, {}, milliseconds(1000));
    ASSERT_TRUE(o.ok()) << o.error().message;
    EXPECT_EQ(o->outcome.end, BatchEnd::kTimedOut) << to_string(o->outcome.end);
    EXPECT_TRUE(o->outcome.asleep) << "ended by the bound, not seen asleep";
  }
}

// The kernel takes futex's op as an int, and so must the quick look: a wait
// whose op has bits set above the int was once left to the stall bound.
TEST_F(StubFaults, AQuickLookReadsTheFutexOpAsTheKernelDoes) {
  Monitor monitor(MonitorRules{}, milliseconds(15));
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  const stub_record wait =
      from_stub(SYS_futex, {s->layout().scratch() + 64, (uint64_t{1} << 56) | FUTEX_WAIT, 0, 0});
  auto o = monitor.run(*s, {&wait, 1}, {}, milliseconds(1000));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->outcome.end, BatchEnd::kTimedOut) << to_string(o->outcome.end);
  EXPECT_TRUE(o->outcome.asleep) << "ended by the bound, not seen asleep";
}

// The first thread's record index stays on its last record after its batch:
// an i386 record there once hid the second thread's sleep from the look.
TEST_F(StubFaults, AFinishedI386RecordDoesNotHideTheSecondThreadsSleep) {
  if (!kernel::facts().i386_abi) GTEST_SKIP() << "this kernel has no i386 ABI";
  StubConfig c = listener_config();
  c.second_thread = true;
  Monitor monitor(MonitorRules{}, milliseconds(15));
  auto s = Stub::spawn(c);
  ASSERT_TRUE(s.ok()) << s.error().message;
  stub_record wait = from_stub(SYS_futex, {s->layout().scratch() + 64, FUTEX_WAIT, 0, 0});
  wait.thread = 1;
  const stub_record batch[] = {make_record(Origin::kOutside, Abi::kI386, 20 /* getpid */, {}),
                               wait};
  auto o = monitor.run(*s, batch, {}, milliseconds(1000));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->outcome.results[0].status, STUB_RESULT_DONE);
  EXPECT_EQ(o->outcome.end, BatchEnd::kTimedOut) << to_string(o->outcome.end);
  EXPECT_TRUE(o->outcome.asleep) << "ended by the bound, not seen asleep";
}

// A timed sleep is blocked at once when it would outlast the stall bound and
// its timeout lies where no record can have changed it since the kernel read
// it (here: a later record's arguments, on the data page). A short one
// returns; a long one in the scratch buffer, which records write, is left to
// the bound.
TEST_F(StubFaults, ATimedSleepIsSeenAsleepOnlyWhenItsTimeoutIsLongAndKnown) {
  Monitor monitor(MonitorRules{}, milliseconds(15));
  const auto run = [&](uint64_t sec, uint64_t nsec, bool in_scratch) {
    auto s = Stub::spawn(listener_config());
    if (!s.ok()) {
      ADD_FAILURE() << s.error().message;
      return BatchOutcome{};
    }
    const timespec in_scratch_ts{static_cast<time_t>(sec), static_cast<long>(nsec)};
    EXPECT_TRUE(
        s->write_scratch({reinterpret_cast<const uint8_t*>(&in_scratch_ts), sizeof(timespec)})
            .ok());
    const uint64_t second_args = s->layout().data_start() + offsetof(stub_data, records) +
                                 sizeof(stub_record) + offsetof(stub_record, args);
    const stub_record batch[] = {
        from_stub(SYS_futex, {s->layout().scratch() + 64, FUTEX_WAIT, 0,
                              in_scratch ? s->layout().scratch() : second_args}),
        from_outside(SYS_getpid, {sec, nsec})};
    auto o = monitor.run(*s, batch, {}, milliseconds(2000));
    EXPECT_TRUE(o.ok()) << o.error().message;
    return o.ok() ? o->outcome : BatchOutcome{};
  };
  const BatchOutcome long_known = run(10, 0, false);
  EXPECT_EQ(long_known.end, BatchEnd::kTimedOut) << to_string(long_known.end);
  EXPECT_TRUE(long_known.asleep) << "ended by the bound, not seen asleep";
  // The kernel clamps it; the monitor must not overflow on it either.
  const BatchOutcome longest_known = run(INT64_MAX, 999999999, false);
  EXPECT_EQ(longest_known.end, BatchEnd::kTimedOut) << to_string(longest_known.end);
  EXPECT_TRUE(longest_known.asleep) << "ended by the bound, not seen asleep";
  const BatchOutcome short_known = run(0, 1000000, false);
  EXPECT_EQ(short_known.end, BatchEnd::kCompleted) << to_string(short_known.end);
  EXPECT_EQ(short_known.results[0].ret, -ETIMEDOUT);
  const BatchOutcome long_in_scratch = run(10, 0, true);
  EXPECT_EQ(long_in_scratch.end, BatchEnd::kTimedOut) << to_string(long_in_scratch.end);
  EXPECT_FALSE(long_in_scratch.asleep) << "trusted a timeout that records can rewrite";
}

// A timeout on the data page is trusted only while no record of the other
// thread has run: here the second thread runs while the first waits in a
// notified mmap that the monitor holds, so the first thread's long timed
// wait after it is left to the bound. Moved to the first thread, the same
// record leaves the timeout trusted.
TEST_F(StubFaults, ATimeoutOnTheDataPageIsNotTrustedOnceTheOtherThreadHasRun) {
  const Profile& drain = **find_profile("notify-drain");
  StubConfig c = drain.stub_config();
  c.second_thread = true;
  Monitor monitor(drain.monitor, milliseconds(15));
  const auto run = [&](uint32_t getpid_thread) {
    auto s = Stub::spawn(c);
    if (!s.ok()) {
      ADD_FAILURE() << s.error().message;
      return BatchOutcome{};
    }
    // The getpid record's arguments are the wait's timespec: 10 s.
    const uint64_t timeout = s->layout().data_start() + offsetof(stub_data, records) +
                             sizeof(stub_record) + offsetof(stub_record, args);
    stub_record getpid = from_outside(SYS_getpid, {10, 0});
    getpid.thread = getpid_thread;
    const stub_record batch[] = {
        from_stub(SYS_mmap, {0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0}), getpid,
        from_stub(SYS_futex, {s->layout().scratch() + 64, FUTEX_WAIT, 0, timeout})};
    auto o = monitor.run(*s, batch, {}, milliseconds(2000));
    EXPECT_TRUE(o.ok()) << o.error().message;
    return o.ok() ? o->outcome : BatchOutcome{};
  };
  const BatchOutcome after_other = run(1);
  EXPECT_EQ(after_other.results[1].status, STUB_RESULT_DONE) << "the second thread did not run";
  EXPECT_EQ(after_other.end, BatchEnd::kTimedOut) << to_string(after_other.end);
  EXPECT_FALSE(after_other.asleep) << "trusted a timeout the other thread could have rewritten";
  const BatchOutcome alone = run(0);
  EXPECT_EQ(alone.results[1].status, STUB_RESULT_DONE);
  EXPECT_EQ(alone.end, BatchEnd::kTimedOut) << to_string(alone.end);
  EXPECT_TRUE(alone.asleep) << "ended by the bound, not seen asleep";
}

// Under a filter that lets ptrace through (and no safety net), the stub can
// make the monitor its tracer; its ptrace stops must not pass for its end.
TEST_F(StubFaults, AStubThatMadeTheMonitorItsTracerIsStillKilledAndReaped) {
  StubConfig c = listener_config();
  c.filter = filter::Builder().ret(SECCOMP_RET_ALLOW).build();
  c.seccomp_flags = 0;
  c.safety_net = {};
  auto s = Stub::spawn(c);
  ASSERT_TRUE(s.ok()) << s.error().message;
  // SIGUSR1 to itself: a traced process stops for its tracer instead.
  auto o =
      run_batch(*s, {from_stub(SYS_ptrace, {PTRACE_TRACEME}), from_stub(SYS_kill, {1, SIGUSR1})},
                milliseconds(300));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->end, BatchEnd::kTimedOut);
  EXPECT_EQ(o->results[0].ret, 0);
  ASSERT_TRUE(o->exit.has_value());
  EXPECT_TRUE(o->exit->killed_by(SIGKILL)) << kernel::describe(*o->exit);
}

// ---------------------------------------------------------------------------
// The harness killed mid-run.

std::set<pid_t> children_of(pid_t pid) {
  std::set<pid_t> out;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(tasks.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream in(tasks + "/" + e->d_name + "/children");
      for (pid_t c; in >> c;) out.insert(c);
    }
    closedir(d);
  }
  return out;
}

// A harness with a pool of stubs, one idle in hand and one mid-batch; says
// "ready" on `ready_fd` and waits to be killed.
[[noreturn]] void harness_with_stubs(int ready_fd) {
  StubPool pool(listener_config(), 3);
  auto idle = pool.take();
  auto busy = pool.take();
  if (!idle.ok() || !busy.ok()) _exit(3);
  std::thread mid_batch([&] {
    (void)run_batch(*busy, {from_stub(SYS_futex, {busy->layout().scratch(), FUTEX_WAIT, 0, 0})},
                    milliseconds(60000));
  });
  std::this_thread::sleep_for(milliseconds(300));  // the pool refills meanwhile
  const char ready = 1;
  (void)!write(ready_fd, &ready, 1);
  for (;;) pause();
}

// Runs in a child process that is a subreaper: the harness's stubs become its
// children when the harness dies. Exit 0 when every stub died of SIGKILL
// within the bound.
[[noreturn]] void kill_harness_and_count_survivors() {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  int p[2];
  if (pipe(p) < 0) _exit(2);
  const pid_t harness = fork();
  if (harness == 0) {
    close(p[0]);
    harness_with_stubs(p[1]);
  }
  close(p[1]);
  char ready = 0;
  if (read(p[0], &ready, 1) != 1) {
    fprintf(stderr, "the harness did not get ready\n");
    _exit(1);
  }
  std::set<pid_t> stubs = children_of(harness);
  if (stubs.size() < 3) {
    fprintf(stderr, "expected at least 3 stubs, saw %zu\n", stubs.size());
    _exit(1);
  }
  kill(harness, SIGKILL);
  waitpid(harness, nullptr, 0);
  const auto deadline = Clock::now() + milliseconds(3000);
  int problems = 0;
  while (!stubs.empty() && Clock::now() < deadline) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      std::this_thread::sleep_for(milliseconds(10));
      continue;
    }
    if (stubs.erase(pid) && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      fprintf(stderr, "stub %d ended with status 0x%x, not SIGKILL\n", pid, status);
      problems++;
    }
  }
  for (pid_t survivor : stubs) {
    fprintf(stderr, "stub %d survived its harness\n", survivor);
    kill(survivor, SIGKILL);  // ours (reparented to us): clean up
    waitpid(survivor, nullptr, 0);
    problems++;
  }
  fflush(stderr);
  _exit(problems ? 1 : 0);
}

TEST_F(StubFaults, KillingTheHarnessMidRunLeavesNoStubAlive) {
  EXPECT_EXIT(kill_harness_and_count_survivors(), testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace stubfuzz
