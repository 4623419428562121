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
#include "test_support.h"

namespace stubfuzz {
namespace {

using testing_support::LeakFree;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// /proc/<pid>/maps without inode numbers: address range, protections, path.
std::string mappings(pid_t pid) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/maps"));
  std::string line, out;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string range, perms, offset, dev, inode, path;
    f >> range >> perms >> offset >> dev >> inode;
    std::getline(f, path);
    path.erase(0, path.find_first_not_of(' '));
    // The second thread's stack: 64 KiB, anonymous, wherever mmap put it.
    const auto dash = range.find('-');
    if (path.empty() && perms == "rw-p" && dash != std::string::npos &&
        std::stoull(range.substr(dash + 1), nullptr, 16) -
                std::stoull(range.substr(0, dash), nullptr, 16) ==
            64 * 1024)
      range = "(thread stack)";
    // The stack and vdso move with ASLR; their presence is compared.
    if (path == "[stack]" || path == "[vdso]" || path == "[vvar]" || path == "[vsyscall]" ||
        path == "[vvar_vclock]")
      range = "-";
    out += range + " " + perms + " " + path + "\n";
  }
  return out;
}

// The lines of /proc/<pid>/status that make a stub what it is.
std::string status_lines(pid_t pid) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line, out;
  const std::regex keep(
      "^(Uid|Gid|Groups|NoNewPrivs|Seccomp|Seccomp_filters|Threads|SigBlk|SigIgn|SigCgt|CapInh|"
      "CapPrm|CapEff|CapBnd|CapAmb|Speculation_Store_Bypass):.*");
  while (std::getline(in, line))
    if (std::regex_match(line, keep)) out += line + "\n";
  return out;
}

std::string fd_table(const Stub& s) {
  std::string out;
  for (int fd = 0; fd < 8; fd++) {
    std::string t = s.fd_target(fd);
    if (t.rfind("socket:", 0) == 0) t = "socket";
    out += std::to_string(fd) + "=" + t + "\n";
  }
  return out;
}

std::string namespaces(pid_t pid) {
  std::string out;
  for (const char* ns : {"user", "mnt", "net", "ipc", "uts", "pid", "cgroup"}) {
    char target[128] = {};
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + ns;
    (void)!readlink(path.c_str(), target, sizeof(target) - 1);
    out += std::string(ns) + "=" + target + "\n";
  }
  return out;
}

// Every filter installed, newest first, as root can read them.
std::string filters(pid_t pid) {
  if (geteuid() != 0) return "(not root)";
  auto all = kernel::seccomp_filters(pid);
  if (!all) return "(" + all.error().message + ")";
  std::string out;
  for (size_t i = 0; i < all->size(); i++) {
    out += "filter " + std::to_string(i) + ":";
    for (const sock_filter& f : (*all)[i])
      out += " " + std::to_string(f.code) + "/" + std::to_string(f.jt) + "/" +
             std::to_string(f.jf) + "/" + std::to_string(f.k);
    out += "\n";
  }
  return out;
}

std::map<std::string, std::string> portrait(const Stub& s) {
  const pid_t pid = s.pid();
  std::map<std::string, std::string> p;
  p["maps"] = mappings(pid);
  p["status"] = status_lines(pid);
  p["fds"] = fd_table(s);
  p["namespaces"] = namespaces(pid);
  p["limits"] = slurp("/proc/" + std::to_string(pid) + "/limits");
  p["filters"] = filters(pid);
  p["seccomp_ret"] = std::to_string(s.seccomp_ret());
  return p;
}

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
