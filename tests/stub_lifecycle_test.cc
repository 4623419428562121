// The stub handle owns the process, its fds and its memory: nothing survives
// it on any path, and every wait is bounded.
#include <gtest/gtest.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/syscall.h>

#include "check/check.h"
#include "monitor/batch.h"
#include "profile/profile.h"
#include "stub/record.h"
#include "stub/stub.h"
#include "stub/stub_image.h"
#include "stub/stub_pool.h"
#include "test_support.h"

namespace stubfuzz {
namespace {

using testing_support::listener_config;
// Every test here must leave no fd, process or zombie behind.
using NoLeaks = testing_support::LeakFree;

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
