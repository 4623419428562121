// The stub handle owns the process, its fds and its memory: nothing survives
// it on any path, and every wait is bounded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <thread>
#include <vector>

#include "check/check.h"
#include "kernel/facts.h"
#include "kernel/proc.h"
#include "kernel/sys.h"
#include "monitor/batch.h"
#include "profile/profile.h"
#include "stub/record.h"
#include "stub/spawn_slots.h"
#include "stub/stub.h"
#include "stub/stub_image.h"
#include "stub/stub_pool.h"
#include "test_support.h"

namespace stubfuzz {
namespace {

using testing_support::listener_config;
// Every test here must leave no fd, process or zombie behind.
using NoLeaks = testing_support::LeakFree;

StubConfig two_threads() {
  StubConfig c = listener_config();
  c.second_thread = true;
  return c;
}

TEST_F(NoLeaks, AThousandSpawnKillCyclesLeaveNoProcessZombieOrFd) {
  const StubConfig c = listener_config();
  for (int i = 0; i < 1000; i++) {
    auto s = Stub::spawn(c);
    ASSERT_TRUE(s.ok()) << "cycle " << i << ": " << s.error().message;
    if (i % 3 == 0) ASSERT_TRUE(s->kill().ok());  // else the destructor kills
  }
}

TEST_F(NoLeaks, AStubKilledByItsFilterIsReapedAndItsHandleStaysSafe) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok());
  auto o = run_batch(*s, {from_stub(SYS_getpid)});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->end, BatchEnd::kStubDied);
  EXPECT_FALSE(s->usable());
  auto again = run_batch(*s, {from_stub(SYS_futex)});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().err, ESRCH);
}

TEST_F(NoLeaks, ARecordThatBlocksIsEndedAtTheBoundAndReportedAsTimedOut) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok());
  // futex_wait on a word that holds 0 and that nobody wakes: allowed, blocks.
  auto o = run_batch(*s, {from_stub(SYS_futex, {s->layout().scratch(), FUTEX_WAIT, 0, 0})},
                     std::chrono::milliseconds(200));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->end, BatchEnd::kTimedOut);
  EXPECT_EQ(o->results[0].status, STUB_RESULT_RUNNING);
  ASSERT_TRUE(o->exit.has_value());
  EXPECT_TRUE(o->exit->killed_by(SIGKILL));
}

// A thread that reaches a spin record under a spin handoff wakes the
// monitor's wait on its command word and sleeps in a timed futex wait before
// it jumps; without one it spins at once (stub_abi.h: spin_handoff_us).
TEST_F(NoLeaks, ASpinRecordWithAHandoffWakesTheMonitorAndSleepsBeforeItSpins) {
  for (const bool handoff : {true, false}) {
    SCOPED_TRACE(handoff ? "with a handoff" : "without");
    auto s = Stub::spawn(listener_config());
    ASSERT_TRUE(s.ok()) << s.error().message;
    // A 20 ms timed wait first, so that the monitor waits before the spin.
    const timespec twenty_ms{0, 20000000};
    ASSERT_TRUE(
        s->write_scratch({reinterpret_cast<const uint8_t*>(&twenty_ms), sizeof(twenty_ms)}).ok());
    stub_record records[2] = {
        from_stub(SYS_futex, {s->layout().scratch() + 64, FUTEX_WAIT, 0, s->layout().scratch()}),
        from_stub(0)};
    records[1].abi = STUB_ABI_SPIN;
    ASSERT_TRUE(s->post(records, std::chrono::microseconds(handoff ? 900000 : 0)).ok());
    const uint32_t v = __atomic_load_n(s->done_word(0), __ATOMIC_ACQUIRE);
    ASSERT_NE(v, 0u);
    // Woken while the word still says "running"; without a handoff nobody
    // wakes us.
    const auto wait = kernel::futex_wait(
        s->done_word(0), v, kernel::paced(std::chrono::milliseconds(handoff ? 2000 : 300)));
    EXPECT_EQ(wait, handoff ? kernel::FutexWait::kWoken : kernel::FutexWait::kTimedOut);
    ASSERT_EQ(s->data().current, 1u);
    ASSERT_EQ(s->data().results[1].status, STUB_RESULT_RUNNING);
    // /proc: asleep in futex(&spin_handoff_us, FUTEX_WAIT, 900000, &timeout)
    // with the handoff; running, not in a syscall, without.
    // Well within the handoff's 0.9 s sleep, however slow the machine.
    std::optional<std::vector<kernel::SleepingSyscall>> calls;
    const auto until =
        std::chrono::steady_clock::now() +
        std::min(kernel::paced(std::chrono::milliseconds(100)), std::chrono::milliseconds(600));
    while (handoff && !calls && std::chrono::steady_clock::now() < until) {
      calls = kernel::sleeping_syscalls(s->pid());
      if (!calls) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!handoff) calls = kernel::sleeping_syscalls(s->pid());
    if (handoff) {
      ASSERT_TRUE(calls.has_value());
      bool in_handoff = false;
      for (const auto& c : *calls)
        in_handoff |= c.nr == SYS_futex && (c.args[1] & FUTEX_CMD_MASK) == FUTEX_WAIT &&
                      c.args[2] == 900000 && c.args[3] != 0;
      EXPECT_TRUE(in_handoff);
    } else {
      EXPECT_FALSE(calls.has_value());
    }
    ASSERT_TRUE(s->kill().ok());
  }
}

// The leader's call alone, from /proc/<pid> itself: the same call that
// /proc/<pid>/task names for it, and no other thread's.
TEST_F(NoLeaks, SleepingSyscallsOfTheLeaderAloneNameItsCallAndNoOtherThreads) {
  auto s = Stub::spawn(two_threads());
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(s->has_second_thread());
  const stub_record wait = from_stub(SYS_futex, {s->layout().scratch() + 64, FUTEX_WAIT, 0, 0});
  ASSERT_TRUE(s->post({&wait, 1}).ok());
  std::optional<std::vector<kernel::SleepingSyscall>> all;
  const auto deadline = std::chrono::steady_clock::now() + kernel::paced(std::chrono::seconds(2));
  while (std::chrono::steady_clock::now() < deadline) {
    all = kernel::sleeping_syscalls(s->pid());
    if (all && std::any_of(all->begin(), all->end(), [&](const auto& c) {
          return c.tid == s->pid() && c.nr == SYS_futex && c.args[0] == s->layout().scratch() + 64;
        }))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 2u);  // the second thread waits on its command word
  const auto leader = kernel::sleeping_syscalls(s->pid(), /*leader_only=*/true);
  ASSERT_TRUE(leader.has_value());
  ASSERT_EQ(leader->size(), 1u);
  EXPECT_EQ((*leader)[0].tid, s->pid());
  EXPECT_EQ((*leader)[0].nr, SYS_futex);
  EXPECT_EQ((*leader)[0].args[0], s->layout().scratch() + 64);
  ASSERT_TRUE(s->kill().ok());
}

// The second thread's stack is a mapping of its own: a program that unmaps
// the low range with the binary in it (which the stub survives, running from
// its page) leaves the thread able to run its records. With the stack in the
// binary's .bss the thread died at its next return (corpus/regressions/
// harness-thread-stack-unmapped.txt).
TEST_F(NoLeaks, TheSecondThreadOutlivesAnUnmappingOfTheBinary) {
  auto s = Stub::spawn(two_threads());
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(s->has_second_thread());
  // The range holds the stub binary (its outside gate) and none of the
  // stub's own region, whatever the profile's layout.
  constexpr uint64_t kLowRange = 0x3041000;
  ASSERT_LT(s->data().outside_gate[STUB_ABI_X86_64], kLowRange);
  ASSERT_GT(s->layout().page_below(), kLowRange);
  stub_record on_thread2 = from_stub(SYS_close, {999});
  on_thread2.thread = 1;
  const stub_record batch[] = {from_stub(SYS_munmap, {0, kLowRange}), on_thread2};
  auto out = run_batch(*s, batch, std::chrono::milliseconds(2000));
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_EQ(out->end, BatchEnd::kCompleted) << (out->exit ? kernel::describe(*out->exit) : "");
  EXPECT_EQ(out->results[0].status, STUB_RESULT_DONE);
  EXPECT_EQ(out->results[0].ret, 0);
  EXPECT_EQ(out->results[1].status, STUB_RESULT_DONE);
  EXPECT_EQ(out->results[1].ret, -EBADF);
  EXPECT_TRUE(s->usable());
  ASSERT_TRUE(s->kill().ok());
}

// The seed path's child keeps only the low spawn slots of the monitor's fd
// table (stub/spawn_slots.h): the stub starts with the same fds however many
// the monitor holds (close-on-exec or not), and the slots let go of the
// stub's socket and data once it is spawned.
TEST_F(NoLeaks, ASeedPathStubHasTheSameFdsWhateverTheMonitorHolds) {
  auto fds_of = [](const Stub& stub) {
    std::string out;
    for (int fd = 0; fd < 64; fd++) {
      const std::string t = stub.fd_target(fd);
      if (!t.empty()) out += std::to_string(fd) + "=" + t.substr(0, t.find(':')) + "\n";
    }
    return out;
  };
  auto few = Stub::spawn(listener_config());
  ASSERT_TRUE(few.ok()) << few.error().message;
  const std::string with_few = fds_of(*few);
  const int null_fd = open("/dev/null", O_RDONLY);  // not close-on-exec, nor its copies
  ASSERT_GE(null_fd, 0);
  std::vector<int> held;
  for (int i = 0; i < 300; i++) held.push_back(fcntl(null_fd, F_DUPFD, 3));
  auto many = Stub::spawn(listener_config());
  for (int fd : held) close(fd);
  close(null_fd);
  ASSERT_TRUE(std::all_of(held.begin(), held.end(), [](int fd) { return fd >= 0; }));
  ASSERT_TRUE(many.ok()) << many.error().message;
  EXPECT_EQ(fds_of(*many), with_few);
  EXPECT_NE(with_few.find("0=socket"), std::string::npos) << with_few;
  auto slots = SpawnSlots::get();
  ASSERT_TRUE(slots.ok());
  for (int slot : {SpawnSlots::kSocket, SpawnSlots::kData})
    EXPECT_EQ(kernel::fd_target(getpid(), (*slots)->fd(slot)), "/dev/null") << "slot " << slot;
}

TEST_F(NoLeaks, RecvmsgOnTheControlSocketDoesNotBlockBecauseItIsNonBlocking) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok());
  auto o = run_batch(*s, {from_stub(SYS_recvmsg, {0, s->layout().scratch(), 0})});
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_LT(o->results[0].ret, 0);
}

TEST_F(NoLeaks, ADeathWhileIdleIsNoticedAtTheNextCommand) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(kernel::pidfd_send_signal(s->pidfd(), SIGKILL).ok());
  auto o = run_batch(*s, {from_stub(SYS_futex)}, std::chrono::milliseconds(2000));
  if (o.ok()) {
    EXPECT_EQ(o->end, BatchEnd::kStubDied);
  } else {
    EXPECT_EQ(o.error().err, ESRCH) << o.error().message;
  }
  EXPECT_FALSE(s->usable());
}

TEST(StubRecords, AnAddressOutsideEveryArenaIsRefusedNotExecuted) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok());
  auto o = run_batch(*s, {at_address(0x10000, SYS_getpid),
                          at_address(s->layout().page_below() + STUB_PAGE_SIZE - 1, SYS_getpid),
                          make_record(Origin::kStub, static_cast<Abi>(7), SYS_getpid, {}),
                          from_outside(SYS_getpid)});
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_EQ(o->results[0].status, STUB_RESULT_BAD_RECORD);
  EXPECT_EQ(o->results[1].status, STUB_RESULT_BAD_RECORD) << "would run into the stub page";
  EXPECT_EQ(o->results[2].status, STUB_RESULT_BAD_RECORD);
  EXPECT_EQ(o->results[3].status, STUB_RESULT_DONE);
  EXPECT_TRUE(o->results[3].trapped);
}

TEST(StubRecords, ABatchLargerThanTheDataPageHoldsIsAnError) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok());
  std::vector<stub_record> many(STUB_MAX_RECORDS + 1, from_outside(SYS_getpid));
  auto o = run_batch(*s, many);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().err, EINVAL);
  EXPECT_TRUE(s->usable());
}

TEST(StubRecords, AFullBatchOfTrapsAllReturnWithTheirSigsysRecords) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok());
  std::vector<stub_record> batch;
  for (uint32_t i = 0; i < STUB_MAX_RECORDS; i++) batch.push_back(from_outside(i % 300));
  auto o = run_batch(*s, batch);
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  for (uint32_t i = 0; i < STUB_MAX_RECORDS; i++) {
    EXPECT_TRUE(o->results[i].trapped) << i;
    EXPECT_EQ(o->results[i].trap_syscall, static_cast<int>(i % 300)) << i;
  }
  EXPECT_EQ(s->data().batches, 1u);
}

TEST(StubSpawn, AFilterTheKernelRejectsFailsSpawnWithTheKernelsErrno) {
  StubConfig c = listener_config();
  c.filter = filter::Builder().load_abs(3).ret(0x7fff0000).build();  // misaligned load
  auto s = Stub::spawn(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().err, EINVAL) << s.error().message;
}

TEST(StubSpawn, SpawnWithClonePidfdAlsoHandsOverTheListener) {
  StubConfig c = listener_config();
  c.spawn = SpawnMethod::kClonePidfd;
  auto s = Stub::spawn(c);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_NE(s->listener(), nullptr);
  EXPECT_EQ(s->fd_target(1), "anon_inode:seccomp notify");
}

}  // namespace
}  // namespace stubfuzz

namespace stubfuzz {
namespace {

TEST_F(NoLeaks, ThePoolHandsOutReadyStubsAndLeavesNothingBehindWhenDestroyed) {
  {
    StubPool pool(listener_config(), 3);
    for (int i = 0; i < 50; i++) {
      auto s = pool.take();
      ASSERT_TRUE(s.ok()) << s.error().message;
      ASSERT_NE(s->listener(), nullptr);
      auto o = run_batch(*s, {from_outside(SYS_getpid)});
      ASSERT_TRUE(o.ok());
      EXPECT_TRUE(o->results[0].trapped);
      pool.retire(std::move(*s));
    }
    EXPECT_GE(pool.spawned(), 50u);
  }
}

// A worker that takes as fast as the pool makes keeps it from ever filling:
// the stubs it hands back must still be reaped as they come, not when the
// pool is full (a pool that refilled in bursts before reaping, tried in the
// ninth session, let them pile up to hundreds).
TEST_F(NoLeaks, UsedStubsDoNotPileUpBehindATakerThatKeepsThePoolEmpty) {
  constexpr size_t kDepth = 4;
  StubPool pool(listener_config(), kDepth, StubPool::Source::kFactory);
  int most = 0;
  for (int i = 0; i < 300; i++) {
    auto s = pool.take();
    ASSERT_TRUE(s.ok()) << s.error().message;
    pool.retire(std::move(*s));
    most = std::max(most, count_resources().children - before_.children);
  }
  // The ready stubs, the factory's template, the stub in hand and the few
  // handed back since the pool thread last reaped, with room to spare.
  EXPECT_LE(most, static_cast<int>(3 * kDepth + 2));
}

TEST(StubPoolErrors, ASpawnFailureReachesTheTakerAsAnError) {
  StubConfig c = listener_config();
  c.seccomp_flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC;  // EINVAL
  StubPool pool(c, 1);
  auto s = pool.take();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().err, EINVAL) << s.error().message;
}

}  // namespace
}  // namespace stubfuzz
