// The stub factory (stub/factory.h) against the seed's spawn path: a factory
// stub of every profile must be the same stub, as the kernel shows it (memory
// map, fd table, filters, signal dispositions, credentials, namespaces,
// limits), but for what docs/stub.md explains (its session and parent
// process). Real stubs, real kernel.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "kernel/proc.h"
#include "monitor/batch.h"
#include "stub/factory.h"
#include "stub/record.h"
#include "stub_portrait.h"
#include "test_support.h"

namespace stubfuzz {
namespace {

using testing_support::LeakFree;
using testing_support::portrait;
using testing_support::slurp;

class StubFactoryTest : public LeakFree {};

// Pooled stubs start in the shared pid namespace, which the spawning thread
// joins (setns(CLONE_NEWPID)); such a thread can start no threads after, so
// they are spawned from a thread of their own, as the pool does.
template <class F>
void on_spawning_thread(F body) {
  std::thread t(body);
  t.join();
}

// The factory's stubs share a pid namespace, as the pool's do.
StubConfig pooled_listener() { return (*find_profile("listener"))->stub_config({}, true); }

TEST_F(StubFactoryTest, AFactoryStubOfEveryProfileIsTheSeedPathsStub) {
  on_spawning_thread([&] {
    for (const Profile& profile : builtin_profiles()) {
      StubConfig c = profile.stub_config({}, /*pooled=*/true);
      c.second_thread = c.seccomp_flags & SECCOMP_FILTER_FLAG_TSYNC;
      if (!factory_supports(c)) continue;
      // The seed's path, in the same thread: the same pid namespace as the
      // factory's children.
      auto seed = Stub::spawn(c);
      ASSERT_TRUE(seed.ok()) << profile.name << ": " << seed.error().message;
      StubFactory factory(c);
      auto made = factory.make();
      ASSERT_TRUE(made.ok()) << profile.name << ": " << made.error().message;
      const auto a = portrait(*seed), b = portrait(*made);
      for (const auto& [what, text] : a)
        EXPECT_EQ(text, b.at(what)) << profile.name << ": " << what;
      // The same behaviour: a trap from outside, a call from the stub page.
      for (Stub* s : {&*seed, &*made}) {
        auto o = run_batch(*s, {from_outside(SYS_getpid), from_stub(SYS_futex, {0, 0, 0, 0})});
        ASSERT_TRUE(o.ok()) << o.error().message;
        EXPECT_EQ(o->end, BatchEnd::kCompleted) << profile.name;
        EXPECT_TRUE(o->results[0].trapped) << profile.name;
      }
    }
  });
}

TEST_F(StubFactoryTest, AFactoryStubIsTheMonitorsChildAndIsReapedWithItsSignal) {
  on_spawning_thread([&] {
    StubFactory factory(pooled_listener());
    auto s = factory.make();
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_EQ(
        std::stoi(slurp("/proc/" + std::to_string(s->pid()) + "/stat")
                      .substr(slurp("/proc/" + std::to_string(s->pid()) + "/stat").rfind(')') + 4)),
        getpid());
    EXPECT_EQ(s->fd_target(1), "anon_inode:seccomp notify");
    ASSERT_NE(s->listener(), nullptr);
    // The filter's KILL_PROCESS: the monitor sees SIGSYS, as for any stub.
    auto o = run_batch(*s, {from_stub(SYS_getppid)});
    ASSERT_TRUE(o.ok()) << o.error().message;
    EXPECT_EQ(o->end, BatchEnd::kStubDied);
    ASSERT_TRUE(o->exit.has_value());
    EXPECT_TRUE(o->exit->killed_by(SIGSYS)) << kernel::describe(*o->exit);
    // The template goes on making stubs.
    auto next = factory.make();
    ASSERT_TRUE(next.ok()) << next.error().message;
  });
}

TEST_F(StubFactoryTest, ATemplateThatDiedIsStartedAgain) {
  on_spawning_thread([&] {
    StubFactory factory(pooled_listener());
    ASSERT_TRUE(factory.make().ok());
    const pid_t first = factory.template_pid();
    ASSERT_GT(first, 0);
    ASSERT_EQ(kill(first, SIGKILL), 0);
    auto s = factory.make();
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_NE(factory.template_pid(), first);
  });
}

}  // namespace
}  // namespace stubfuzz
