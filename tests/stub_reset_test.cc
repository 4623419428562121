// Reset instead of respawn (Stub::reset, stub/traceless.h): a stub that ran
// a program whose executed calls left no trace, reset, must be a fresh
// stub as the kernel and the data page show it: the portrait of
// stub_factory_test, plus its threads at rest (the call each sleeps in,
// with its stack and instruction pointers), its arenas' bytes and its data
// page. Real stubs from the factory, every profile, real kernel.
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <thread>

#include "fuzz/executor.h"
#include "fuzz/program.h"
#include "kernel/facts.h"
#include "monitor/batch.h"
#include "monitor/monitor.h"
#include "stub/factory.h"
#include "stub/record.h"
#include "stub/stub_pool.h"
#include "stub/traceless.h"
#include "stub_portrait.h"
#include "test_support.h"

namespace stubfuzz {
namespace {

using testing_support::LeakFree;

// Each thread's /proc/<pid>/task/<tid>/syscall (number, arguments, stack
// and instruction pointers), in tid order: what its registers are at rest.
std::string threads_at_rest(pid_t pid) {
  std::vector<pid_t> tids;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task"))
    tids.push_back(std::stoi(e.path().filename()));
  std::sort(tids.begin(), tids.end());
  std::string out;
  for (pid_t t : tids)
    out += testing_support::slurp("/proc/" + std::to_string(pid) + "/task/" + std::to_string(t) +
                                  "/syscall");
  return out;
}

// The arenas' bytes, read through /proc/<pid>/mem: "N x 0xcc" runs and
// anything else by offset.
std::string arena_bytes(const Stub& s) {
  const int fd = open(("/proc/" + std::to_string(s.pid()) + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string("(/proc/pid/mem: ") + strerror(errno) + ")";
  std::string out;
  for (uint32_t a = 0; a < s.data().narenas; a++) {
    const stub_arena& arena = s.data().arenas[a];
    std::vector<uint8_t> bytes(arena.len);
    if (pread(fd, bytes.data(), bytes.size(), static_cast<off_t>(arena.addr)) !=
        static_cast<ssize_t>(bytes.size())) {
      out += "arena " + std::to_string(a) + ": unreadable\n";
      continue;
    }
    out += "arena " + std::to_string(a) + ":";
    for (size_t i = 0; i < bytes.size(); i++)
      if (bytes[i] != 0xcc) out += " +" + std::to_string(i) + "=" + std::to_string(bytes[i]);
    out += "\n";
  }
  close(fd);
  return out;
}

// The data page, but for the words that hold the stub's own tids.
std::string data_page(const Stub& s) {
  stub_data d;
  std::memcpy(&d, &s.data(), sizeof(d));
  d.stub_tid = d.alive = d.thread2_tid = 0;
  std::string out;
  const auto* bytes = reinterpret_cast<const uint8_t*>(&d);
  for (size_t i = 0; i < sizeof(d); i++)
    if (bytes[i]) out += std::to_string(i) + "=" + std::to_string(bytes[i]) + " ";
  return out;
}

// A thread that has just finished its batch is still on its way to its
// futex wait: wait (bounded) until every one sleeps.
std::string settled_threads(pid_t pid) {
  std::string t = threads_at_rest(pid);
  const auto deadline = std::chrono::steady_clock::now() + kernel::paced(std::chrono::seconds(2));
  while (t.find("running") != std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    t = threads_at_rest(pid);
  }
  return t;
}

std::map<std::string, std::string> full_portrait(const Stub& s) {
  auto p = testing_support::portrait(s);
  p["threads at rest"] = settled_threads(s.pid());
  p["arenas"] = arena_bytes(s);
  p["data page"] = data_page(s);
  return p;
}

// The stubs the executor uses: pooled, with a second thread where TSYNC.
StubConfig fuzzer_config(const Profile& profile) {
  StubConfig c = profile.stub_config({}, /*pooled=*/true);
  c.second_thread = c.seccomp_flags & SECCOMP_FILTER_FLAG_TSYNC;
  return c;
}

// Records that write the arenas, run on both threads, trap, are answered
// and execute traceless calls; the ones this profile's stub survives, each
// tried alone on a stub of its own first.
std::vector<stub_record> surviving_program(StubPool& factory, Monitor& monitor,
                                           const StubConfig& c) {
  const uint64_t scratch = c.layout.scratch();
  std::vector<stub_record> candidates = {
      from_stub(SYS_getpid),
      from_stub(SYS_futex, {scratch, FUTEX_WAKE, 1}),
      from_stub(SYS_time, {0}),
      from_stub(SYS_personality, {0xffffffff}),
      from_stub(SYS_close, {99}),
      from_stub(SYS_munmap, {1, 4096}),
      from_stub(SYS_arch_prctl, {0x1011}),
      from_outside(SYS_getpid),
      from_outside(SYS_close, {1}),
      make_record(Origin::kOutside, Abi::kI386, 20 /* getpid */, {}),
      at_address(c.layout.page_below() + 16, SYS_getpid),
      at_address(c.layout.page_above() + 100, SYS_getuid),
      at_address(c.layout.alias_page() + 200, SYS_gettid),
  };
  if (c.second_thread) {
    stub_record t2 = from_stub(SYS_getpid);
    t2.thread = 1;
    candidates.push_back(t2);
    stub_record t2_outside = at_address(c.layout.page_above() + 300, SYS_getppid);
    t2_outside.thread = 1;
    candidates.push_back(t2_outside);
  }
  std::vector<stub_record> kept;
  for (const stub_record& r : candidates) {
    auto probe = factory.take();
    if (!probe) {
      ADD_FAILURE() << probe.error().message;
      return {};
    }
    auto m = monitor.run(*probe, {&r, 1}, {}, std::chrono::milliseconds(2000));
    if (m && m->outcome.end == BatchEnd::kCompleted) kept.push_back(r);
  }
  return kept;
}

class StubResetTest : public LeakFree {};

// Factory stubs come from the pool's thread, which joined their pid
// namespace (such a thread can start no threads; the monitor's service
// needs one), so the monitor works here.
TEST_F(StubResetTest, AResetStubOfEveryProfileIsAFreshStub) {
  {
    int profiles = 0;
    for (const Profile& profile : builtin_profiles()) {
      const StubConfig c = fuzzer_config(profile);
      if (!factory_supports(c)) continue;
      profiles++;
      StubPool factory(c, 2, StubPool::Source::kFactory);
      ASSERT_EQ(factory.source(), StubPool::Source::kFactory) << profile.name;
      Monitor monitor(profile.monitor, std::chrono::milliseconds(15));
      const std::vector<stub_record> program = surviving_program(factory, monitor, c);
      // Something of each kind survives in every profile: an executed call
      // from the stub page and an arena written.
      ASSERT_TRUE(std::any_of(program.begin(), program.end(), [](const stub_record& r) {
        return r.origin == STUB_ORIGIN_STUB;
      })) << profile.name;
      ASSERT_TRUE(std::any_of(program.begin(), program.end(), [](const stub_record& r) {
        return r.origin == STUB_ORIGIN_ADDRESS;
      })) << profile.name;

      auto used = factory.take();
      auto fresh = factory.take();
      ASSERT_TRUE(used.ok() && fresh.ok()) << profile.name;
      auto ran = monitor.run(*used, program, {}, std::chrono::milliseconds(2000));
      ASSERT_TRUE(ran.ok()) << ran.error().message;
      ASSERT_EQ(ran->outcome.end, BatchEnd::kCompleted) << profile.name;
      int executed = 0;
      for (size_t i = 0; i < program.size(); i++) {
        const stub_result& r = ran->outcome.results[i];
        ASSERT_EQ(r.status, STUB_RESULT_DONE) << profile.name << " record " << i;
        if (r.trapped) continue;
        const bool denied = std::any_of(
            ran->answers.begin(), ran->answers.end(),
            [&](const auto& a) { return a.record == i && a.answer == Answer::kDenied; });
        EXPECT_TRUE(denied || leaves_no_trace(program[i], r.ret))
            << profile.name << " record " << i;
        executed += !denied;
      }
      EXPECT_GT(executed, 0) << profile.name;

      // Not yet reset: the comparison sees what the program left.
      EXPECT_NE(full_portrait(*used)["data page"], full_portrait(*fresh)["data page"])
          << profile.name;

      ASSERT_TRUE(used->reset().ok()) << profile.name;
      // An empty batch in each: the reset stub refills its arenas before
      // any record, and both are at rest in their command loop after it.
      for (Stub* s : {&*used, &*fresh}) {
        auto o = run_batch(*s, std::span<const stub_record>{});
        ASSERT_TRUE(o.ok()) << o.error().message;
        ASSERT_EQ(o->end, BatchEnd::kCompleted);
      }
      const auto a = full_portrait(*used), b = full_portrait(*fresh);
      for (const auto& [what, text] : a)
        EXPECT_EQ(text, b.at(what)) << profile.name << ": " << what;
      EXPECT_EQ(a.at("arenas").find("unreadable"), std::string::npos) << a.at("arenas");
      EXPECT_EQ(a.at("arenas").find("/proc/pid/mem"), std::string::npos) << a.at("arenas");

      // And it behaves as a fresh one: the same program, the same results.
      auto again = monitor.run(*used, program, {}, std::chrono::milliseconds(2000));
      auto first = monitor.run(*fresh, program, {}, std::chrono::milliseconds(2000));
      ASSERT_TRUE(again.ok() && first.ok());
      for (size_t i = 0; i < program.size(); i++) {
        const stub_result &x = again->outcome.results[i], &y = first->outcome.results[i];
        EXPECT_EQ(x.status, y.status) << profile.name << " record " << i;
        EXPECT_EQ(x.trapped, y.trapped) << profile.name << " record " << i;
        EXPECT_EQ(x.trap_call_addr, y.trap_call_addr) << profile.name << " record " << i;
      }
    }
    EXPECT_GT(profiles, 0);
  }
}

TEST_F(StubResetTest, ABusyOrEndedStubIsNotReset) {
  {
    StubPool factory(fuzzer_config(**find_profile("listener")), 1, StubPool::Source::kFactory);
    auto s = factory.take();
    ASSERT_TRUE(s.ok()) << s.error().message;
    // Asleep for good in a record: busy.
    const stub_record sleep = from_stub(SYS_futex, {s->layout().scratch() + 64, FUTEX_WAIT, 0, 0});
    ASSERT_TRUE(s->post({&sleep, 1}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto busy = s->reset();
    ASSERT_FALSE(busy.ok());
    EXPECT_EQ(busy.error().err, EBUSY);
    ASSERT_TRUE(s->kill().ok());
    auto ended = s->reset();
    ASSERT_FALSE(ended.ok());
    EXPECT_EQ(ended.error().err, ESRCH);
  }
}

TEST(Traceless, OnlyPureQueriesOfTheX86_64AbiLeaveNoTrace) {
  EXPECT_TRUE(leaves_no_trace(from_stub(SYS_getpid), 0));
  EXPECT_TRUE(leaves_no_trace(from_stub(SYS_futex, {0x1000, FUTEX_WAKE_PRIVATE, 1}), 0));
  EXPECT_TRUE(leaves_no_trace(from_stub(SYS_time, {0}), 0));
  EXPECT_FALSE(leaves_no_trace(from_stub(SYS_time, {0x1000}), 0));  // writes *arg0
  EXPECT_TRUE(leaves_no_trace(from_stub(SYS_personality, {0xffffffff}), 0));
  EXPECT_FALSE(leaves_no_trace(from_stub(SYS_personality, {0}), 0));  // sets it
  EXPECT_FALSE(leaves_no_trace(from_stub(SYS_futex, {0x1000, FUTEX_REQUEUE, 1}), 0));
  EXPECT_FALSE(leaves_no_trace(from_stub(SYS_futex, {0x1000, FUTEX_LOCK_PI, 0}), 0));
  for (uint32_t nr : {SYS_close, SYS_mmap, SYS_munmap, SYS_dup2, SYS_rt_sigaction, SYS_setitimer,
                      SYS_prctl, SYS_seccomp, SYS_ioctl, SYS_read, SYS_write, SYS_sendmsg})
    EXPECT_FALSE(leaves_no_trace(from_stub(nr), 0)) << nr;
  // i386's 20 is getpid, x86-64's 20 is writev: neither is trusted.
  EXPECT_FALSE(leaves_no_trace(i386_from_stub(20), 0));
  EXPECT_FALSE(leaves_no_trace(from_stub(SYS_getpid | 0x40000000u), 0));
}

class ExecutorResetTest : public LeakFree {};

// The executor's own decision: a traceless program keeps its stub (reset),
// one whose call may have changed the stub gets a fresh one.
TEST_F(ExecutorResetTest, TracelessProgramsResetTheirStubAndOthersRetireIt) {
  fuzz::Executor executor(**find_profile("listener"));
  auto traceless =
      fuzz::parse_text("stub futex(&scratch, 1, 1)\nat(ABOVE) getpid()\nstub close(99)\n");
  ASSERT_TRUE(traceless.ok()) << traceless.error().message;
  for (int i = 0; i < 5; i++) {
    auto ex = executor.run(*traceless);
    ASSERT_TRUE(ex.ok()) << ex.error().message;
    ASSERT_TRUE(ex->stub_survived);
    ASSERT_EQ(fuzz::classify(*ex), fuzz::ProgramClass::kExecuted);
  }
  EXPECT_EQ(executor.stubs_used(), 1u);
  EXPECT_EQ(executor.stubs_reset(), 4u);
  // A close that closed: executed, and the fd table is no longer a fresh
  // stub's.
  auto changing = fuzz::parse_text("stub close(SOCKET)\n");
  ASSERT_TRUE(changing.ok()) << changing.error().message;
  for (int i = 0; i < 2; i++) {
    auto ex = executor.run(*changing);
    ASSERT_TRUE(ex.ok()) << ex.error().message;
    ASSERT_EQ(fuzz::classify(*ex), fuzz::ProgramClass::kExecuted) << to_string(ex->records[0].kind);
  }
  EXPECT_EQ(executor.stubs_used(), 2u);
  EXPECT_EQ(executor.stubs_reset(), 5u);
}

}  // namespace
}  // namespace stubfuzz
