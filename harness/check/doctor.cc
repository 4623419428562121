#include "check/doctor.h"

#include <fmt/core.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "filter/program.h"
#include "kernel/facts.h"
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
  const bool sync = kernel::facts().sync_wake_up;
  out.push_back({"SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP", sync, false,
                 sync ? "NOTIF_SET_FLAGS accepted" : "NOTIF_SET_FLAGS: EINVAL (before 6.6)"});
  return out;
}

// The facts the model predicts with (kernel/facts.h), probed in children.
std::vector<DoctorLine> fact_lines(const kernel::Facts& f) {
  std::vector<DoctorLine> out;
  out.push_back({"pidfd_open / pidfd_getfd", f.pidfd_getfd, true,
                 f.pidfd_getfd ? "both work" : "pidfd_getfd of this process's own fd failed"});
  out.push_back({"i386 ABI (int $0x80)", f.i386_abi, false,
                 f.i386_abi ? "getpid works" : "faults (SIGSEGV) before seccomp sees the call"});
  out.push_back({"x32 ABI", f.x32_abi, false,
                 f.x32_abi ? "getpid works" : "x32 calls pass the filter and return -ENOSYS"});
  const bool exempt = !f.exempt_x86_64.empty() || !f.exempt_i386.empty();
  out.push_back({"calls seccomp never sees", exempt, false, f.describe_exemptions()});
  out.push_back({"NOTIF_RECV after every filter user is gone", f.recv_after_hangup, false,
                 f.recv_after_hangup
                     ? "fails with ENOENT"
                     : "blocks until a signal (before 6.11): the harness never asks"});
  char pace[96];
  std::snprintf(pace, sizeof(pace), "x%.1f (exemption scan %.1f ms): every harness bound x%.1f",
                f.pace(), static_cast<double>(f.scan_ns) / 1e6, f.pace());
  out.push_back({"machine pace", true, false, pace});
  out.push_back({"user namespaces", f.user_namespaces, false,
                 f.user_namespaces
                     ? "user, pid, mount and net namespaces"
                     : "unshare(CLONE_NEWUSER|NEWPID|NEWNS|NEWNET) failed in a child"});
  for (const auto& e : f.errors) out.push_back({"kernel facts probe", false, false, e});
  return out;
}

// kernel/sys.h: seccomp_kills_logged.
DoctorLine kill_logging() {
  const auto logged = kernel::seccomp_actions_logged();
  if (logged.empty()) return {"seccomp kills not audited (speed)", false, false, "cannot read it"};
  std::string all, rest;
  for (const auto& w : logged) {
    all += (all.empty() ? "" : " ") + w;
    if (w != "kill_process" && w != "kill_thread") rest += (rest.empty() ? "" : " ") + w;
  }
  if (!kernel::seccomp_kills_logged(logged))
    return {"seccomp kills not audited (speed)", true, false, "actions_logged: " + all};
  return {"seccomp kills not audited (speed)", false, false,
          "each killed stub writes an audit record; on a machine only for fuzzing: "
          "sysctl -w kernel.seccomp.actions_logged='" +
              rest + "'"};
}

}  // namespace

std::vector<DoctorLine> run_doctor() {
  std::vector<DoctorLine> lines;
  lines.push_back(actions());
  lines.push_back(user_notification());
  for (auto& l : listener_lines()) lines.push_back(std::move(l));
  for (auto& l : fact_lines(kernel::facts())) lines.push_back(std::move(l));
  lines.push_back(kill_logging());
  return lines;
}

bool print_doctor(const std::vector<DoctorLine>& lines, std::ostream& out) {
  bool ok = true;
  size_t width = 0;
  for (const auto& l : lines) width = std::max(width, l.feature.size());
  for (const auto& l : lines) {
    const char* mark = l.available ? "yes" : (l.required ? "NO " : "no ");
    out << fmt::format("{:<{}}{}  {}{}\n", l.feature, width + 2, mark, l.detail,
                       l.required && !l.available ? "  (required)" : "");
    if (l.required && !l.available) ok = false;
  }
  out << (ok ? "the harness can run here\n" : "the harness cannot run here\n");
  return ok;
}

nlohmann::ordered_json kernel_json(const kernel::Facts& f) {
  auto exemptions = [](const std::vector<kernel::Exemption>& list) {
    auto a = nlohmann::ordered_json::array();
    for (const auto& e : list) a.push_back({{"nr", e.nr}, {"effect", e.effect}});
    return a;
  };
  return {{"release", f.release},
          {"facts",
           {{"i386_abi", f.i386_abi},
            {"x32_abi", f.x32_abi},
            {"seccomp_exempt",
             {{"x86_64", exemptions(f.exempt_x86_64)}, {"i386", exemptions(f.exempt_i386)}}},
            {"tsync_esrch", f.tsync_esrch},
            {"sync_wake_up", f.sync_wake_up},
            {"recv_after_hangup", f.recv_after_hangup},
            {"pidfd_getfd", f.pidfd_getfd},
            {"user_namespaces", f.user_namespaces},
            {"pace", f.pace()},
            {"probe_errors", f.errors}}}};
}

bool print_doctor_json(const std::vector<DoctorLine>& lines, std::ostream& out) {
  bool ok = true;
  auto rows = nlohmann::ordered_json::array();
  for (const auto& l : lines) {
    rows.push_back({{"feature", l.feature},
                    {"available", l.available},
                    {"required", l.required},
                    {"detail", l.detail}});
    if (l.required && !l.available) ok = false;
  }
  nlohmann::ordered_json doc = {{"tool", "stubfuzz doctor"},
                                {"ok", ok},
                                {"kernel", kernel_json(kernel::facts())},
                                {"lines", rows}};
  out << doc.dump(2) << "\n";
  return ok;
}

}  // namespace stubfuzz
