// Kernel facts (kernel/facts.h): the probed facts match what real stubs see
// on this kernel, and the model and the oracle, given facts of other
// kernels, predict and judge as those kernels behave, whatever this machine
// is (with or without the i386 ABI, with or without the uprobe exemption).
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "filter/predict.h"
#include "filter/uml_filter.h"
#include "fuzz/oracle.h"
#include "fuzz/program.h"
#include "kernel/facts.h"
#include "kernel/sys.h"
#include "monitor/batch.h"
#include "profile/profile.h"
#include "stub/record.h"
#include "stub/stub.h"

namespace stubfuzz {
namespace {

using filter::Path;

constexpr uint32_t kUretprobe = 335, kUprobe = 336;
constexpr uint32_t kI386Ioctl = 54;

// A stub with no filter at all: what the kernel does before any filter.
Stub spawn_unfiltered() {
  StubConfig c;
  c.filter = filter::Builder().ret(SECCOMP_RET_ALLOW).build();
  c.install_filter = false;
  auto s = Stub::spawn(c);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return std::move(*s);
}

// pidfd_pid: by PIDFD_GET_INFO where the kernel has it (6.13), else from
// /proc/self/fdinfo; either way our namespace's pid, and ESRCH once reaped.
TEST(PidfdPid, NamesTheProcessAndFailsOnceItIsReaped) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  auto pidfd = kernel::pidfd_open(child);
  ASSERT_TRUE(pidfd.ok()) << pidfd.error().message;
  auto pid = kernel::pidfd_pid(pidfd->get());
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  EXPECT_EQ(*pid, child);
  kill(child, SIGKILL);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  auto gone = kernel::pidfd_pid(pidfd->get());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().err, ESRCH);
}

TEST(SeccompKillsLogged, KillActionsInActionsLoggedAreKillsLogged) {
  EXPECT_TRUE(kernel::seccomp_kills_logged({"kill_process", "trap", "errno"}));
  EXPECT_TRUE(kernel::seccomp_kills_logged({"kill_thread"}));
  EXPECT_FALSE(kernel::seccomp_kills_logged({"trap", "errno", "user_notif", "trace", "log"}));
  EXPECT_FALSE(kernel::seccomp_kills_logged({}));
  // This kernel's own setting reads as words the kernel knows.
  for (const auto& w : kernel::seccomp_actions_logged())
    EXPECT_TRUE(w == "kill_process" || w == "kill_thread" || w == "trap" || w == "errno" ||
                w == "user_notif" || w == "trace" || w == "log" || w == "allow")
        << w;
}

TEST(KernelFacts, TheI386FactIsWhatIntOx80DoesInAStub) {
  Stub s = spawn_unfiltered();
  auto o = run_batch(s, {make_record(Origin::kOutside, Abi::kI386, 20 /* getpid */, {})});
  ASSERT_TRUE(o.ok()) << o.error().message;
  if (kernel::facts().i386_abi) {
    EXPECT_EQ(o->end, BatchEnd::kCompleted);
    EXPECT_GT(o->results[0].ret, 0);
  } else {
    ASSERT_TRUE(o->exit.has_value());
    EXPECT_TRUE(o->exit->killed_by(SIGSEGV)) << kernel::describe(*o->exit);
  }
}

// Under a filter that answers every call with ERRNO(1) from outside the page,
// exactly the calls the facts name as exempt do something else.
TEST(KernelFacts, ExemptCallsAreExactlyThoseThatEscapeADenyAllFilter) {
  const StubLayout layout;
  const auto& facts = kernel::facts();
  for (uint32_t nr : {kUretprobe, kUprobe, uint32_t{SYS_getpid}}) {
    StubConfig c;
    c.filter = filter::uml_stub_filter(layout.stub_start);
    auto s = Stub::spawn(c);
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto o = run_batch(*s, {from_outside(nr)});
    ASSERT_TRUE(o.ok()) << o.error().message;
    const bool trapped = o->end == BatchEnd::kCompleted && o->results[0].trapped;
    EXPECT_EQ(!trapped, facts.exempt(AUDIT_ARCH_X86_64, nr))
        << "nr " << nr << " (facts: " << facts.describe_exemptions() << ")";
  }
}

TEST(KernelFacts, ProbedOncePerProcessAndStable) {
  const auto& a = kernel::facts();
  const auto& b = kernel::facts();
  EXPECT_EQ(&a, &b);
  const auto again = kernel::probe_facts();
  EXPECT_EQ(again.i386_abi, a.i386_abi);
  EXPECT_EQ(again.describe_exemptions(), a.describe_exemptions());
  EXPECT_TRUE(a.errors.empty()) << a.errors.front();
  EXPECT_FALSE(a.release.empty());
}

// A fuzz target's process has libFuzzer's and ASan's handlers for SIGILL
// and SIGSEGV: the probe children must still die of what the kernel does
// (found in the fuzz target: its facts named ioctl exempt).
void resume(int) {}
TEST(KernelFacts, TheProbingProcessHandlersDoNotChangeTheFacts) {
  struct sigaction act {
  }, old_ill{}, old_segv{};
  act.sa_handler = resume;
  ASSERT_EQ(sigaction(SIGILL, &act, &old_ill), 0);
  ASSERT_EQ(sigaction(SIGSEGV, &act, &old_segv), 0);
  const auto probed = kernel::probe_facts();
  sigaction(SIGILL, &old_ill, nullptr);
  sigaction(SIGSEGV, &old_segv, nullptr);
  EXPECT_EQ(probed.describe_exemptions(), kernel::facts().describe_exemptions());
  EXPECT_EQ(probed.i386_abi, kernel::facts().i386_abi);
  EXPECT_EQ(probed.recv_after_hangup, kernel::facts().recv_after_hangup);
}

TEST(KernelFacts, PaceIsOneOnAnOrdinaryMachineAndBoundedOnASlowOne) {
  kernel::Facts f;
  f.scan_ns = 600'000;
  EXPECT_EQ(f.pace(), 1.0);
  f.scan_ns = 30'000'000;  // what a TCG guest measured
  EXPECT_GT(f.pace(), 10.0);
  f.scan_ns = 10'000'000'000;
  EXPECT_EQ(f.pace(), 64.0);
}

kernel::Facts facts_with(bool i386, std::vector<uint32_t> exempt) {
  kernel::Facts f;
  f.i386_abi = i386;
  for (uint32_t nr : exempt) f.exempt_x86_64.push_back({nr, "test"});
  return f;
}

seccomp_data data(uint32_t arch, uint32_t nr, uint64_t ip) {
  return filter::make_seccomp_data(static_cast<int>(nr), arch, ip);
}

TEST(Model, WithoutTheI386AbiIntOx80FaultsBeforeAnyFilter) {
  const StubLayout l;
  const auto prog = filter::uml_stub_filter(l.stub_start);
  const auto d = data(AUDIT_ARCH_I386, kI386Ioctl, l.stub_start + STUB_GATE_I386_OFFSET + 2);
  EXPECT_EQ(filter::predict(prog, {}, facts_with(true, {}), d).path, Path::kFiltered);
  EXPECT_EQ(filter::predict(prog, {}, facts_with(true, {}), d).action(),
            filter::Action::kKillProcess);
  const auto none = filter::predict(prog, {}, facts_with(false, {}), d);
  EXPECT_EQ(none.path, Path::kNoAbi);
  EXPECT_FALSE(none.executes());
  EXPECT_TRUE(none.model.trace.empty()) << "the filter never ran";
}

TEST(Model, AnExemptCallRunsUnfilteredOnlyInItsOwnArch) {
  const StubLayout l;
  const auto prog = filter::uml_stub_filter(l.stub_start);
  const auto f = facts_with(true, {kUretprobe});
  const auto outside = data(AUDIT_ARCH_X86_64, kUretprobe, 0x401002);
  EXPECT_EQ(filter::predict(prog, {}, f, outside).path, Path::kExempt);
  EXPECT_TRUE(filter::predict(prog, {}, f, outside).executes());
  EXPECT_EQ(filter::predict(prog, {}, facts_with(true, {}), outside).action(),
            filter::Action::kTrap);
  EXPECT_EQ(filter::predict(prog, {}, f, data(AUDIT_ARCH_X86_64, kUprobe, 0x401002)).path,
            Path::kFiltered);
  EXPECT_EQ(filter::predict(prog, {}, f, data(AUDIT_ARCH_I386, kUretprobe, 0x401002)).path,
            Path::kFiltered);
}

// The oracle on a hand-made execution, as kernels with other facts would
// have produced it.
struct Scenario {
  const Profile& profile = **find_profile("listener");
  StubConfig config = profile.stub_config();
  fuzz::Program program;
  fuzz::Execution ex;

  Scenario(const char* text, fuzz::Observed kind, std::optional<int> signal, uint64_t insn) {
    program = *fuzz::parse_text(text);
    ex.layout = config.layout;
    fuzz::Observation o;
    const auto& r = program.records[0];
    o.resolved = make_record(Origin::kStub, r.i386 ? Abi::kI386 : Abi::kX86_64, r.nr, {});
    o.resolved.args[0] = kStubListenerFd;
    o.kind = kind;
    o.insn_addr = insn;
    if (signal) o.exit = kernel::Exit{CLD_KILLED, *signal};
    ex.records.push_back(o);
  }
  fuzz::Judgement judge(const kernel::Facts& f) {
    return fuzz::judge(profile, config, program, ex, false, f);
  }
};

TEST(Oracle, AnIoctlThatFaultsBeforeSeccompHoldsTheClaimsOnlyWithoutTheI386Abi) {
  Scenario s("stub i386 ioctl(LISTENER, 0)", fuzz::Observed::kKilled, SIGSEGV,
             StubLayout{}.stub_start + STUB_GATE_I386_OFFSET);
  const auto without = s.judge(facts_with(false, {}));
  EXPECT_FALSE(without.violated()) << without.first_violation()->detail;
  EXPECT_EQ(without.records[0].path, Path::kNoAbi);
  EXPECT_TRUE(without.records[0].agrees);
  // Where int $0x80 works, a SIGSEGV instead of the arch check's kill is the
  // model disagreeing, and an ioctl that ran.
  const auto with = s.judge(facts_with(true, {}));
  ASSERT_TRUE(with.violated());
  EXPECT_EQ(with.first_violation()->claim, ClaimId::kModelAgrees);
}

TEST(Oracle, AnExemptCallIsTheKnownFindingWhereTheKernelHasItAndAViolationElsewhere) {
  Scenario s("outside syscall_335()", fuzz::Observed::kKilled, SIGILL, 0x401000);
  const auto exempt = s.judge(facts_with(true, {kUretprobe}));
  EXPECT_FALSE(exempt.violated()) << exempt.first_violation()->detail;
  bool known = false;
  for (const auto& b : exempt.breaches) known |= b.known && b.cls == finding::kSeccompExemption;
  EXPECT_TRUE(known);
  EXPECT_TRUE(exempt.records[0].agrees);
  const auto filtered = s.judge(facts_with(true, {}));
  ASSERT_TRUE(filtered.violated());
  EXPECT_EQ(filtered.first_violation()->claim, ClaimId::kModelAgrees);
}

}  // namespace
}  // namespace stubfuzz

namespace stubfuzz {
namespace {

// What a forked child got from bind_to_free_cpu, and the CPUs it may run on
// after: read from a pipe while the child holds its lock.
struct Bound {
  pid_t pid = -1;
  int cpu = -2;
  int allowed_after = 0;
};

Bound bind_in_child(const std::string& dir, int release_fd, int release_write_end) {
  int p[2];
  if (pipe(p) != 0) return {};
  Bound b;
  b.pid = fork();
  if (b.pid == 0) {
    close(p[0]);
    close(release_write_end);  // EOF on release_fd once the parent closes it
    auto cpu = kernel::bind_to_free_cpu(dir);
    const int out[2] = {cpu ? *cpu : -3, kernel::allowed_cpus()};
    (void)!write(p[1], out, sizeof(out));
    char c;
    (void)!read(release_fd, &c, 1);  // holds its lock until released
    _exit(0);
  }
  close(p[1]);
  int in[2] = {-2, 0};
  pollfd ready{p[0], POLLIN, 0};
  if (poll(&ready, 1, static_cast<int>(kernel::paced(std::chrono::seconds(10)).count())) == 1)
    (void)!read(p[0], in, sizeof(in));
  close(p[0]);
  b.cpu = in[0];
  b.allowed_after = in[1];
  return b;
}

// Waits for a child of bind_in_child, within a bound; one that outlives it
// is killed, so that the test never hangs.
void end_child(pid_t pid) {
  auto pidfd = kernel::pidfd_open(pid);
  ASSERT_TRUE(pidfd) << pidfd.error().message;
  auto exit = kernel::reap(pidfd->get(), kernel::paced(std::chrono::seconds(10)));
  ASSERT_TRUE(exit) << exit.error().message;
  if (exit->has_value()) return;
  ADD_FAILURE() << "child " << pid << " did not exit";
  (void)kernel::pidfd_send_signal(pidfd->get(), SIGKILL);
  (void)kernel::reap(pidfd->get(), kernel::paced(std::chrono::seconds(10)));
}

TEST(BindToFreeCpu, EachProcessGetsACpuNoOtherHolds) {
  if (kernel::allowed_cpus() < 2) GTEST_SKIP() << "one CPU: nothing to bind to";
  char tmpl[] = "/tmp/stubfuzz-cpus-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  int release[2];
  ASSERT_EQ(pipe(release), 0);
  std::vector<Bound> all;
  for (int i = 0; i <= kernel::allowed_cpus(); i++)
    all.push_back(bind_in_child(tmpl, release[0], release[1]));
  std::set<int> cpus;
  for (size_t i = 0; i < all.size(); i++) {
    if (i + 1 < all.size()) {
      EXPECT_GE(all[i].cpu, 0) << "process " << i;
      EXPECT_EQ(all[i].allowed_after, 1) << "process " << i;
      EXPECT_TRUE(cpus.insert(all[i].cpu).second) << "CPU " << all[i].cpu << " given twice";
    } else {
      // One more process than CPUs: none is free, it stays unbound.
      EXPECT_EQ(all[i].cpu, -1);
      EXPECT_EQ(all[i].allowed_after, kernel::allowed_cpus());
    }
  }
  close(release[1]);
  for (const Bound& b : all) end_child(b.pid);
  close(release[0]);
  // The locks went with the processes: a new one gets a CPU again.
  int again[2];
  ASSERT_EQ(pipe(again), 0);
  close(again[1]);
  Bound next = bind_in_child(tmpl, again[0], -1);
  end_child(next.pid);
  close(again[0]);
  EXPECT_GE(next.cpu, 0);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace stubfuzz
