#include "fuzz/oracle.h"

#include <linux/audit.h>
#include <signal.h>
#include <sys/syscall.h>

#include <algorithm>
#include <initializer_list>

#include "filter/syscall_names.h"
#include "filter/uml_filter.h"
#include "monitor/monitor.h"

namespace stubfuzz::fuzz {

namespace {

constexpr uint32_t kI386Ioctl = 54;
constexpr uint32_t kI386Close = 6;

seccomp_data data_for(const Observation& o) {
  seccomp_data d{};
  const bool i386 = o.resolved.abi == STUB_ABI_I386;
  d.nr = static_cast<int>(o.resolved.nr);
  d.arch = i386 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64;
  // The kernel reports the address after the instruction.
  d.instruction_pointer = o.insn_addr + 2;
  for (int i = 0; i < 6; i++)
    d.args[i] = i386 ? static_cast<uint32_t>(o.resolved.args[i]) : o.resolved.args[i];
  return d;
}

bool killed_by_filter(const Observation& o) {
  return o.kind == Observed::kKilled && o.exit && o.exit->killed_by(SIGSYS);
}

// Returned, blocked, or ran and then brought the stub down (rt_sigreturn with
// garbage, munmap of its own stack): a death by any signal but SIGSYS.
bool executed(const Observation& o) {
  return o.kind == Observed::kReturned || o.kind == Observed::kBlocked ||
         o.kind == Observed::kWatchdog || (o.kind == Observed::kKilled && !killed_by_filter(o));
}

// int $0x80 without the i386 ABI: the general-protection fault's SIGSEGV.
bool faulted(const Observation& o) {
  return o.kind == Observed::kKilled && o.exit && o.exit->killed_by(SIGSEGV);
}

// Whether what the kernel did is what the model predicted.
bool matches(const filter::Prediction& p, const Observation& o) {
  using filter::Action;
  switch (p.path) {
    case filter::Path::kNoAbi:
      return faulted(o);
    case filter::Path::kExempt:
      return executed(o);
    case filter::Path::kFiltered:
      break;
  }
  const uint16_t data = filter::ret_data(p.ret);
  switch (p.action()) {
    case Action::kAllow:
    case Action::kLog:
      return executed(o);
    case Action::kErrno:
      // The kernel caps the errno at MAX_ERRNO.
      return o.kind == Observed::kReturned &&
             o.ret == -static_cast<int64_t>(std::min<uint16_t>(data, 4095));
    case Action::kTrap:
      return o.kind == Observed::kTrapped && o.trap_errno == data;
    case Action::kKillProcess:
    case Action::kKillThread:
      return killed_by_filter(o);
    case Action::kUserNotif:
      // Waiting for an answer (unread, or held while the second thread ran)
      // until a bound ended the stub.
      if (o.kind == Observed::kBlocked || o.kind == Observed::kWatchdog) return true;
      if (!o.answer) return false;
      switch (*o.answer) {
        case Answer::kContinued:
          return executed(o);
        case Answer::kDenied:
          return o.kind == Observed::kReturned && o.ret == -int64_t{o.answer_error};
        case Answer::kGone:  // answered by someone else, or the stub died
          return o.kind != Observed::kTrapped;
      }
      return false;
    case Action::kTrace:
      return o.kind == Observed::kReturned && o.ret == -ENOSYS;
  }
  return false;
}

// Calls that can take away the code a later record jumps to (or, like
// rt_sigreturn, send the stub anywhere), per ABI.
bool changes_address_space(const Observation& o) {
  static constexpr uint32_t kX86_64[] = {SYS_munmap, SYS_mmap,    SYS_mremap, SYS_mprotect,
                                         SYS_brk,    SYS_madvise, SYS_shmdt,  SYS_rt_sigreturn};
  static constexpr uint32_t kI386[] = {91, 90, 192, 163, 125, 45, 219, 173, 119};
  const uint32_t nr = o.resolved.nr;
  if (o.resolved.abi == STUB_ABI_I386)
    return std::find(std::begin(kI386), std::end(kI386), nr) != std::end(kI386);
  return std::find(std::begin(kX86_64), std::end(kX86_64), nr) != std::end(kX86_64);
}

bool in_stub_page(uint64_t addr, const StubLayout& l) {
  return addr >= l.stub_start && addr < l.stub_start + STUB_PAGE_SIZE;
}

bool documented(const Profile& p, FindingId id) {
  return std::any_of(p.known_findings.begin(), p.known_findings.end(),
                     [&](const KnownFinding& f) { return f.id == id; });
}

bool is_call(const Observation& o, uint32_t x86_64, std::initializer_list<uint32_t> i386) {
  if (o.resolved.abi == STUB_ABI_I386)
    return std::find(i386.begin(), i386.end(), o.resolved.nr) != i386.end();
  return o.resolved.nr == x86_64;
}

// Returned an error: the call took no effect.
bool failed(const Observation& o) {
  return o.kind == Observed::kReturned && o.ret < 0 && o.ret > -4096;
}

// 3/7's rule (monitor/monitor.h), on the truth: a mapping the monitor
// queued, no more access.
bool sanctioned_mmap(const Program& program, const Execution& ex, const Observation& o) {
  if (o.resolved.abi != STUB_ABI_X86_64) return false;
  for (size_t i = 0; i < program.records.size() && i < ex.records.size(); i++) {
    const stub_record& q = ex.records[i].resolved;
    if (program.records[i].site.kind == SiteKind::kQueued && q.abi == STUB_ABI_X86_64 &&
        q.nr == SYS_mmap && same_mapping(o.resolved.args, q.args))
      return true;
  }
  return false;
}

// 5/7's rule (monitor/monitor.h) on the arguments as the ABI reads them.
bool munmaps_guest_memory(const Observation& o, const StubLayout& l) {
  const bool i386 = o.resolved.abi == STUB_ABI_I386;
  const uint64_t addr = i386 ? static_cast<uint32_t>(o.resolved.args[0]) : o.resolved.args[0];
  const uint64_t len = i386 ? static_cast<uint32_t>(o.resolved.args[1]) : o.resolved.args[1];
  return guest_range(addr, len, l.stub_start);
}

}  // namespace

bool Judgement::violated() const { return first_violation() != nullptr; }

const Breach* Judgement::first_violation() const {
  for (const auto& b : breaches)
    if (!b.known) return &b;
  return nullptr;
}

Judgement judge(const Profile& profile, const StubConfig& config, const Program& program,
                const Execution& ex, bool every_claim, const kernel::Facts& facts) {
  using namespace finding;
  const filter::Program& filter = config.filter;
  Judgement j;
  const auto allowlist = filter::uml_stub_allowlist();
  // `cls` is the class of finding; a kernel finding overrides it.
  auto breach = [&](ClaimId claim, FindingId cls, size_t i, std::string detail) {
    const bool known = documented(profile, cls);
    if (!every_claim && claim != ClaimId::kModelAgrees && !profile.makes(claim) && !known) return;
    j.breaches.push_back({claim, cls, known, i, std::move(detail)});
  };

  // The model, once per record: the filter under test, and with the safety
  // net by the kernel's precedence.
  std::vector<RecordVerdict> verdicts(ex.records.size());
  for (size_t i = 0; i < ex.records.size(); i++) {
    RecordVerdict& v = verdicts[i];
    v.data = data_for(ex.records[i]);
    static_cast<filter::Prediction&>(v) = filter::predict(filter, config.safety_net, facts, v.data);
  }
  // A filter's KILL_PROCESS on one thread also ends the record the other
  // thread was running: that record's death is not its own.
  std::vector<bool> killer(ex.records.size(), false);
  for (size_t i = 0; i < ex.records.size(); i++) {
    const Observation& o = ex.records[i];
    killer[i] = killed_by_filter(o) && o.resolved.abi != STUB_ABI_SPIN &&
                verdicts[i].path == filter::Path::kFiltered &&
                verdicts[i].action() == filter::Action::kKillProcess;
  }
  auto collateral = [&](size_t i) {
    if (!killed_by_filter(ex.records[i]) || killer[i]) return false;
    for (size_t k = 0; k < ex.records.size(); k++)
      if (killer[k] && ex.records[k].resolved.thread != ex.records[i].resolved.thread) return true;
    return false;
  };

  bool address_space_changed = false;
  for (size_t i = 0; i < ex.records.size(); i++) {
    const Observation& o = ex.records[i];
    RecordVerdict v;
    v.data = verdicts[i].data;
    if (o.kind == Observed::kNotRun || o.kind == Observed::kRefused) {
      j.records.push_back(v);
      continue;
    }
    if (collateral(i)) {
      v.inconclusive = true;
      j.records.push_back(v);
      continue;
    }
    if (o.kind == Observed::kKilled && !killed_by_filter(o) && address_space_changed) {
      v.inconclusive = true;
      j.records.push_back(v);
      continue;
    }
    if (o.resolved.abi == STUB_ABI_SPIN) {  // no syscall: nothing for the filter to judge
      j.records.push_back(v);
      if (o.kind == Observed::kBlocked)
        breach(ClaimId::kStallKilled, kStubStall, i,
               "the stub spun until the harness's bound and nothing killed it");
      continue;
    }
    if (executed(o) && changes_address_space(o)) address_space_changed = true;
    const bool i386 = o.resolved.abi == STUB_ABI_I386;
    const uint32_t nr = o.resolved.nr;
    v = verdicts[i];
    // Every breach of a call the kernel exempts from seccomp is that finding.
    const bool exempt_ran = v.path == filter::Path::kExempt && executed(o);
    auto cls = [&](FindingId c) { return exempt_ran ? kSeccompExemption : c; };
    // Without the ABI, int $0x80 is no syscall: nothing ran, nothing trapped.
    const bool no_syscall = v.path == filter::Path::kNoAbi;

    v.agrees = matches(v, o);
    if (!v.agrees)
      breach(ClaimId::kModelAgrees, kModelDisagrees, i,
             "model " + filter::describe(v) + ", kernel " + to_string(o.kind) +
                 (o.exit ? " (" + kernel::describe(*o.exit) + ")" : ""));
    j.records.push_back(v);

    const uint64_t fd = i386 ? static_cast<uint32_t>(o.resolved.args[0]) : o.resolved.args[0];
    const bool inside = in_stub_page(o.insn_addr, ex.layout);

    // Returned, but denied by a filter or by the monitor: it did not run.
    const auto stack_action = v.action();
    // A notified call runs on CONTINUE, the monitor's or anyone's.
    const bool notif_ran = o.answer == Answer::kContinued ||
                           (o.kind == Observed::kReturned && o.answer != Answer::kDenied);
    const bool denied = (v.agrees && (stack_action == filter::Action::kErrno ||
                                      stack_action == filter::Action::kTrace)) ||
                        (stack_action == filter::Action::kUserNotif && !notif_ran);
    const bool ran = executed(o) && !denied && !no_syscall;
    if (ran && fd == kStubListenerFd && nr == (i386 ? kI386Ioctl : SYS_ioctl))
      breach(ClaimId::kNoListenerIoctl, cls(kListenerIoctl), i, "ioctl on the listener executed");
    if (!inside && o.kind != Observed::kTrapped && !no_syscall) {
      const bool edge = program.records[i].site.kind == SiteKind::kBelowEdge;
      breach(ClaimId::kOutsideTraps, edge && !exempt_ran ? kBelowEdge : cls(kOutsideExecutes), i,
             std::string("instruction outside the stub page: ") + to_string(o.kind));
    }
    const bool allowed =
        !i386 && std::find(allowlist.begin(), allowlist.end(), nr) != allowlist.end();
    // Killed or trapped, it did not run (hardened traps the page's unused
    // i386 instruction as any other address's).
    if (inside && !allowed && ran)
      breach(ClaimId::kStubAllowlist, cls(kOffAllowlist), i,
             std::string("not on the allowlist, yet it ran: ") + to_string(o.kind));
    // Under mainline fd 1 is nothing; closing it closes nothing.
    const bool owned_fd = fd == 0 || (fd == 1 && profile.wants_listener());
    if (ran && owned_fd && nr == (i386 ? kI386Close : SYS_close))
      breach(ClaimId::kNoSelfClose, fd == 1 && inside ? kCloseListener : kSelfClose, i,
             "close(" + std::to_string(fd) + ") executed");
    if (ran && !failed(o) && is_call(o, SYS_mmap, {90, 192}) && !sanctioned_mmap(program, ex, o))
      breach(ClaimId::kMmapValidated, cls(kUnsanctionedMmap), i,
             "an mmap the monitor never queued took effect");
    if (ran && !failed(o) && is_call(o, SYS_munmap, {91}) && !munmaps_guest_memory(o, ex.layout))
      breach(ClaimId::kMunmapValidated, cls(kMunmapStubRegion), i,
             "a munmap outside the guest's memory below the stub took effect");
    if (o.kind == Observed::kBlocked) {
      if (!ex.monitor_hang.empty())
        breach(ClaimId::kNoMonitorHang, kMonitorHang, i, ex.monitor_hang);
      else
        breach(ClaimId::kStallKilled, kStubStall, i,
               "the stub made no progress until the harness's bound and nothing killed it");
    }
  }
  // 2/7's monitor also hangs when the stub finishes without the queued call.
  if (!ex.monitor_hang.empty() &&
      std::none_of(ex.records.begin(), ex.records.end(),
                   [](const Observation& o) { return o.kind == Observed::kBlocked; }))
    breach(ClaimId::kNoMonitorHang, kMonitorHang, ex.records.size() ? ex.records.size() - 1 : 0,
           ex.monitor_hang);
  if (!ex.listener_ok)
    breach(ClaimId::kListenerSurvives, kListenerLost, ex.records.size() ? ex.records.size() - 1 : 0,
           "the monitor's listener stopped working while the stub lived");
  return j;
}

std::string describe(const Program& program, const Execution& ex, const Judgement& j) {
  std::string out;
  for (size_t i = 0; i < program.records.size() && i < ex.records.size(); i++) {
    const Observation& o = ex.records[i];
    std::string line = "  " + std::to_string(i) + ": " + to_text(program.records[i]);
    line.resize(std::max<size_t>(line.size(), 60), ' ');
    const bool inconclusive = i < j.records.size() && j.records[i].inconclusive;
    line += " model ";
    line += i < j.records.size() && o.kind != Observed::kNotRun && o.kind != Observed::kRefused &&
                    !inconclusive && o.resolved.abi != STUB_ABI_SPIN
                ? filter::describe(j.records[i])
                : std::string("-");
    line += ", kernel ";
    line += to_string(o.kind);
    if (o.kind == Observed::kReturned) line += " " + std::to_string(o.ret);
    if (o.answer)
      line += std::string(" (monitor: ") + to_string(*o.answer) +
              (*o.answer == Answer::kDenied ? std::string(" ") + errno_name(o.answer_error) : "") +
              ")";
    if (o.kind == Observed::kKilled && o.exit) line += " (" + kernel::describe(*o.exit) + ")";
    if (inconclusive)
      line +=
          "  (not judged: killed by the other thread's record, or after a record changed the "
          "address space)";
    std::string marks;
    for (const auto& b : j.breaches) {
      if (b.record != i) continue;
      const std::string mark = b.known ? "  <- known finding " + std::string(b.class_name())
                                       : "  <- BREAKS " + std::string(b.claim_name());
      if (marks.find(mark) == std::string::npos) marks += mark;
    }
    line += marks;
    out += line + "\n";
  }
  return out;
}

}  // namespace stubfuzz::fuzz
