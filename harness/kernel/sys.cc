#include "kernel/sys.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace stubfuzz::kernel {

Result<Fd> pidfd_open(pid_t pid) {
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return Error::from_errno("pidfd_open(pid " + std::to_string(pid) + ")");
  return Fd(static_cast<int>(fd));
}

Result<Fd> pidfd_getfd(int pidfd, int fd, pid_t pid) {
  long got = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
  if (got < 0)
    return Error::from_errno("pidfd_getfd(pid " + std::to_string(pid) + ", fd " +
                             std::to_string(fd) + ")");
  return Fd(static_cast<int>(got));
}

Status pidfd_send_signal(int pidfd, int sig) {
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0)
    return Error::from_errno("pidfd_send_signal(" + std::to_string(sig) + ")");
  return {};
}

bool Exit::killed_by(int sig) const {
  return (code == CLD_KILLED || code == CLD_DUMPED) && status == sig;
}

std::string describe(const Exit& e) {
  switch (e.code) {
    case CLD_EXITED:
      return "exited with " + std::to_string(e.status);
    case CLD_KILLED:
    case CLD_DUMPED:
      if (const char* name = sigabbrev_np(e.status)) return std::string("killed by SIG") + name;
      return "killed by signal " + std::to_string(e.status);
    default:
      return "ended (code " + std::to_string(e.code) + ")";
  }
}

Result<std::optional<Exit>> try_reap(int pidfd) {
  siginfo_t si{};
  if (waitid(static_cast<idtype_t>(P_PIDFD), pidfd, &si, WEXITED | WNOHANG) < 0)
    return Error::from_errno("waitid(P_PIDFD)");
  // A child that made us its tracer (PTRACE_TRACEME) reports its ptrace
  // stops here even without WSTOPPED; it has not ended.
  if (si.si_pid == 0 || si.si_code == CLD_TRAPPED || si.si_code == CLD_STOPPED ||
      si.si_code == CLD_CONTINUED)
    return std::optional<Exit>{};
  return std::optional<Exit>{Exit{si.si_code, si.si_status}};
}

Result<std::optional<Exit>> reap(int pidfd, std::chrono::nanoseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto r = try_reap(pidfd);
    if (!r || r->has_value()) return r;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::optional<Exit>{};
    pollfd p{pidfd, POLLIN, 0};
    // A pidfd turns readable when the process exits.
    if (poll(&p, 1, static_cast<int>(left.count()) + 1) < 0 && errno != EINTR)
      return Error::from_errno("poll(pidfd)");
  }
}

FutexWait futex_wait(const uint32_t* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  if (timeout.count() <= 0) return FutexWait::kTimedOut;
  timespec ts{static_cast<time_t>(timeout.count() / 1000000000),
              static_cast<long>(timeout.count() % 1000000000)};
  if (syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, nullptr, 0) == 0)
    return FutexWait::kWoken;
  switch (errno) {
    case EAGAIN:
      return FutexWait::kValueChanged;
    case ETIMEDOUT:
      return FutexWait::kTimedOut;
    default:
      return FutexWait::kInterrupted;
  }
}

void futex_wake(uint32_t* word, int count) {
  syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
}

Result<Fd> memfd_create(const char* name, unsigned flags) {
  int fd = ::memfd_create(name, flags);
  if (fd < 0) return Error::from_errno(std::string("memfd_create(") + name + ")");
  return Fd(fd);
}

Result<Fd> sealed_memfd(const char* name, std::span<const uint8_t> bytes) {
  auto mfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (!mfd) return mfd.error();
  for (size_t done = 0; done < bytes.size();) {
    const ssize_t n = write(mfd->get(), bytes.data() + done, bytes.size() - done);
    if (n <= 0) return Error::from_errno(std::string("write(") + name + " memfd)");
    done += static_cast<size_t>(n);
  }
  if (fcntl(mfd->get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return Error::from_errno(std::string("fcntl(") + name + " memfd, F_ADD_SEALS)");
  return mfd;
}

namespace {

// PIDFD_GET_INFO (6.13; linux/pidfd.h there): the pid in our namespace by
// one ioctl, where /proc/self/fdinfo costs an open, a read and a close.
// The first 64 bytes of struct pidfd_info are its first version.
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  uint32_t spare0;
};
static_assert(sizeof(PidfdInfo) == 64);
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);
constexpr uint64_t kPidfdInfoPid = 1;
std::atomic<bool> g_no_pidfd_info{false};  // the kernel said it has none

}  // namespace

Result<pid_t> pidfd_pid(int pidfd) {
  if (!g_no_pidfd_info.load(std::memory_order_relaxed)) {
    PidfdInfo info{};
    info.mask = kPidfdInfoPid;
    if (ioctl(pidfd, kPidfdGetInfo, &info) == 0) {
      if ((info.mask & kPidfdInfoPid) && info.pid > 0) return static_cast<pid_t>(info.pid);
    } else if (errno == ESRCH) {
      return Error{"pidfd " + std::to_string(pidfd) + ": the process has ended", ESRCH};
    } else if (errno == ENOTTY || errno == EINVAL) {
      // An older kernel: /proc from now on.
      g_no_pidfd_info.store(true, std::memory_order_relaxed);
    }
  }
  const std::string path = "/proc/self/fdinfo/" + std::to_string(pidfd);
  const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char buf[512] = {};
  const ssize_t n = fd.valid() ? read(fd.get(), buf, sizeof(buf) - 1) : -1;
  if (n <= 0) return Error::from_errno("read(" + path + ")");
  const char* at = std::strstr(buf, "\nPid:");
  if (!at) return Error{path + " has no Pid line", EINVAL};
  const long pid = std::strtol(at + 5, nullptr, 10);
  if (pid <= 0) return Error{path + ": the process has ended", ESRCH};
  return static_cast<pid_t>(pid);
}

Status send_fds(int sock, std::span<const uint8_t> bytes, std::span<const int> fds) {
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  if (fds.size() > 4) return Error{"send_fds: at most 4 fds", EINVAL};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
  std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  if (sendmsg(sock, &m, MSG_NOSIGNAL) < 0) return Error::from_errno("sendmsg(SCM_RIGHTS)");
  return {};
}

Result<std::optional<Fd>> recv_with_fd(int sock, void* buf, size_t len,
                                       std::chrono::milliseconds timeout) {
  pollfd p{sock, POLLIN, 0};
  const int r = poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) return Error::from_errno("poll(socket)");
  if (r == 0)
    return Error{"no answer within " + std::to_string(timeout.count()) + " ms", ETIMEDOUT};
  iovec iov{buf, len};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  const ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  if (n < 0) return Error::from_errno("recvmsg(SCM_RIGHTS)");
  if (static_cast<size_t>(n) != len) return Error{"the peer closed the socket", EPIPE};
  std::optional<Fd> fd;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int got;
      std::memcpy(&got, CMSG_DATA(c), sizeof(got));
      fd.emplace(got);
    }
  return fd;
}

Status seccomp_action_available(uint32_t action) {
  if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) < 0)
    return Error::from_errno("seccomp(SECCOMP_GET_ACTION_AVAIL)");
  return {};
}

int allowed_cpus() {
  cpu_set_t allowed;
  return sched_getaffinity(0, sizeof(allowed), &allowed) == 0 ? CPU_COUNT(&allowed) : 1;
}

Result<int> bind_to_free_cpu(const std::string& lock_dir) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
    return Error::from_errno("sched_getaffinity");
  if (CPU_COUNT(&allowed) <= 1) return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    const std::string path = lock_dir + "/stubfuzz-cpu-" + std::to_string(cpu) + ".lock";
    Fd lock(open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!lock.valid()) return Error::from_errno("open(" + path + ")");
    if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) continue;  // another process has it
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof(one), &one) != 0)
      return Error::from_errno("sched_setaffinity(" + std::to_string(cpu) + ")");
    (void)lock.release();  // held for the process's life
    return cpu;
  }
  return -1;
}

std::vector<std::string> seccomp_actions_logged() {
  std::ifstream in("/proc/sys/kernel/seccomp/actions_logged");
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

bool seccomp_kills_logged(const std::vector<std::string>& logged) {
  return std::any_of(logged.begin(), logged.end(), [](const std::string& w) {
    return w == "kill_process" || w == "kill_thread";
  });
}

}  // namespace stubfuzz::kernel
