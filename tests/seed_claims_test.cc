// The seed's claims (patch 1/7), each pinned against the real kernel with
// real stubs of the `listener` profile. Each test declares how the stub must
// end, as Chromium's BPF_DEATH_TEST does.
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "kernel/facts.h"
#include "monitor/batch.h"
#include "profile/profile.h"
#include "stub/record.h"
#include "stub/stub.h"

namespace stubfuzz {
namespace {

constexpr const char* kListenerLink = "anon_inode:seccomp notify";

Stub spawn_listener_stub() {
  auto p = find_profile("listener");
  EXPECT_TRUE(p.ok());
  auto s = Stub::spawn((*p)->stub_config());
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(*s);
}

stub_record anon_mmap(Origin origin, uint64_t addr = 0) {
  return make_record(origin, Abi::kX86_64, SYS_mmap,
                     {0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, ~0ull, 0}, addr);
}

void expect_killed_by_sigsys(const BatchOutcome& o) {
  EXPECT_EQ(o.end, BatchEnd::kStubDied);
  ASSERT_TRUE(o.exit.has_value());
  EXPECT_TRUE(o.exit->killed_by(SIGSYS)) << kernel::describe(*o.exit);
  EXPECT_EQ(o.results[o.count - 1].status, STUB_RESULT_RUNNING) << "the syscall returned";
}

void expect_listener_usable(kernel::Listener& l) {
  auto valid = l.id_valid(42);
  ASSERT_TRUE(valid.ok()) << valid.error().message;
  EXPECT_FALSE(*valid);
  auto ev = l.wait(std::chrono::milliseconds(0));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(*ev, kernel::ListenerEvent::kNone);
}

TEST(ListenerFd1, TheListenerIsFd1InTheStubAndTheMonitorPullsASeccompListener) {
  Stub s = spawn_listener_stub();
  EXPECT_EQ(s.seccomp_ret(), kStubListenerFd);
  EXPECT_EQ(s.fd_target(1), kListenerLink);
  EXPECT_TRUE(s.fd_target(0).rfind("socket:", 0) == 0) << s.fd_target(0);
  EXPECT_EQ(s.fd_target(2), "") << "close_range left more than fd 0";
  ASSERT_NE(s.listener(), nullptr);
  EXPECT_TRUE(kernel::Listener::is_listener(s.listener()->fd()));
  expect_listener_usable(*s.listener());
}

TEST(TsyncEsrch, NewListenerWithTsyncButWithoutTsyncEsrchIsEinval) {
  StubConfig c = (*find_profile("listener"))->stub_config();
  c.seccomp_flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC;
  auto s = Stub::spawn(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().err, EINVAL) << s.error().message;
}

TEST(TsyncEsrch, NewListenerWithTsyncAndTsyncEsrchWorks) {
  StubConfig c = (*find_profile("listener"))->stub_config();
  c.seccomp_flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC |
                    SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  auto s = Stub::spawn(c);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->seccomp_ret(), 1);
}

class ListenerIoctl : public testing::TestWithParam<unsigned long> {};

TEST_P(ListenerIoctl, FromTheStubPageKillsTheStubWithoutExecuting) {
  Stub s = spawn_listener_stub();
  auto o = run_batch(s, {from_stub(SYS_ioctl, {1, GetParam(), s.layout().scratch()})});
  ASSERT_TRUE(o.ok()) << o.error().message;
  expect_killed_by_sigsys(*o);
}

TEST_P(ListenerIoctl, FromOutsideTrapsWithoutExecutingAndTheMonitorsListenerWorks) {
  Stub s = spawn_listener_stub();
  auto o = run_batch(s, {from_outside(SYS_ioctl, {1, GetParam(), s.layout().scratch()})});
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  const stub_result& r = o->results[0];
  EXPECT_TRUE(r.trapped);
  EXPECT_EQ(r.trap_syscall, SYS_ioctl);
  EXPECT_EQ(r.trap_arch, AUDIT_ARCH_X86_64);
  EXPECT_EQ(r.trap_call_addr, s.data().outside_gate[STUB_ABI_X86_64] + 2);
  EXPECT_EQ(r.ret, SYS_ioctl) << "a trapped syscall leaves its number in rax";
  EXPECT_EQ(s.fd_target(1), kListenerLink);
  expect_listener_usable(*s.listener());
}

INSTANTIATE_TEST_SUITE_P(RecvSendIdValid, ListenerIoctl,
                         testing::Values(SECCOMP_IOCTL_NOTIF_RECV, SECCOMP_IOCTL_NOTIF_SEND,
                                         SECCOMP_IOCTL_NOTIF_ID_VALID),
                         [](const testing::TestParamInfo<unsigned long>& i) {
                           return std::string(i.param == SECCOMP_IOCTL_NOTIF_RECV ? "NotifRecv"
                                              : i.param == SECCOMP_IOCTL_NOTIF_SEND
                                                  ? "NotifSend"
                                                  : "NotifIdValid");
                         });

TEST(OutsideTraps, FdAttacksFromOutsideTrapAndFd1StaysTheListener) {
  Stub s = spawn_listener_stub();
  const stub_record attacks[] = {
      from_outside(SYS_close, {1}),
      from_outside(SYS_sendmsg, {0, s.layout().scratch(), 0}),
      from_outside(SYS_dup2, {0, 1}),
      from_outside(SYS_dup3, {0, 1, 0}),
      from_outside(SYS_close_range, {0, ~0u, 0}),
  };
  auto o = run_batch(s, attacks);
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  for (uint32_t i = 0; i < std::size(attacks); i++) {
    EXPECT_TRUE(o->results[i].trapped) << "record " << i;
    EXPECT_EQ(o->results[i].trap_syscall, static_cast<int>(attacks[i].nr));
  }
  EXPECT_EQ(s.fd_target(1), kListenerLink);
  EXPECT_TRUE(s.fd_target(0).rfind("socket:", 0) == 0);
  expect_listener_usable(*s.listener());
}

TEST(OutsideTraps, GuestCodeAboveTheStubRegionAndAtTheUpper32BitAliasTraps) {
  Stub s = spawn_listener_stub();
  const uint64_t above = s.layout().page_above(), alias = s.layout().alias_page() + 0x40;
  auto o = run_batch(s, {at_address(above, SYS_getpid), anon_mmap(Origin::kAddress, alias)});
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_TRUE(o->results[0].trapped);
  EXPECT_EQ(o->results[0].trap_call_addr, above + 2);
  EXPECT_TRUE(o->results[1].trapped);
  EXPECT_EQ(o->results[1].trap_call_addr, alias + 2);
}

// A finding, not a pass: the filter looks at the address after the syscall
// instruction, so the last two bytes below the stub page count as the page.
TEST(KnownFinding, SyscallInTheLastBytesBeforeTheStubPageIsJudgedAsTheStubPage) {
  Stub s = spawn_listener_stub();
  auto o = run_batch(s, {anon_mmap(Origin::kAddress, s.layout().stub_start - 2)});
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_FALSE(o->results[0].trapped);
  EXPECT_GT(o->results[0].ret, 0) << "mmap executed from below the stub page";
  // ...and a non-allowlisted call from there is killed as if from the page.
  auto killed = run_batch(s, {at_address(s.layout().stub_start - 2, SYS_getpid)});
  ASSERT_TRUE(killed.ok());
  expect_killed_by_sigsys(*killed);
}

TEST(KnownFinding, CloseOfTheListenerFromTheStubPageExecutesAndTheMonitorsCopyKeepsWorking) {
  Stub s = spawn_listener_stub();
  auto o = run_batch(s, {from_stub(SYS_close, {1})});
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_FALSE(o->results[0].trapped);
  EXPECT_EQ(o->results[0].ret, 0) << "close(1) from the stub page executes under listener";
  EXPECT_EQ(s.fd_target(1), "");
  expect_listener_usable(*s.listener());
}

TEST(StubAllowlist, MmapFromTheStubPageStillExecutes) {
  Stub s = spawn_listener_stub();
  auto o = run_batch(s, {anon_mmap(Origin::kStub)});
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_FALSE(o->results[0].trapped);
  EXPECT_GT(o->results[0].ret, 0);
  EXPECT_EQ(o->results[0].ret % 4096, 0);
}

// Without the i386 ABI the call never reaches seccomp: the stub dies of the
// fault instead, and nothing ran either way.
TEST(StubAllowlist, I386IntOx80FromTheStubPageIsKilledByTheArchCheck) {
  for (uint32_t nr : {20u /* getpid */, 91u /* munmap */, 11u /* execve */}) {
    Stub s = spawn_listener_stub();
    auto o = run_batch(s, {i386_from_stub(nr)});
    ASSERT_TRUE(o.ok()) << o.error().message;
    if (kernel::facts().i386_abi) {
      expect_killed_by_sigsys(*o);
    } else {
      ASSERT_TRUE(o->exit.has_value());
      EXPECT_TRUE(o->exit->killed_by(SIGSEGV)) << kernel::describe(*o->exit);
      EXPECT_EQ(o->results[0].status, STUB_RESULT_RUNNING) << "int $0x80 returned";
    }
  }
}

TEST(StubAllowlist, ASyscallOffTheAllowlistFromTheStubPageKills) {
  Stub s = spawn_listener_stub();
  auto o = run_batch(s, {from_stub(SYS_getpid)});
  ASSERT_TRUE(o.ok());
  expect_killed_by_sigsys(*o);
}

TEST(ListenerSurvives, AfterTheStubDiesTheListenerReportsHangupAndRecvFailsWithEnoent) {
  Stub s = spawn_listener_stub();
  auto listener = s.take_listener();
  ASSERT_TRUE(listener.has_value());
  expect_listener_usable(*listener);
  ASSERT_TRUE(s.kill().ok());
  auto ev = listener->wait(std::chrono::milliseconds(2000));
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(*ev, kernel::ListenerEvent::kHangUp);
  auto n = listener->receive();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().err, ENOENT) << n.error().message;
}

TEST(ListenerSurvives, PidfdGetfdOnADeadStubFailsCleanly) {
  Stub s = spawn_listener_stub();
  ASSERT_TRUE(s.kill().ok());
  auto fd = kernel::pidfd_getfd(s.pidfd(), kStubListenerFd, s.pid());
  ASSERT_FALSE(fd.ok());
  EXPECT_EQ(fd.error().err, ESRCH) << fd.error().message;
  EXPECT_NE(fd.error().message.find("pidfd_getfd(pid "), std::string::npos);
}

}  // namespace
}  // namespace stubfuzz
