// The sandbox, seen from the host: where a stub lives (namespaces, uid,
// capabilities, root, limits) and what a stub whose user filter lets every
// call through can reach. Attacks run only in stubs that were first seen in
// their own pid namespace, as nobody, without capabilities, in the empty root.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "filter/syscall_names.h"
#include "fuzz/program.h"
#include "monitor/batch.h"
#include "stub/record.h"
#include "test_support.h"

namespace stubfuzz {
namespace {

using testing_support::LeakFree;
using testing_support::listener_config;
namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The value of `key:` in /proc/<pid>/status, whitespace as the kernel wrote it.
std::string status_field(pid_t pid, const std::string& key) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string link_of(const std::string& path) {
  std::error_code ec;
  return fs::read_symlink(path, ec).string();
}

const std::string& sandbox_root() {
  static const std::string root = [] {
    auto c = sandbox_child(Sandbox{});
    return c.ok() && c->root ? std::string(c->root) : std::string();
  }();
  return root;
}

// Everything the attacks below rely on; empty when the stub is contained.
std::string why_not_contained(const Stub& s) {
  const auto nspid = words(status_field(s.pid(), "NSpid"));
  if (nspid.size() != 2 || nspid.back() != "1")
    return "NSpid is '" + status_field(s.pid(), "NSpid") + "'";
  if (words(status_field(s.pid(), "CapEff")) != std::vector<std::string>{"0000000000000000"})
    return "CapEff is" + status_field(s.pid(), "CapEff");
  if (geteuid() == 0 && words(status_field(s.pid(), "Uid")).at(0) != "65534")
    return "Uid is" + status_field(s.pid(), "Uid");
  if (link_of("/proc/" + std::to_string(s.pid()) + "/root") != sandbox_root())
    return "root is " + link_of("/proc/" + std::to_string(s.pid()) + "/root");
  return "";
}

// ---------------------------------------------------------------------------
// Where a stub lives.

class SandboxedStub : public LeakFree {};

TEST_F(SandboxedStub, RunsInItsOwnPidNamespaceAsPidOne) {
  if (geteuid() != 0) GTEST_SKIP() << "an unprivileged monitor shares its pid namespace";
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  const auto nspid = words(status_field(s->pid(), "NSpid"));
  ASSERT_EQ(nspid.size(), 2u) << "one pid per namespace level";
  EXPECT_EQ(nspid[0], std::to_string(s->pid()));
  EXPECT_EQ(nspid[1], "1");
  EXPECT_EQ(s->data().stub_tid, 1u) << "the stub's own view of its tid";
}

TEST_F(SandboxedStub, SharesNoUserMountNetIpcOrUtsNamespaceWithTheMonitor) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  for (const char* ns : {"user", "mnt", "net", "ipc", "uts", "pid"}) {
    const std::string mine = link_of(std::string("/proc/self/ns/") + ns);
    const std::string its = link_of("/proc/" + std::to_string(s->pid()) + "/ns/" + ns);
    ASSERT_FALSE(its.empty()) << ns;
    EXPECT_NE(its, mine) << ns;
  }
}

TEST_F(SandboxedStub, StubsOfOneHarnessShareNetworkAndIpcButEachHasItsOwnPidNamespace) {
  auto a = Stub::spawn(listener_config());
  auto b = Stub::spawn(listener_config());
  ASSERT_TRUE(a.ok() && b.ok());
  auto ns = [](const Stub& s, const char* name) {
    return link_of("/proc/" + std::to_string(s.pid()) + "/ns/" + name);
  };
  for (const char* shared : {"user", "mnt", "net", "ipc", "uts"})
    EXPECT_EQ(ns(*a, shared), ns(*b, shared));
  if (geteuid() == 0) EXPECT_NE(ns(*a, "pid"), ns(*b, "pid"));
}

TEST_F(SandboxedStub, HasNoCapabilities) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapAmb"})
    EXPECT_EQ(words(status_field(s->pid(), set)), std::vector<std::string>{"0000000000000000"})
        << set;
  EXPECT_EQ(words(status_field(s->pid(), "NoNewPrivs")), std::vector<std::string>{"1"});
}

TEST_F(SandboxedStub, IsHostNobodyWhenTheMonitorIsRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "an unprivileged monitor maps its own uid";
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(words(status_field(s->pid(), "Uid")), std::vector<std::string>(4, "65534"));
  EXPECT_EQ(words(status_field(s->pid(), "Gid")), std::vector<std::string>(4, "65534"));
  EXPECT_EQ(words(status_field(s->pid(), "Groups")), std::vector<std::string>{}) << "groups shed";
}

TEST_F(SandboxedStub, HasTheEmptyReadOnlySandboxDirectoryAsItsRoot) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_FALSE(sandbox_root().empty());
  EXPECT_EQ(link_of("/proc/" + std::to_string(s->pid()) + "/root"), sandbox_root());
  EXPECT_EQ(link_of("/proc/" + std::to_string(s->pid()) + "/cwd"), sandbox_root());
  EXPECT_TRUE(fs::is_empty(sandbox_root()));
  struct stat st {};
  ASSERT_EQ(stat(sandbox_root().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0555u);
}

TEST_F(SandboxedStub, HasTheSandboxResourceLimits) {
  auto s = Stub::spawn(listener_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  std::map<std::string, std::vector<std::string>> limits;  // name -> soft, hard
  std::istringstream in(slurp("/proc/" + std::to_string(s->pid()) + "/limits"));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const std::string name = line.substr(0, 26);
    limits[name.substr(0, name.find_last_not_of(' ') + 1)] = words(line.substr(26));
  }
  auto soft_hard = [&](const std::string& name) {
    auto w = limits[name];
    return w.size() >= 2 ? std::vector<std::string>{w[0], w[1]} : w;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(soft_hard("Max processes"), (V{"1", "1"}));
  EXPECT_EQ(soft_hard("Max open files"), (V{"16", "16"}));
  EXPECT_EQ(soft_hard("Max address space"), (V{"268435456", "268435456"}));
  EXPECT_EQ(soft_hard("Max file size"), (V{"0", "0"}));
  EXPECT_EQ(soft_hard("Max core file size"), (V{"0", "0"}));
  EXPECT_EQ(soft_hard("Max locked memory"), (V{"0", "0"}));
}

// ---------------------------------------------------------------------------
// A hijacked stub under a filter that allows everything.

// A process of the test, outside the sandbox, that reports every signal it
// gets (all are blocked and taken with sigwaitinfo; only SIGKILL/SIGSTOP
// cannot be, and those show in waitid).
class Canary {
 public:
  explicit Canary(uid_t uid) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(p[0]);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      sigset_t all;
      sigfillset(&all);
      sigprocmask(SIG_BLOCK, &all, nullptr);
      // Raw setresuid: glibc's would signal threads this child does not have.
      if (uid != 0 &&
          (syscall(SYS_setresgid, uid, uid, uid) < 0 || syscall(SYS_setresuid, uid, uid, uid) < 0))
        _exit(3);
      char ready = 0;
      (void)!write(p[1], &ready, 1);
      for (;;) {
        const int sig = sigwaitinfo(&all, nullptr);
        if (sig > 0) {
          const char c = static_cast<char>(sig);
          (void)!write(p[1], &c, 1);
        }
      }
    }
    close(p[1]);
    report_ = p[0];
    char ready = 1;
    if (pid_ < 0 || read(report_, &ready, 1) != 1 || ready != 0) pid_ = -1;
    fcntl(report_, F_SETFL, O_NONBLOCK);
  }
  ~Canary() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (report_ >= 0) close(report_);
  }
  pid_t pid() const { return pid_; }
  // "" while alive and never signalled; else what happened to it.
  std::string harm() const {
    if (pid_ <= 0) return "canary did not start";
    siginfo_t si{};
    if (waitid(P_PID, pid_, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT) < 0)
      return "waitid failed";
    if (si.si_pid == pid_)
      return "ended or stopped (code " + std::to_string(si.si_code) + ", status " +
             std::to_string(si.si_status) + ")";
    char sig;
    if (read(report_, &sig, 1) == 1) return "got signal " + std::to_string(sig);
    return "";
  }

 private:
  pid_t pid_ = -1;
  int report_ = -1;
};

// A file outside the sandbox that nothing may open, change or remove.
class CanaryFile {
 public:
  CanaryFile() {
    char path[] = "/tmp/stubfuzz-canary-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) return;
    (void)!write(fd, kContent, sizeof(kContent) - 1);
    fstat(fd, &before_);
    close(fd);
    chmod(path, 0666);  // writable by anyone, nobody included: only the sandbox stands between
    path_ = path;
  }
  ~CanaryFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string harm() const {
    struct stat now {};
    if (path_.empty()) return "canary file was not made";
    if (stat(path_.c_str(), &now) < 0) return "canary file is gone";
    if (slurp(path_) != kContent) return "canary file changed";
    if (now.st_mtim.tv_sec != before_.st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != before_.st_mtim.tv_nsec)
      return "canary file's mtime changed";
    return "";
  }

 private:
  static constexpr char kContent[] = "stubfuzz canary\n";
  std::string path_;
  struct stat before_ {};
};

// A TCP listener on the host's loopback that must never see a connection.
class CanaryPort {
 public:
  CanaryPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) < 0 || listen(fd_, 4) < 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) < 0)
      return;
    port_ = ntohs(a.sin_port);
  }
  ~CanaryPort() { close(fd_); }
  uint16_t port() const { return port_; }
  std::string harm() const {
    if (!port_) return "canary port was not made";
    const int c = accept(fd_, nullptr, nullptr);
    if (c >= 0) {
      close(c);
      return "a connection reached the host's loopback";
    }
    return errno == EAGAIN ? "" : "accept: " + errno_name(errno);
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// The sandbox alone: a user filter that allows everything and no safety net,
// so every attack below reaches the kernel and only the sandbox stops it.
StubConfig allow_all_config(bool safety_net = false) {
  StubConfig c = listener_config();
  c.filter = filter::Builder().ret(SECCOMP_RET_ALLOW).build();
  c.seccomp_flags = 0;
  if (!safety_net) c.safety_net = {};
  return c;
}

class HostSafety : public LeakFree {
 protected:
  void SetUp() override {
    LeakFree::SetUp();
    if (geteuid() != 0) GTEST_SKIP() << "attacks are run only in the root monitor's full sandbox";
    ASSERT_TRUE(allow_all_config().sandbox.enabled);
  }
  // The guard: no record runs in a stub that is not contained.
  Result<Stub> spawn_contained(bool safety_net = false) {
    auto s = Stub::spawn(allow_all_config(safety_net));
    if (!s) return s.error();
    if (auto why = why_not_contained(*s); !why.empty())
      return Error{"stub not contained: " + why, 0};
    return s;
  }
  // Puts `bytes` at `offset` of the stub's scratch; returns its address in the stub.
  static uint64_t put(Stub& s, size_t offset, const void* bytes, size_t n) {
    EXPECT_TRUE(s.write_scratch({static_cast<const uint8_t*>(bytes), n}, offset).ok());
    return s.layout().scratch() + offset;
  }
  static uint64_t put(Stub& s, size_t offset, const std::string& text) {
    return put(s, offset, text.c_str(), text.size() + 1);
  }
  std::string harm() const {
    for (const std::string& h :
         {root_canary_.harm(), nobody_canary_.harm(), file_.harm(), port_.harm()})
      if (!h.empty()) return h;
    if (!fs::is_empty(sandbox_root())) return "the sandbox root is no longer empty";
    return "";
  }

  Canary root_canary_{0};
  // Same host uid as the stub: only the pid namespace keeps kill(-1) from it.
  Canary nobody_canary_{65534};
  CanaryFile file_;
  CanaryPort port_;
};

int64_t neg(int e) { return -static_cast<int64_t>(e); }

// Field 19 of /proc/<pid>/stat (after the parenthesised command name).
std::string nice_of(pid_t pid) {
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto w = words(stat.substr(stat.rfind(')') + 1));
  return w.size() > 16 ? w[16] : "";
}

TEST_F(HostSafety, CanariesAreUnharmedBeforeAnyAttack) { EXPECT_EQ(harm(), ""); }

TEST_F(HostSafety, SignalsFromTheStubReachNoProcessOutsideItsPidNamespace) {
  auto s = spawn_contained();
  ASSERT_TRUE(s.ok()) << s.error().message;  // else kill(-1) must not run
  auto o = run_batch(
      *s, {
              from_stub(SYS_kill, {static_cast<uint64_t>(-1), SIGKILL}),
              from_stub(SYS_kill, {static_cast<uint64_t>(root_canary_.pid()), SIGKILL}),
              from_stub(SYS_kill, {static_cast<uint64_t>(nobody_canary_.pid()), SIGTERM}),
              from_stub(SYS_tgkill, {static_cast<uint64_t>(nobody_canary_.pid()),
                                     static_cast<uint64_t>(nobody_canary_.pid()), SIGTERM}),
              from_stub(SYS_ptrace, {PTRACE_ATTACH, 1}),
              from_stub(SYS_ptrace, {PTRACE_ATTACH, static_cast<uint64_t>(nobody_canary_.pid())}),
              // Every process of the stub's uid, i.e. host nobody: only those it sees.
              from_stub(SYS_setpriority, {PRIO_USER, kSandboxUid, 19}),
              from_stub(SYS_getpid),
          });
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_EQ(o->results[0].ret, neg(ESRCH)) << "kill(-1) sees no other process";
  EXPECT_EQ(o->results[1].ret, neg(ESRCH));
  EXPECT_EQ(o->results[2].ret, neg(ESRCH));
  EXPECT_EQ(o->results[3].ret, neg(ESRCH));
  EXPECT_EQ(o->results[4].ret, neg(EPERM)) << "pid 1 is the stub itself";
  EXPECT_EQ(o->results[5].ret, neg(ESRCH));
  EXPECT_EQ(o->results[6].ret, 0);
  EXPECT_EQ(o->results[7].ret, 1);
  EXPECT_EQ(nice_of(nobody_canary_.pid()), "0") << "setpriority(PRIO_USER) reached outside";
  EXPECT_EQ(harm(), "");
}

TEST_F(HostSafety, TheStubCanNeitherReachNorCreateFilesOutsideItsEmptyRoot) {
  auto s = spawn_contained();
  ASSERT_TRUE(s.ok()) << s.error().message;
  const uint64_t outside = put(*s, 0, file_.path());
  const uint64_t dotdot = put(*s, 256, "../../../.." + file_.path());
  const uint64_t in_root = put(*s, 768, "/escape");
  const uint64_t dir = put(*s, 832, "/d");
  const uint64_t flags = O_CREAT | O_WRONLY | O_TRUNC;
  auto o = run_batch(
      *s, {
              from_stub(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), outside, flags, 0666}),
              from_stub(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), dotdot, flags, 0666}),
              from_stub(SYS_unlinkat, {static_cast<uint64_t>(AT_FDCWD), outside, 0}),
              from_stub(SYS_openat, {static_cast<uint64_t>(AT_FDCWD), in_root, flags, 0666}),
              from_stub(SYS_mkdirat, {static_cast<uint64_t>(AT_FDCWD), dir, 0777}),
              from_stub(SYS_chroot, {put(*s, 900, "/")}),
              from_stub(SYS_chmod, {put(*s, 900, "/"), 0777}),
          });
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_EQ(o->results[0].ret, neg(ENOENT)) << "/tmp does not exist in the empty root";
  EXPECT_EQ(o->results[1].ret, neg(ENOENT)) << ".. stops at the root";
  EXPECT_EQ(o->results[2].ret, neg(ENOENT));
  EXPECT_EQ(o->results[3].ret, neg(EACCES)) << "the root is read-only to the stub";
  EXPECT_EQ(o->results[4].ret, neg(EACCES));
  EXPECT_EQ(o->results[5].ret, neg(EPERM));
  EXPECT_EQ(o->results[6].ret, neg(EPERM)) << "the root is not the stub's";
  EXPECT_EQ(harm(), "");
}

TEST_F(HostSafety, PrivilegedCallsFailForLackOfCapabilities) {
  auto s = spawn_contained();
  ASSERT_TRUE(s.ok()) << s.error().message;
  const uint64_t none = put(*s, 0, "none");
  const uint64_t root = put(*s, 16, "/");
  const uint64_t tmpfs = put(*s, 32, "tmpfs");
  const uint64_t name = put(*s, 48, "pwned");
  auto o =
      run_batch(*s, {
                        // A magic no kernel accepts: even a reboot that got past the capability
                        // check would stop at EINVAL.
                        from_stub(SYS_reboot, {0xdeadbeef, 0x5eed, LINUX_REBOOT_CMD_POWER_OFF}),
                        from_stub(SYS_mount, {none, root, tmpfs, 0, 0}),
                        from_stub(SYS_setuid, {0}),
                        from_stub(SYS_setresuid, {0, 0, 0}),
                        from_stub(SYS_sethostname, {name, 5}),
                        from_stub(SYS_unshare, {CLONE_NEWUSER}),
                        from_stub(SYS_unshare, {CLONE_NEWNS | CLONE_NEWNET}),
                        from_stub(SYS_iopl, {3}),  // ENOSYS where the kernel has no iopl at all
                        from_stub(SYS_fork),
                        from_stub(SYS_getuid),
                    });
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_EQ(o->results[0].ret, neg(EPERM));
  EXPECT_EQ(o->results[1].ret, neg(EPERM));
  EXPECT_EQ(o->results[2].ret, neg(EINVAL)) << "uid 0 is not mapped in the sandbox";
  EXPECT_EQ(o->results[3].ret, neg(EINVAL));
  EXPECT_EQ(o->results[4].ret, neg(EPERM));
  EXPECT_EQ(o->results[5].ret, neg(EPERM)) << "a chrooted process may not make a user namespace";
  EXPECT_EQ(o->results[6].ret, neg(EPERM));
  EXPECT_TRUE(o->results[7].ret == neg(EPERM) || o->results[7].ret == neg(ENOSYS))
      << o->results[7].ret;
  EXPECT_EQ(o->results[8].ret, neg(EAGAIN)) << "RLIMIT_NPROC is 1";
  EXPECT_EQ(o->results[9].ret, kSandboxUid);
  EXPECT_EQ(words(status_field(s->pid(), "Uid")), std::vector<std::string>(4, "65534"));
  EXPECT_EQ(harm(), "");
}

TEST_F(HostSafety, TheStubsNetworkHasNoRouteToTheHostsLoopback) {
  auto s = spawn_contained();
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto o = run_batch(*s, {from_stub(SYS_socket, {AF_INET, SOCK_STREAM, 0})});
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  const int64_t fd = o->results[0].ret;
  ASSERT_GE(fd, 0) << "sockets may be made; there is nowhere to go";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const uint64_t addr = put(*s, 0, &a, sizeof(a));
  o = run_batch(*s, {from_stub(SYS_connect, {static_cast<uint64_t>(fd), addr, sizeof(a)})});
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  EXPECT_EQ(o->results[0].ret, neg(ENETUNREACH)) << "loopback is down in the sandbox's network";
  EXPECT_EQ(harm(), "");
}

TEST_F(HostSafety, TheSafetyNetDeniesTheAttacksWithEpermBeforeTheSandboxIsReached) {
  auto s = spawn_contained(/*safety_net=*/true);
  ASSERT_TRUE(s.ok()) << s.error().message;
  const uint64_t none = put(*s, 0, "none");
  const uint64_t root = put(*s, 16, "/");
  auto o =
      run_batch(*s, {
                        from_stub(SYS_kill, {static_cast<uint64_t>(-1), SIGKILL}),
                        from_stub(SYS_kill, {static_cast<uint64_t>(nobody_canary_.pid()), SIGKILL}),
                        from_stub(SYS_ptrace, {PTRACE_ATTACH, 1}),
                        from_stub(SYS_reboot, {0xdeadbeef, 0x5eed, LINUX_REBOOT_CMD_POWER_OFF}),
                        from_stub(SYS_mount, {none, root, none, 0, 0}),
                        from_stub(SYS_unshare, {CLONE_NEWUSER}), from_stub(SYS_fork),
                        from_stub(SYS_kill, {1, 0}),  // itself: allowed
                    });
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  for (int i = 0; i < 7; i++) EXPECT_EQ(o->results[i].ret, neg(EPERM)) << "record " << i;
  EXPECT_EQ(o->results[7].ret, 0);
  EXPECT_EQ(harm(), "");
}

// Calls left out of the random run: not because the sandbox should fail to
// stop them, but because what they do is shared with the host by design.
bool left_out(bool i386, uint32_t nr) {
  static const std::vector<std::string> names = {
      "add_key",
      "request_key",
      "keyctl",  // nobody's key quota is host-wide
      "io_uring_setup",
      "io_uring_enter",
      "io_uring_register",  // kernel workers; a large attack surface
      "sync",
      "syncfs",  // flushes the host's disks
      "prctl",   // PR_SET_PDEATHSIG 0 would let a stub outlive a crashed test
  };
  const auto arch = i386 ? filter::Arch::kI386 : filter::Arch::kX86_64;
  const int base = static_cast<int>(nr & ~fuzz::kX32Bit);
  for (const auto& n : names)
    if (filter::syscall_number(arch, n) == base) return true;
  return false;
}

TEST_F(HostSafety, TenSecondsOfRandomSyscallsUnderAnAllowAllFilterHarmNothingOutside) {
  const uint64_t seed = std::random_device{}();
  std::mt19937_64 rng(seed);
  std::optional<Stub> stub;
  int stubs = 0, batches = 0, records = 0, left = 0;
  std::map<BatchEnd, int> ends;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!stub || !stub->usable()) {
      stub.reset();
      auto s = spawn_contained();
      ASSERT_TRUE(s.ok()) << s.error().message;
      stub.emplace(std::move(*s));
      stubs++;
    }
    std::vector<uint8_t> bytes(rng() % 256 + 1);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    std::vector<stub_record> batch;
    for (const auto& r : fuzz::decode(bytes).records) {
      if (left_out(r.i386, r.nr)) {
        left++;
        continue;
      }
      batch.push_back(fuzz::resolve(r, stub->layout()));
    }
    if (batch.empty()) continue;
    auto o = run_batch(*stub, batch, std::chrono::milliseconds(200));
    batches++;
    records += static_cast<int>(batch.size());
    // A stub may scribble over its own data page; the handle then reports
    // it ended. Either way: a fresh stub.
    if (!o.ok() || o->end != BatchEnd::kCompleted) {
      if (o.ok()) ends[o->end]++;
      stub.reset();
    }
    ASSERT_EQ(harm(), "") << "seed " << seed << ", batch " << batches;
  }
  stub.reset();
  EXPECT_EQ(harm(), "") << "seed " << seed;
  EXPECT_GT(stubs, 1);
  std::cout << "seed " << seed << ": " << records << " records in " << batches << " batches, "
            << stubs << " stubs (" << ends[BatchEnd::kStubDied] << " died, "
            << ends[BatchEnd::kTimedOut] << " timed out), " << left << " left out\n";
}

}  // namespace
}  // namespace stubfuzz
