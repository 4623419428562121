#include "fuzz/claim_rules.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "filter/syscall_names.h"
#include "filter/uml_filter.h"
#include "monitor/monitor.h"

namespace stubfuzz::fuzz {

namespace {

using namespace finding;

// Returned an error: the call took no effect.
bool failed(const Observation& o) {
  return o.kind == Observed::kReturned && o.ret < 0 && o.ret > -4096;
}

// 3/7's rule (monitor/monitor.h), on the truth: a mapping the monitor
// queued, no more access.
bool sanctioned_mmap(const JudgedRecord& r) {
  if (r.o.resolved.abi != STUB_ABI_X86_64) return false;
  for (size_t i = 0; i < r.program.records.size() && i < r.ex.records.size(); i++) {
    const stub_record& q = r.ex.records[i].resolved;
    if (r.program.records[i].site.kind == SiteKind::kQueued && q.abi == STUB_ABI_X86_64 &&
        q.nr == SYS_mmap && same_mapping(r.o.resolved.args, q.args))
      return true;
  }
  return false;
}

// 5/7's rule (monitor/monitor.h) on the arguments as the ABI reads them.
bool munmaps_guest_memory(const JudgedRecord& r) {
  const bool i386 = r.o.resolved.abi == STUB_ABI_I386;
  const auto& a = r.o.resolved.args;
  const uint64_t addr = i386 ? static_cast<uint32_t>(a[0]) : a[0];
  const uint64_t len = i386 ? static_cast<uint32_t>(a[1]) : a[1];
  return guest_range(addr, len, r.ex.layout.stub_start);
}

void model_agrees(const JudgedRecord& r, const BreachSink& breach) {
  if (r.v.agrees) return;
  breach(ClaimId::kModelAgrees, kModelDisagrees, r.index,
         "model " + filter::describe(r.v) + ", kernel " + to_string(r.o.kind) +
             (r.o.exit ? " (" + kernel::describe(*r.o.exit) + ")" : ""));
}

void no_listener_ioctl(const JudgedRecord& r, const BreachSink& breach) {
  if (r.ran && r.fd == kStubListenerFd && r.is({"ioctl"}))
    breach(ClaimId::kNoListenerIoctl, r.cls(kListenerIoctl), r.index,
           "ioctl on the listener executed");
}

void outside_traps(const JudgedRecord& r, const BreachSink& breach) {
  if (r.inside || r.o.kind == Observed::kTrapped || r.no_syscall) return;
  const bool edge = r.program.records[r.index].site.kind == SiteKind::kBelowEdge;
  breach(ClaimId::kOutsideTraps, edge && !r.exempt_ran ? kBelowEdge : r.cls(kOutsideExecutes),
         r.index, std::string("instruction outside the stub page: ") + to_string(r.o.kind));
}

// Killed or trapped, it did not run (hardened traps the page's unused i386
// instruction as any other address's).
void stub_allowlist(const JudgedRecord& r, const BreachSink& breach) {
  static const std::vector<uint32_t> allowlist = filter::uml_stub_allowlist();
  const bool allowed =
      r.o.resolved.abi == STUB_ABI_X86_64 &&
      std::find(allowlist.begin(), allowlist.end(), r.o.resolved.nr) != allowlist.end();
  if (r.inside && !allowed && r.ran)
    breach(ClaimId::kStubAllowlist, r.cls(kOffAllowlist), r.index,
           std::string("not on the allowlist, yet it ran: ") + to_string(r.o.kind));
}

// Under mainline fd 1 is nothing; closing it closes nothing.
void no_self_close(const JudgedRecord& r, const BreachSink& breach) {
  const bool owned_fd = r.fd == 0 || (r.fd == 1 && r.profile.wants_listener());
  if (r.ran && owned_fd && r.is({"close"}))
    breach(ClaimId::kNoSelfClose, r.fd == 1 && r.inside ? kCloseListener : kSelfClose, r.index,
           "close(" + std::to_string(r.fd) + ") executed");
}

void mmap_validated(const JudgedRecord& r, const BreachSink& breach) {
  if (r.ran && !failed(r.o) && r.is({"mmap", "mmap2"}) && !sanctioned_mmap(r))
    breach(ClaimId::kMmapValidated, r.cls(kUnsanctionedMmap), r.index,
           "an mmap the monitor never queued took effect");
}

void munmap_validated(const JudgedRecord& r, const BreachSink& breach) {
  if (r.ran && !failed(r.o) && r.is({"munmap"}) && !munmaps_guest_memory(r))
    breach(ClaimId::kMunmapValidated, r.cls(kMunmapStubRegion), r.index,
           "a munmap outside the guest's memory below the stub took effect");
}

// A record blocked where UML's monitor would wait forever for it.
void no_monitor_hang(const JudgedRecord& r, const BreachSink& breach) {
  if (r.o.kind == Observed::kBlocked && r.ex.monitor_hang != MonitorHang::kNone)
    breach(ClaimId::kNoMonitorHang, kMonitorHang, r.index, to_string(r.ex.monitor_hang));
}

void stall_killed(const JudgedRecord& r, const BreachSink& breach) {
  if (r.o.kind == Observed::kBlocked && r.ex.monitor_hang == MonitorHang::kNone)
    breach(ClaimId::kStallKilled, kStubStall, r.index,
           "the stub made no progress until the harness's bound and nothing killed it");
}

constexpr RecordRule kRules[] = {
    {ClaimId::kModelAgrees, model_agrees},         {ClaimId::kNoListenerIoctl, no_listener_ioctl},
    {ClaimId::kOutsideTraps, outside_traps},       {ClaimId::kStubAllowlist, stub_allowlist},
    {ClaimId::kNoSelfClose, no_self_close},        {ClaimId::kMmapValidated, mmap_validated},
    {ClaimId::kMunmapValidated, munmap_validated}, {ClaimId::kNoMonitorHang, no_monitor_hang},
    {ClaimId::kStallKilled, stall_killed},
};

}  // namespace

bool JudgedRecord::is(std::initializer_list<std::string_view> names) const {
  const auto arch = o.resolved.abi == STUB_ABI_I386 ? filter::Arch::kI386 : filter::Arch::kX86_64;
  for (std::string_view name : names)
    if (auto nr = filter::syscall_number(arch, name); nr && uint32_t(*nr) == o.resolved.nr)
      return true;
  return false;
}

std::span<const RecordRule> record_rules() { return kRules; }

void judge_batch(const Execution& ex, const BreachSink& breach) {
  const size_t last = ex.records.empty() ? 0 : ex.records.size() - 1;
  // 2/7's monitor also hangs when the stub finishes without the queued call.
  if (ex.monitor_hang != MonitorHang::kNone &&
      std::none_of(ex.records.begin(), ex.records.end(),
                   [](const Observation& o) { return o.kind == Observed::kBlocked; }))
    breach(ClaimId::kNoMonitorHang, kMonitorHang, last, to_string(ex.monitor_hang));
  if (!ex.listener_ok)
    breach(ClaimId::kListenerSurvives, kListenerLost, last,
           "the monitor's listener stopped working while the stub lived");
}

}  // namespace stubfuzz::fuzz
