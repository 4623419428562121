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

namespace stubfuzz {

namespace {

constexpr int kSharedNamespaces =
    CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr const char* kNsNames[] = {"user", "mnt", "net", "ipc", "uts"};

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

// A helper unshares the namespaces; we map its ids, keep fds to its
// namespaces and reap it.
Result<std::array<int, 5>> make_namespaces() {
  int ready[2], go[2];
  if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) return Error::from_errno("pipe2");
  const pid_t pid = fork();
  if (pid < 0) return Error::from_errno("fork(sandbox helper)");
  if (pid == 0) {
    close(ready[0]);
    close(go[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    alarm(10);  // never outlive a monitor that forgot us
    char e = unshare(kSharedNamespaces) == 0 ? 0 : static_cast<char>(errno);
    (void)!write(ready[1], &e, 1);
    (void)!read(go[0], &e, 1);  // until the monitor has our namespaces
    _exit(0);
  }
  close(ready[1]);
  close(go[0]);
  char e = 1;
  const bool got = read(ready[0], &e, 1) == 1;
  close(ready[0]);
  std::array<int, 5> fds{-1, -1, -1, -1, -1};
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
    if (status) status = write_file(proc + "uid_map", std::to_string(kSandboxUid) + " " +
                                                          std::to_string(host_uid) + " 1\n");
    if (status) status = write_file(proc + "gid_map", std::to_string(kSandboxGid) + " " +
                                                          std::to_string(host_gid) + " 1\n");
    for (size_t i = 0; status && i < fds.size(); i++) {
      fds[i] = open((proc + "ns/" + kNsNames[i]).c_str(), O_RDONLY | O_CLOEXEC);
      if (fds[i] < 0) status = Error::from_errno(std::string("open ns/") + kNsNames[i]);
    }
  }
  close(go[1]);  // the helper exits on EOF
  kill(pid, SIGKILL);
  int wstatus;
  waitpid(pid, &wstatus, 0);
  if (!status) {
    for (int fd : fds)
      if (fd >= 0) close(fd);
    return status.error();
  }
  return fds;
}

}  // namespace

Result<SandboxChild> sandbox_child(const Sandbox& s) {
  if (!s.enabled) return SandboxChild{};
  static std::once_flag once;
  static Result<SandboxChild> shared = Error{"sandbox not made", 0};
  std::call_once(once, [] {
    if (auto r = make_root(); !r) {
      shared = r.error();
      return;
    }
    auto fds = make_namespaces();
    if (!fds) {
      shared = fds.error();
      return;
    }
    SandboxChild c;
    c.enabled = true;
    c.drop_groups = geteuid() == 0;
    // Only a privileged monitor may create a pid namespace outside a new
    // user namespace; an unprivileged one shares its own.
    c.clone_flags = geteuid() == 0 ? CLONE_NEWPID : 0;
    c.ns_fds = *fds;
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
    shared = c;
  });
  return shared;
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
