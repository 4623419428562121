#include "check/doctor.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <iomanip>

#include "filter/program.h"
#include "kernel/listener.h"
#include "kernel/sys.h"
#include "stub/record.h"
#include "stub/stub.h"

namespace stubfuzz {

namespace {

filter::Program allow_all() { return filter::Builder().ret(SECCOMP_RET_ALLOW).build(); }

Result<Stub> spawn_with(filter::Program prog, uint64_t flags, bool install = true) {
  StubConfig c;
  c.filter = std::move(prog);
  c.seccomp_flags = flags;
  c.install_filter = install;
  return Stub::spawn(c);
}

DoctorLine actions() {
  constexpr std::array<std::pair<uint32_t, const char*>, 8> kActions = {{
      {SECCOMP_RET_KILL_PROCESS, "kill_process"},
      {SECCOMP_RET_KILL_THREAD, "kill_thread"},
      {SECCOMP_RET_TRAP, "trap"},
      {SECCOMP_RET_ERRNO, "errno"},
      {SECCOMP_RET_USER_NOTIF, "user_notif"},
      {SECCOMP_RET_TRACE, "trace"},
      {SECCOMP_RET_LOG, "log"},
      {SECCOMP_RET_ALLOW, "allow"},
  }};
  DoctorLine l{"seccomp actions", true, true, ""};
  std::string missing;
  for (auto [action, name] : kActions) {
    if (kernel::seccomp_action_available(action)) {
      l.detail += std::string(l.detail.empty() ? "" : " ") + name;
    } else {
      missing += std::string(" ") + name;
      // The harness needs these three; the others only matter to some filters.
      if (action == SECCOMP_RET_TRAP || action == SECCOMP_RET_KILL_PROCESS ||
          action == SECCOMP_RET_ALLOW)
        l.available = false;
    }
  }
  if (!missing.empty()) l.detail += "; missing:" + missing;
  return l;
}

DoctorLine user_notification() {
  DoctorLine l{"user notification", false, true, ""};
  auto sizes = kernel::notif_sizes();
  if (!sizes) {
    l.detail = sizes.error().message;
    return l;
  }
  l.available = kernel::seccomp_action_available(SECCOMP_RET_USER_NOTIF).ok();
  l.detail = "notif " + std::to_string(sizes->notif) + " B, resp " + std::to_string(sizes->resp) +
             " B, data " + std::to_string(sizes->data) + " B";
  return l;
}

std::vector<DoctorLine> listener_lines() {
  std::vector<DoctorLine> out;
  constexpr uint64_t kNewTsync = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_TSYNC;
  auto without = spawn_with(allow_all(), kNewTsync);
  out.push_back({"NEW_LISTENER|TSYNC without TSYNC_ESRCH is EINVAL",
                 !without.ok() && without.error().err == EINVAL, false,
                 without.ok() ? "accepted" : without.error().message});
  auto with = spawn_with(allow_all(), kNewTsync | SECCOMP_FILTER_FLAG_TSYNC_ESRCH);
  out.push_back({"NEW_LISTENER|TSYNC|TSYNC_ESRCH (the seed's flags)", with.ok(), true,
                 with.ok() ? "listener at fd " + std::to_string(with->seccomp_ret()) +
                                 " in the stub, pulled with pidfd_getfd"
                           : with.error().message});
  DoctorLine sync{"SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP", false, false, ""};
  if (with.ok() && with->listener()) {
    auto s = with->listener()->set_flags(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    sync.available = s.ok();
    sync.detail = s.ok() ? "NOTIF_SET_FLAGS accepted" : s.error().message;
  } else {
    sync.detail = "no listener to try it on";
  }
  out.push_back(sync);
  return out;
}

DoctorLine pidfds() {
  DoctorLine l{"pidfd_open / pidfd_getfd", false, true, ""};
  auto pidfd = kernel::pidfd_open(getpid());
  if (!pidfd) {
    l.detail = pidfd.error().message;
    return l;
  }
  auto fd = kernel::pidfd_getfd(pidfd->get(), pidfd->get(), getpid());
  l.available = fd.ok();
  l.detail = fd.ok() ? "both work" : fd.error().message;
  return l;
}

// Runs getpid in an unfiltered stub through another ABI.
DoctorLine abi_line(const char* name, stub_record rec) {
  DoctorLine l{name, false, false, ""};
  auto s = spawn_with(allow_all(), 0, /*install=*/false);
  if (!s) {
    l.detail = s.error().message;
    return l;
  }
  auto o = s->run({&rec, 1});
  if (!o) {
    l.detail = o.error().message;
    return l;
  }
  const auto ret = o->results[0].ret;
  l.available = o->end == BatchEnd::kCompleted && ret > 0;
  l.detail = l.available ? "getpid works" : "getpid returned " + std::to_string(ret);
  return l;
}

DoctorLine user_namespaces() {
  DoctorLine l{"user namespaces", false, false, ""};
  pid_t pid = fork();
  if (pid == 0)
    _exit(unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) == 0 ? 0 : errno);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) {
    l.detail = "fork failed";
    return l;
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  l.available = code == 0;
  l.detail = l.available ? "user, pid, mount and net namespaces" : "unshare: " + errno_name(code);
  return l;
}

}  // namespace

std::vector<DoctorLine> run_doctor() {
  std::vector<DoctorLine> lines;
  lines.push_back(actions());
  lines.push_back(user_notification());
  for (auto& l : listener_lines()) lines.push_back(std::move(l));
  lines.push_back(pidfds());
  lines.push_back(abi_line("i386 ABI (int $0x80)",
                           make_record(Origin::kOutside, Abi::kI386, 20 /* getpid */, {})));
  constexpr uint32_t kX32Bit = 0x40000000;
  lines.push_back(abi_line("x32 ABI", from_outside(kX32Bit | SYS_getpid)));
  lines.push_back(user_namespaces());
  return lines;
}

bool print_doctor(const std::vector<DoctorLine>& lines, std::ostream& out) {
  bool ok = true;
  size_t width = 0;
  for (const auto& l : lines) width = std::max(width, l.feature.size());
  for (const auto& l : lines) {
    const char* mark = l.available ? "yes" : (l.required ? "NO " : "no ");
    out << std::left << std::setw(static_cast<int>(width) + 2) << l.feature << mark << "  "
        << l.detail << (l.required && !l.available ? "  (required)" : "") << "\n";
    if (l.required && !l.available) ok = false;
  }
  out << (ok ? "the harness can run here\n" : "the harness cannot run here\n");
  return ok;
}

}  // namespace stubfuzz
