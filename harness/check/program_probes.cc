#include "check/program_probes.h"

#include <algorithm>
#include <vector>

#include "fuzz/executor.h"
#include "fuzz/oracle.h"
#include "fuzz/program.h"

namespace stubfuzz {

namespace {

// What a hijacked stub would try against each claim.
std::vector<const char*> attacks(ClaimId claim) {
  switch (claim) {
    case ClaimId::kNoListenerIoctl:
      return {"stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_RECV, &scratch)",
              "stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &scratch)",
              "stub i386 ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &scratch)",
              "outside ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &scratch)",
              "at(ALIAS+1) ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_ID_VALID, &scratch)"};
    case ClaimId::kOutsideTraps:
      return {
          "outside getpid()\noutside i386 getpid()\nat(ABOVE+16) close(LISTENER)\n"
          "at(BELOW+16) close(LISTENER)\nat(ALIAS+16) close(LISTENER)",
          "at(STUB-2) close(SOCKET)"};
    case ClaimId::kStubAllowlist:
      return {"stub getpid()", "stub i386 getpid()", "stub x32 close(5)",
              "stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_RECV, &scratch)"};
    case ClaimId::kListenerSurvives:
      return {"stub close(LISTENER)\nstub futex(&scratch, 1, 1)"};
    case ClaimId::kNoSelfClose:
      return {"stub close(LISTENER)", "stub close(SOCKET)", "at(STUB-2) close(SOCKET)"};
    case ClaimId::kMmapValidated:
      return {"stub mmap(0, 4096, 7, 0x22, -1, 0)",
              "queued mmap(0x200000000, 4096, 3, 0x32, -1, 0)\n"
              "stub mmap(0x200000000, 4096, 7, 0x32, -1, 0)",
              "stub mmap(STUB, 4096, 7, 0x32, -1, 0)"};
    case ClaimId::kMunmapValidated:
      return {"stub munmap(STUB, 4096)", "stub munmap(0x7fffff000000, 4096)",
              "stub munmap(0xfffffffffffff000, 0x2000)"};
    case ClaimId::kNoMonitorHang:
      return {"queued mmap(0x200000000, 4096, 3, 0x32, -1, 0)\nstub mmap(0, 4096, 1, 0x22, -1, 0)",
              "stub mmap(0, 4096, 1, 0x22, -1, 0)", "stub munmap(0x200000000, 4096)"};
    case ClaimId::kStallKilled:
      return {"stub futex(&scratch, 0, 0, 0)"};
    default:
      return {};
  }
}

// Why records never met the filter on this kernel, once each.
void add_path_notes(const fuzz::Judgement& j, std::vector<std::string>& notes) {
  for (const auto& v : j.records) {
    const std::string why = filter::path_reason(v);
    if (!why.empty() && std::find(notes.begin(), notes.end(), why) == notes.end())
      notes.push_back(why);
  }
}

std::string with_notes(std::string evidence, const std::vector<std::string>& notes) {
  if (notes.empty()) return evidence;
  std::string all;
  for (const auto& n : notes) all += (all.empty() ? "" : "; ") + n;
  return evidence + " (" + all + ")";
}

std::string one_line(std::string text) {
  for (auto& c : text)
    if (c == '\n') c = ';';
  return text;
}

}  // namespace

bool has_program_probe(ClaimId claim) { return !attacks(claim).empty(); }

ProgramProbeResult probe_claim_with_programs(const Profile& profile, ClaimId claim) {
  ProgramProbeResult r;
  fuzz::Executor executor(profile);
  const std::string name(claim_info(claim).name);
  std::vector<std::string> notes;
  for (const char* text : attacks(claim)) {
    auto program = fuzz::parse_text(text);
    if (!program) return {true, "probe does not parse: " + program.error().message, r.programs};
    auto ex = executor.run(*program);
    if (!ex) return {true, ex.error().message, r.programs, r.syscalls};
    r.programs++;
    r.syscalls += static_cast<int>(program->records.size());
    const auto j = fuzz::judge(profile, executor.config(), *program, *ex, true);
    add_path_notes(j, notes);
    for (const auto& b : j.breaches) {
      if (b.claim != claim || b.known) continue;
      r.broken = true;
      r.evidence = one_line(text) + ": " + b.detail;
      return r;
    }
  }
  r.evidence = with_notes(std::string(claim_info(claim).meaning), notes);
  return r;
}

ProgramProbeResult reproduce_with_program(const Profile& profile, FindingId id) {
  ProgramProbeResult r;
  const KnownFinding* f = &finding_class(id);
  if (f->reproducer.empty()) return {false, "no reproducer for '" + std::string(f->name()) + "'"};
  auto program = fuzz::parse_text(f->reproducer);
  if (!program) return {false, "reproducer does not parse: " + program.error().message};
  fuzz::Executor executor(profile);
  auto ex = executor.run(*program);
  if (!ex) return {false, ex.error().message};
  r.programs = 1;
  r.syscalls = static_cast<int>(program->records.size());
  const auto j = fuzz::judge(profile, executor.config(), *program, *ex, true);
  for (const auto& b : j.breaches) r.broken |= b.cls == id;
  std::vector<std::string> notes;
  add_path_notes(j, notes);
  r.evidence = with_notes(
      "breaks " + std::string(claim_info(f->claim).name) + ": " + one_line(f->reproducer), notes);
  return r;
}

}  // namespace stubfuzz
