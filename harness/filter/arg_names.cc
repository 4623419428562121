#include "filter/arg_names.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace stubfuzz::filter {

namespace {

struct Named {
  uint64_t value;
  const char* name;
};

// What an argument holds: one of several values, or a set of flag bits.
struct ArgKind {
  std::vector<std::string_view> syscalls;
  int arg;
  bool flags;
  std::vector<Named> names;
};

#define N(x) \
  Named { static_cast<uint64_t>(x), #x }

// One table, one entry per kind of argument value (long because it is data).
const std::vector<ArgKind>& kinds() {
  static const std::vector<ArgKind> k = {
      {{"ioctl"},
       1,
       false,
       {N(SECCOMP_IOCTL_NOTIF_RECV),
        N(SECCOMP_IOCTL_NOTIF_SEND),
        N(SECCOMP_IOCTL_NOTIF_ID_VALID),
        N(SECCOMP_IOCTL_NOTIF_ADDFD),
#ifdef SECCOMP_IOCTL_NOTIF_SET_FLAGS
        N(SECCOMP_IOCTL_NOTIF_SET_FLAGS),
#endif
        N(TCGETS),
        N(TCSETS),
        N(TIOCGWINSZ),
        N(TIOCSWINSZ),
        N(TIOCSTI),
        N(TIOCGPGRP),
        N(TIOCSPGRP),
        N(TIOCGPTN),
        N(TIOCSPTLCK),
        N(TIOCSCTTY),
        N(TIOCNOTTY),
        N(TIOCGSID),
        N(TIOCEXCL),
        N(TIOCNXCL),
        N(TCFLSH),
        N(TCSBRK),
        N(TCXONC),
        N(FIONREAD),
        N(FIONBIO),
        N(FIOCLEX),
        N(FIONCLEX),
        N(FIOASYNC)}},
      {{"mmap", "mmap2", "mprotect", "pkey_mprotect"},
       2,
       true,
       {N(PROT_READ), N(PROT_WRITE), N(PROT_EXEC), N(PROT_GROWSDOWN), N(PROT_GROWSUP)}},
      {{"mmap", "mmap2"},
       3,
       true,
       {N(MAP_SHARED_VALIDATE), N(MAP_SHARED), N(MAP_PRIVATE), N(MAP_FIXED), N(MAP_ANONYMOUS),
        N(MAP_32BIT), N(MAP_GROWSDOWN), N(MAP_DENYWRITE), N(MAP_EXECUTABLE), N(MAP_LOCKED),
        N(MAP_NORESERVE), N(MAP_POPULATE), N(MAP_NONBLOCK), N(MAP_STACK), N(MAP_HUGETLB),
        N(MAP_SYNC), N(MAP_FIXED_NOREPLACE)}},
      {{"clone"},
       0,
       true,
       {N(CSIGNAL),
        N(CLONE_VM),
        N(CLONE_FS),
        N(CLONE_FILES),
        N(CLONE_SIGHAND),
        N(CLONE_PIDFD),
        N(CLONE_PTRACE),
        N(CLONE_VFORK),
        N(CLONE_PARENT),
        N(CLONE_THREAD),
        N(CLONE_NEWNS),
        N(CLONE_SYSVSEM),
        N(CLONE_SETTLS),
        N(CLONE_PARENT_SETTID),
        N(CLONE_CHILD_CLEARTID),
        N(CLONE_DETACHED),
        N(CLONE_UNTRACED),
        N(CLONE_CHILD_SETTID),
        N(CLONE_NEWCGROUP),
        N(CLONE_NEWUTS),
        N(CLONE_NEWIPC),
        N(CLONE_NEWUSER),
        N(CLONE_NEWPID),
        N(CLONE_NEWNET),
        N(CLONE_IO)}},
      {{"fcntl", "fcntl64"},
       1,
       false,
       {N(F_DUPFD), N(F_GETFD), N(F_SETFD), N(F_GETFL), N(F_SETFL), N(F_GETLK), N(F_SETLK),
        N(F_SETLKW), N(F_SETOWN), N(F_GETOWN), N(F_SETSIG), N(F_GETSIG), N(F_DUPFD_CLOEXEC),
        N(F_SETPIPE_SZ), N(F_GETPIPE_SZ), N(F_ADD_SEALS), N(F_GET_SEALS)}},
      {{"socket", "socketpair"},
       0,
       false,
       {N(AF_UNIX), N(AF_INET), N(AF_INET6), N(AF_NETLINK), N(AF_PACKET)}},
      {{"prctl"},
       0,
       false,
       {N(PR_SET_PDEATHSIG), N(PR_GET_DUMPABLE), N(PR_SET_DUMPABLE), N(PR_SET_NAME), N(PR_GET_NAME),
        N(PR_GET_SECCOMP), N(PR_SET_SECCOMP), N(PR_SET_NO_NEW_PRIVS), N(PR_GET_NO_NEW_PRIVS),
        N(PR_SET_PTRACER), N(PR_CAPBSET_DROP)}},
      {{"seccomp"},
       0,
       false,
       {N(SECCOMP_SET_MODE_STRICT), N(SECCOMP_SET_MODE_FILTER), N(SECCOMP_GET_ACTION_AVAIL),
        N(SECCOMP_GET_NOTIF_SIZES)}},
      // The stub's own fds: close_range leaves fd 0, and the listener is fd 1.
      {{"close", "dup", "dup2", "dup3", "ioctl", "fcntl", "fcntl64", "read", "write", "recvmsg",
        "sendmsg"},
       0,
       false,
       {{0, "fd 0: the control socket"}, {1, "fd 1: the listener"}}},
  };
  return k;
}

#undef N

std::string flag_names(const std::vector<Named>& names, uint64_t value) {
  std::string out;
  uint64_t left = value;
  for (const Named& n : names) {
    // Multi-bit names (MAP_SHARED_VALIDATE, CSIGNAL) only when all their bits are there.
    if (n.value == 0 || (value & n.value) != n.value || (left & n.value) == 0) continue;
    out += (out.empty() ? "" : "|") + std::string(n.name);
    left &= ~n.value;
  }
  return left == 0 ? out : "";
}

}  // namespace

std::string arg_value_name(std::string_view syscall, int arg, uint64_t value) {
  for (const ArgKind& k : kinds()) {
    if (k.arg != arg ||
        std::find(k.syscalls.begin(), k.syscalls.end(), syscall) == k.syscalls.end())
      continue;
    if (k.flags) {
      if (auto s = flag_names(k.names, value); !s.empty()) return s;
      continue;
    }
    for (const Named& n : k.names)
      if (n.value == value) return n.name;
  }
  return "";
}

}  // namespace stubfuzz::filter
