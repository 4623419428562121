#include "stub/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>

namespace stubfuzz {

namespace {

constexpr int kSharedNamespaces =
    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr const char* kNsNames[] = {"user", "mnt", "net", "ipc", "uts"};

// One empty root for every stub of the process, made once under the lock in
// shared_sandbox() and removed at exit (atexit takes no argument).
char g_root[64];
void remove_root() { rmdir(g_root); }

Status make_root() {
  const char* tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/stubfuzz-root-XXXXXX";
  if (path.size() >= sizeof(g_root)) path = "/tmp/stubfuzz-root-XXXXXX";
  path.copy(g_root, path.size());
  if (!mkdtemp(g_root)) return Error::from_errno("mkdtemp(sandbox root)");
  chmod(g_root, 0555);
  std::atexit(remove_root);
  return {};
}

Status write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  if (!out) return Error::from_errno("write " + path);
  return {};
}

// The shared pid namespace's init: pid 1 there, it keeps the namespace
// alive until the monitor process is gone (its end of `lifeline` closes),
// then exits, which kills every stub still in the namespace.
[[noreturn]] void pid_ns_init(int lifeline) {
  for (int fd = 0; fd < 1024; fd++)
    if (fd != lifeline) close(fd);
  char c;
  while (read(lifeline, &c, 1) != 0) {
  }
  _exit(0);
}

struct Namespaces {
  std::array<int, 5> fds{-1, -1, -1, -1, -1};
  int pid_fd = -1;
};

// A helper unshares the namespaces (and, for a root monitor, a pid namespace
// with an init of its own); we map its ids, keep fds to its namespaces and
// reap it.
Result<Namespaces> make_namespaces() {
  int ready[2], go[2], lifeline[2];
  if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(lifeline, O_CLOEXEC) < 0)
    return Error::from_errno("pipe2");
  const bool pid_ns = geteuid() == 0;
  const pid_t pid = fork();
  if (pid < 0) return Error::from_errno("fork(sandbox helper)");
  if (pid == 0) {
    close(ready[0]);
    close(go[1]);
    close(lifeline[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(10);  // never outlive a monitor that forgot us
    char e = unshare(kSharedNamespaces | (pid_ns ? CLONE_NEWPID : 0)) == 0 ? 0 : errno;
    if (!e && pid_ns) {
      const pid_t init = fork();
      if (init == 0) pid_ns_init(lifeline[0]);
      if (init < 0) e = static_cast<char>(errno);
    }
    (void)!write(ready[1], &e, 1);
    (void)!read(go[0], &e, 1);  // until the monitor has our namespaces
    _exit(0);
  }
  close(lifeline[0]);  // the write end stays open, unused, for the process's life
  close(ready[1]);
  close(go[0]);
  char e = 1;
  const bool got = read(ready[0], &e, 1) == 1;
  close(ready[0]);
  Namespaces ns;
  std::array<int, 5>& fds = ns.fds;
  Status status;
  if (!got || e) {
    status = Error::from_errno(
        "the sandbox needs user namespaces (see stubfuzz doctor; --unsafe runs without it, "
        "only on a machine you do not care about): unshare(CLONE_NEWUSER|CLONE_NEWNS|...)",
        got ? e : EIO);
  } else {
    const std::string proc = "/proc/" + std::to_string(pid) + "/";
    const uid_t host_uid = geteuid() == 0 ? 65534 : geteuid();
    const gid_t host_gid = geteuid() == 0 ? 65534 : getegid();
    status = write_file(proc + "setgroups", "deny");
    if (status)
      status = write_file(proc + "uid_map",
                          std::to_string(kSandboxUid) + " " + std::to_string(host_uid) + " 1\n");
    if (status)
      status = write_file(proc + "gid_map",
                          std::to_string(kSandboxGid) + " " + std::to_string(host_gid) + " 1\n");
    for (size_t i = 0; status && i < fds.size(); i++) {
      fds[i] = open((proc + "ns/" + kNsNames[i]).c_str(), O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0) status = Error::from_errno(std::string("open ns/") + kNsNames[i]);
    }
    if (status && pid_ns) {
      ns.pid_fd = open((proc + "ns/pid_for_children").c_str(), O_RDONLY | O_CLOEXEC);
      if (ns.pid_fd < 0) status = Error::from_errno("open ns/pid_for_children");
    }
  }
  close(go[1]);  // the helper exits on EOF
  kill(pid, SIGKILL);
  int wstatus;
  waitpid(pid, &wstatus, 0);
  if (!status) {
    for (int fd : fds)
      if (fd >= 0) close(fd);
    if (ns.pid_fd >= 0) close(ns.pid_fd);
    close(lifeline[1]);
    return status.error();
  }
  return ns;
}

}  // namespace

// Made on first success; a failure (say EMFILE) is returned and tried again
// next time rather than remembered.
Result<SandboxChild> shared_sandbox() {
  static std::mutex mu;
  static std::optional<SandboxChild> made;
  static bool root_made = false;
  std::lock_guard lock(mu);
  if (made) return *made;
  if (!root_made) {
    if (auto r = make_root(); !r) return r.error();
    root_made = true;
  }
  auto ns = make_namespaces();
  if (!ns) return ns.error();
  SandboxChild c;
  c.enabled = true;
  c.drop_groups = geteuid() == 0;
  // Only a privileged monitor may create a pid namespace outside a new
  // user namespace; an unprivileged one shares its own.
  c.clone_flags = geteuid() == 0 ? CLONE_NEWPID : 0;
  c.ns_fds = ns->fds;
  c.pid_ns_fd = ns->pid_fd;
  c.root = g_root;
  // The stub needs one process, a handful of fds and a few MiB.
  c.limits = {{
      {RLIMIT_NPROC, {1, 1}},
      {RLIMIT_NOFILE, {16, 16}},
      {RLIMIT_AS, {256ul << 20, 256ul << 20}},
      {RLIMIT_FSIZE, {0, 0}},
      {RLIMIT_CORE, {0, 0}},
      {RLIMIT_MEMLOCK, {0, 0}},
  }};
  made = c;
  return c;
}

bool has_own_pid_ns(const Sandbox& s) { return s.enabled && !s.shared_pid_ns && geteuid() == 0; }

bool uses_shared_pid_ns(const Sandbox& s) { return s.enabled && s.shared_pid_ns && geteuid() == 0; }

Result<SandboxChild> sandbox_child(const Sandbox& s) {
  if (!s.enabled) return SandboxChild{};
  auto c = shared_sandbox();
  if (!c) return c;
  SandboxChild child = *c;
  if (uses_shared_pid_ns(s)) child.clone_flags = 0;  // the thread joined it
  return child;
}

Status sandbox_join_pid_ns(const Sandbox& s) {
  // setns(CLONE_NEWPID) moves the calling thread's future children only:
  // each thread that spawns stubs joins once.
  thread_local bool joined = false;
  if (joined || !uses_shared_pid_ns(s)) return {};
  auto c = shared_sandbox();
  if (!c) return c.error();
  if (setns(c->pid_ns_fd, CLONE_NEWPID) < 0)
    return Error::from_errno("setns(shared pid namespace)");
  joined = true;
  return {};
}

__attribute__((no_sanitize("address", "undefined"))) int sandbox_enter(const SandboxChild& c) {
  if (!c.enabled) return 0;
  if (c.drop_groups && syscall(SYS_setgroups, 0, nullptr) < 0) return errno;
  // The user namespace first: it grants the capabilities the others need.
  for (int fd : c.ns_fds)
    if (syscall(SYS_setns, fd, 0) < 0) return errno;
  if (syscall(SYS_chroot, c.root) < 0 || syscall(SYS_chdir, "/") < 0) return errno;
  // Its own session and process group: kill(0, ...) reaches only itself.
  if (syscall(SYS_setsid) < 0) return errno;
  if (syscall(SYS_setresgid, kSandboxGid, kSandboxGid, kSandboxGid) < 0 ||
      syscall(SYS_setresuid, kSandboxUid, kSandboxUid, kSandboxUid) < 0)
    return errno;
  for (const auto& [resource, limit] : c.limits)
    if (syscall(SYS_prlimit64, 0, resource, &limit, nullptr) < 0) return errno;
  return 0;
}

}  // namespace stubfuzz
