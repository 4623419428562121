#include "kernel/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/fd.h"

namespace stubfuzz::kernel {

namespace {

// PF_EXITING, PF_DUMPCORE, PF_SIGNALED (linux/sched.h), in /proc/.../stat.
constexpr unsigned kDyingFlags = 0x4 | 0x200 | 0x400;
constexpr unsigned long long kFatalSignals = (1ull << (SIGSYS - 1)) | (1ull << (SIGKILL - 1)) |
                                             (1ull << (SIGSEGV - 1)) | (1ull << (SIGILL - 1)) |
                                             (1ull << (SIGBUS - 1));

bool read_text(const std::string& path, char* buf, size_t len) {
  const Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const ssize_t n = fd.valid() ? read(fd.get(), buf, len - 1) : -1;
  buf[n > 0 ? n : 0] = 0;
  return n > 0;
}

void add_task(const std::string& task, TaskSample& total) {
  char buf[2048];  // status has SigPnd past its first 600 bytes
  unsigned long long cpu = 0;
  if (read_text(task + "/schedstat", buf, sizeof(buf)) && std::sscanf(buf, "%llu", &cpu) == 1)
    total.cpu_ns += cpu;
  // State and flags follow the command name's closing parenthesis.
  if (read_text(task + "/stat", buf, sizeof(buf)))
    if (const char* paren = std::strrchr(buf, ')'); paren && paren[1] == ' ') {
      char state = 0;
      unsigned flags = 0;
      if (std::sscanf(paren + 2, "%c %*d %*d %*d %*d %*d %u", &state, &flags) == 2) {
        total.all_asleep = total.all_asleep && state == 'S';
        total.dying = total.dying || (flags & kDyingFlags) || state == 'Z' || state == 'X';
      }
    }
  // A fatal signal queued but not yet acted on (a filter's KILL_PROCESS is a
  // forced SIGSYS, then a core dump attempt).
  if (read_text(task + "/status", buf, sizeof(buf))) {
    for (const char* key : {"SigPnd:", "ShdPnd:"})
      if (const char* at = std::strstr(buf, key)) {
        const unsigned long long pending = std::strtoull(at + std::strlen(key), nullptr, 16);
        total.dying = total.dying || (pending & kFatalSignals);
      }
    // The filter's KILL_PROCESS goes through the core dump path even with
    // RLIMIT_CORE 0: the killed thread waits there, still "in" its call,
    // for the others to stop, with its signal already taken.
    if (const char* at = std::strstr(buf, "CoreDumping:"))
      total.dying = total.dying || std::atoi(at + std::strlen("CoreDumping:")) != 0;
  }
}

}  // namespace

TaskSample sample_tasks(pid_t pid) {
  TaskSample total;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return total;
  while (const dirent* e = readdir(d))
    if (e->d_name[0] != '.') add_task(dir + "/" + e->d_name, total);
  closedir(d);
  return total;
}

namespace {

// One thread's /proc directory: asleep interruptibly (state S) in a syscall.
bool read_sleeping(const std::string& task, SleepingSyscall* s) {
  char buf[512];
  // The state follows the command name's closing parenthesis.
  const char* paren = nullptr;
  bool ok = read_text(task + "/stat", buf, sizeof(buf)) && (paren = std::strrchr(buf, ')')) &&
            paren[1] == ' ' && paren[2] == 'S';
  // "running" for a thread on a CPU, "-1 sp pc" outside a syscall.
  return ok && read_text(task + "/syscall", buf, sizeof(buf)) &&
         std::sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx", &s->nr, &s->args[0], &s->args[1],
                     &s->args[2], &s->args[3], &s->args[4], &s->args[5]) == 7 &&
         s->nr >= 0;
}

}  // namespace

std::optional<std::vector<SleepingSyscall>> sleeping_syscalls(pid_t pid, bool leader_only) {
  std::vector<SleepingSyscall> all;
  const std::string proc = "/proc/" + std::to_string(pid);
  if (leader_only) {
    // /proc/<pid>/stat and syscall are the leader's own.
    SleepingSyscall s;
    s.tid = pid;
    if (!read_sleeping(proc, &s)) return std::nullopt;
    all.push_back(s);
    return all;
  }
  const std::string dir = proc + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return std::nullopt;
  bool ok = true;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    SleepingSyscall s;
    s.tid = static_cast<pid_t>(std::atoi(e->d_name));
    if (!(ok = read_sleeping(dir + "/" + e->d_name, &s))) break;
    all.push_back(s);
  }
  closedir(d);
  if (!ok || all.empty()) return std::nullopt;
  return all;
}

std::string fd_target(pid_t pid, int fd) {
  char target[256] = {};
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  const ssize_t n = readlink(path.c_str(), target, sizeof(target) - 1);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : std::string();
}

Result<std::vector<std::vector<sock_filter>>> seccomp_filters(pid_t pid) {
  if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0)
    return Error::from_errno("ptrace(PTRACE_SEIZE) of pid " + std::to_string(pid));
  struct Detach {
    pid_t pid;
    ~Detach() { ptrace(PTRACE_DETACH, pid, 0, 0); }
  } detach{pid};
  int status = 0;
  if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0 || waitpid(pid, &status, __WALL) != pid)
    return Error::from_errno("ptrace(PTRACE_INTERRUPT) of pid " + std::to_string(pid));
  if (!WIFSTOPPED(status)) return Error{"pid " + std::to_string(pid) + " ended", ESRCH};
  std::vector<std::vector<sock_filter>> out;
  for (long i = 0;; i++) {
    std::vector<sock_filter> prog(BPF_MAXINSNS);
    const long n =
        ptrace(static_cast<__ptrace_request>(PTRACE_SECCOMP_GET_FILTER), pid, i, prog.data());
    if (n < 0 && errno == ENOENT) break;
    if (n < 0)
      return Error::from_errno("ptrace(PTRACE_SECCOMP_GET_FILTER)" +
                               std::string(errno == EACCES ? ": needs root (CAP_SYS_ADMIN)" : ""));
    prog.resize(static_cast<size_t>(n));
    out.push_back(std::move(prog));
  }
  return out;
}

}  // namespace stubfuzz::kernel
