#include "check/check.h"

#include <dirent.h>
#include <fmt/core.h>
#include <linux/audit.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "check/doctor.h"
#include "check/lab.h"
#include "check/probes.h"
#include "check/program_probes.h"
#include "kernel/facts.h"
#include "uml/tree.h"

namespace stubfuzz {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::kPass:
      return "PASS";
    case Verdict::kFail:
      return "FAIL";
    case Verdict::kFinding:
      return "FINDING";
    case Verdict::kGone:
      return "GONE";
    case Verdict::kPresent:
      return "PRESENT";
    case Verdict::kAbsent:
      return "ABSENT";
    case Verdict::kNotApplicable:
      return "N/A";
    case Verdict::kNoProbe:
      return "NO PROBE";
  }
  return "?";
}

const char* to_string(RowKind k) {
  switch (k) {
    case RowKind::kClaim:
      return "claim";
    case RowKind::kFinding:
      return "finding";
    case RowKind::kHarness:
      return "harness";
  }
  return "?";
}

bool CheckReport::ok() const {
  for (const auto& r : rows)
    if (r.verdict == Verdict::kFail || r.verdict == Verdict::kGone) return false;
  return true;
}

ResourceCount count_resources() {
  ResourceCount c;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d)) c.fds++;
    closedir(d);
  }
  // Children of every thread of this process.
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/children");
      std::string pid;
      while (in >> pid) c.children++;
    }
    closedir(d);
  }
  return c;
}

namespace {

std::string evidence_of(const Lab& lab, const std::string& shown) {
  if (!lab.failures().empty()) {
    std::string e = lab.failures().front();
    if (lab.failures().size() > 1)
      e += " (+" + std::to_string(lab.failures().size() - 1) + " more)";
    return e;
  }
  std::string notes;
  for (const auto& n : lab.notes()) notes += (notes.empty() ? "" : "; ") + n;
  return notes.empty() ? shown : shown + " (" + notes + ")";
}

// One claim's row: probed by its Lab probe, or with programs through the
// executor and its monitor when `programs`.
CheckRow claim_row(const Profile& profile, ClaimId id, bool programs) {
  CheckRow row;
  row.name = std::string(claim_info(id).name);
  Probe probe = probe_for(id);
  if (programs && id != ClaimId::kListenerFd1 && has_program_probe(id)) {
    const auto r = probe_claim_with_programs(profile, id);
    row.verdict = r.broken ? Verdict::kFail : Verdict::kPass;
    row.stubs = r.programs;
    row.syscalls = r.syscalls;
    row.evidence = r.evidence;
    return row;
  }
  if (!probe) {
    row.verdict = Verdict::kNoProbe;
    row.evidence = "covered by fuzzing only";
    return row;
  }
  Lab lab(profile);
  probe(lab);
  row.verdict = lab.failures().empty() ? Verdict::kPass : Verdict::kFail;
  row.stubs = lab.stubs();
  row.syscalls = lab.syscalls();
  row.evidence = evidence_of(lab, std::string(claim_info(id).meaning));
  return row;
}

// A finding that depends on the kernel: one wording per kernel, whichever
// way the profile reproduced it; the reproducer and the facts probe must
// tell the same story.
void judge_kernel_specific(const KnownFinding& f, bool reproduced, const std::string& reproducer,
                           CheckRow& row) {
  const auto& facts = kernel::facts();
  const bool probed = facts.exempts_uprobe_calls();
  row.verdict = reproduced != probed ? Verdict::kFail
                : reproduced         ? Verdict::kPresent
                                     : Verdict::kAbsent;
  const std::string story = facts.exemption_evidence();
  row.evidence = reproduced == probed
                     ? "breaks " + std::string(claim_info(f.claim).name) + ": " + reproducer +
                           " (" + story + ")"
                     : std::string("the reproducer ") + (reproduced ? "ran" : "did not run") +
                           " uretprobe or uprobe unfiltered, but the facts probe says " + story;
}

CheckRow finding_row(const Profile& profile, const KnownFinding& f, bool programs) {
  CheckRow row;
  row.name = f.name();
  row.kind = RowKind::kFinding;
  bool reproduced = false;
  std::string reproducer = f.reproducer;
  std::replace(reproducer.begin(), reproducer.end(), '\n', ';');
  if (programs) {
    const auto r = reproduce_with_program(profile, f.id);
    reproduced = r.broken;
    row.stubs = r.programs;
    row.syscalls = r.syscalls;
    row.evidence = r.evidence;
  } else {
    Lab lab(profile);
    reproduced = reproduce_finding(f.id, lab);
    row.stubs = lab.stubs();
    row.syscalls = lab.syscalls();
    row.evidence =
        evidence_of(lab, "breaks " + std::string(claim_info(f.claim).name) + ": " + reproducer);
  }
  if (f.kernel_specific)
    judge_kernel_specific(f, reproduced, reproducer, row);
  else
    row.verdict = reproduced ? Verdict::kFinding : Verdict::kGone;
  return row;
}

CheckRow cleanup_row(const ResourceCount& before, const ResourceCount& after) {
  CheckRow clean;
  clean.name = "harness-left-nothing";
  clean.kind = RowKind::kHarness;
  clean.verdict = after == before ? Verdict::kPass : Verdict::kFail;
  clean.evidence = "fds " + std::to_string(before.fds) + " -> " + std::to_string(after.fds) +
                   ", child processes " + std::to_string(before.children) + " -> " +
                   std::to_string(after.children);
  return clean;
}

}  // namespace

CheckReport run_checks(const Profile& profile) {
  CheckReport report{profile.name, {}};
  // The stub image's memfd and the sandbox live as long as the process.
  (void)Stub::prepare(profile.stub_config());
  const ResourceCount before = count_resources();
  // The Lab probes speak to a stub directly: they hold for profiles whose
  // monitor answers nothing. The series' later profiles are probed with
  // programs, through the executor and its monitor.
  const bool programs = profile.monitor.answers_notifications() || profile.monitor.watchdog;
  for (ClaimId id : profile.claims) report.rows.push_back(claim_row(profile, id, programs));
  for (const KnownFinding& f : profile.known_findings)
    report.rows.push_back(finding_row(profile, f, programs));
  // UML's own stub without 1/7: the listener's claims are shown, not probed.
  if (profile.uml_tree && !profile.uml_tree->new_listener)
    if (auto l = find_profile("listener"); l)
      for (ClaimId id : (*l)->claims)
        if (!profile.makes(id))
          report.rows.push_back(CheckRow{std::string(claim_info(id).name), RowKind::kClaim,
                                         Verdict::kNotApplicable, 0, 0,
                                         "the tree's stub_exe.c installs its filter without "
                                         "NEW_LISTENER (the series' 1/7 is not applied): no "
                                         "listener"});
  report.rows.push_back(cleanup_row(before, count_resources()));
  return report;
}

void print_report(const CheckReport& report, std::ostream& out) {
  size_t width = 5;
  for (const auto& r : report.rows) width = std::max(width, r.name.size());
  out << "profile " << report.profile << "\n\n";
  out << fmt::format("{:<{}}{:<10}{:<8}{:<10}evidence\n", "claim", width + 2, "verdict", "stubs",
                     "syscalls");
  for (const auto& r : report.rows)
    out << fmt::format("{:<{}}{:<10}{:<8}{:<10}{}\n", r.name, width + 2, to_string(r.verdict),
                       r.stubs, r.syscalls, r.evidence);
  int stubs = 0, syscalls = 0;
  for (const auto& r : report.rows) stubs += r.stubs, syscalls += r.syscalls;
  out << "\n"
      << stubs << " stubs, " << syscalls << " syscalls: "
      << (report.ok() ? "every claim holds (FINDING rows are documented deviations)"
                      : "a claim is broken")
      << "\n";
}

void print_report_json(const CheckReport& report, std::ostream& out) {
  auto rows = nlohmann::ordered_json::array();
  for (const auto& r : report.rows)
    rows.push_back({{"name", r.name},
                    {"kind", to_string(r.kind)},
                    {"verdict", to_string(r.verdict)},
                    {"stubs", r.stubs},
                    {"syscalls", r.syscalls},
                    {"evidence", r.evidence}});
  nlohmann::ordered_json doc = {{"tool", "stubfuzz check"},
                                {"profile", report.profile},
                                {"ok", report.ok()},
                                {"kernel", kernel_json(kernel::facts())},
                                {"rows", rows}};
  out << doc.dump(2) << "\n";
}

}  // namespace stubfuzz
