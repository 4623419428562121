#include "cli/commands.h"

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "campaign/matrix.h"
#include "check/check.h"
#include "check/doctor.h"
#include "explain/explain.h"
#include "explain/verify.h"
#include "filter/asm.h"
#include "filter/filter_file.h"
#include "fuzz/executor.h"
#include "fuzz/minimize.h"
#include "fuzz/replay.h"
#include "kernel/facts.h"
#include "kernel/sys.h"

namespace stubfuzz::cli {

namespace fs = std::filesystem;

int fail(const std::string& message, int code) {
  std::cerr << "stubfuzz: " << message << "\n";
  return code;
}

Result<Profile> ProfileChoice::resolve() const {
  Result<Profile> p = Error{"", 0};
  if (!uml_tree.empty()) {
    p = profile_from_uml_tree(uml_tree, !unsafe);
  } else if (!filter.empty()) {
    p = profile_from_filter_file(filter, claims);
  } else if (auto builtin = find_profile(profile)) {
    p = **builtin;
  } else {
    return builtin.error();
  }
  if (p && unsafe) {
    p->sandboxed = false;
    std::cerr << "stubfuzz: --unsafe: stubs run without the sandbox, as this user\n";
  }
  return p;
}

Result<Profile> ProfileChoice::resolve_for(const std::string& file) const {
  const std::string named = fuzz::profile_named_in(file);
  if (profile_given || !filter.empty() || !uml_tree.empty() || named.empty()) return resolve();
  ProfileChoice c = *this;
  c.profile = named;
  auto p = c.resolve();
  if (!p) return Error{file + ": " + p.error().message, p.error().err};
  return p;
}

int run_doctor(bool json) {
  const auto lines = stubfuzz::run_doctor();
  const bool ok = json ? print_doctor_json(lines, std::cout) : print_doctor(lines, std::cout);
  return ok ? 0 : kExitFailed;
}

namespace {

// What the profile needs of the kernel that this one lacks, or "".
std::string missing_feature(const Profile& p) {
  const auto& f = kernel::facts();
  if (!f.pidfd_getfd) return "pidfd_getfd";
  if (p.wants_listener() && !f.tsync_esrch)
    return "SECCOMP_FILTER_FLAG_NEW_LISTENER with TSYNC|TSYNC_ESRCH";
  if (p.sandboxed && !f.user_namespaces) return "user namespaces for the sandbox (or --unsafe)";
  return "";
}

}  // namespace

int run_check(const ProfileChoice& choice, bool json) {
  auto profile = choice.resolve();
  if (!profile) return fail(profile.error().message);
  if (auto missing = missing_feature(*profile); !missing.empty())
    return fail("this kernel (" + kernel::facts().release + ") lacks " + missing +
                ", which profile " + profile->name + " needs (see stubfuzz doctor)");
  auto report = run_checks(*profile);
  if (json)
    print_report_json(report, std::cout);
  else
    print_report(report, std::cout);
  return report.ok() ? 0 : kExitFailed;
}

namespace {

// Every input loaded before anything runs: a corrupt file is reported first.
Result<std::vector<std::pair<std::string, fuzz::Program>>> load_all(
    const std::vector<std::string>& inputs) {
  auto files = fuzz::expand_inputs(inputs);
  if (!files) return files.error();
  std::vector<std::pair<std::string, fuzz::Program>> programs;
  for (const auto& f : *files) {
    auto p = fuzz::load_program(f);
    if (!p) return p.error();
    programs.emplace_back(f, *p);
  }
  if (programs.empty()) return Error{"no input files", EINVAL};
  return programs;
}

}  // namespace

int run_replay(const ProfileChoice& choice, const std::vector<std::string>& inputs,
               bool every_claim) {
  if (auto profile = choice.resolve(); !profile) return fail(profile.error().message);
  auto programs = load_all(inputs);
  if (!programs) return fail(programs.error().message);
  // One executor per profile the files name.
  std::map<std::string, std::pair<Profile, std::unique_ptr<fuzz::Executor>>> executors;
  int reproduced = 0;
  for (const auto& [file, program] : *programs) {
    auto profile = choice.resolve_for(file);
    if (!profile) return fail(profile.error().message);
    auto& slot = executors[profile->name];
    if (!slot.second) slot = {*profile, std::make_unique<fuzz::Executor>(*profile)};
    auto r = fuzz::replay(*slot.second, slot.first, program, every_claim);
    if (!r) return fail(file + ": " + r.error().message, kExitFailed);
    std::cout << "[" << slot.first.name << "] ";
    fuzz::print_replay(file, *r, std::cout);
    if (r->judgement.violated()) reproduced++;
  }
  std::cout << programs->size() << " programs, " << reproduced << " break a claim\n";
  return reproduced ? kExitFailed : 0;
}

int run_minimize(const ProfileChoice& choice, const std::string& input, const std::string& out) {
  auto profile = choice.resolve();
  if (!profile) return fail(profile.error().message);
  auto program = fuzz::load_program(input);
  if (!program) return fail(program.error().message);
  fuzz::Executor executor(*profile);
  auto m = fuzz::minimize(executor, *profile, *program);
  if (!m) return fail(input + ": " + m.error().message, kExitFailed);
  std::ostringstream text;
  text << "# "
       << (m->key.finding ? "known finding " + std::string(to_string(*m->key.finding))
                          : "breaks " + std::string(claim_info(m->key.claim).name))
       << " under " << profile->name << "; minimized from " << input << " in " << m->runs
       << " runs\n"
       << fuzz::to_text(m->program);
  if (out.empty() || out == "-") {
    std::cout << text.str();
  } else {
    std::ofstream f(out);
    f << text.str();
    if (!f) return fail(out + ": cannot write");
    std::cout << "wrote " << out << " (" << m->program.records.size() << " of "
              << program->records.size() << " records)\n";
  }
  return 0;
}

int run_explain(const ProfileChoice& choice, const ExplainOptions& o) {
  auto profile = choice.resolve();
  if (!profile) return fail(profile.error().message);
  const StubLayout layout;
  const filter::Program prog = profile->make_filter(layout);
  if (!o.emit.empty()) {
    if (o.emit != "bpf" && o.emit != "asm") return fail("--emit takes bpf or asm");
    if (o.emit == "asm" && (o.out.empty() || o.out == "-")) {
      std::cout << filter::disassemble(prog, {layout.stub_start, true});
      return 0;
    }
    if (o.out.empty() || o.out == "-") return fail("--emit bpf needs --out FILE");
    auto s = filter::write_filter_file(
        o.out, prog, o.emit == "bpf" ? filter::FilterFormat::kBinary : filter::FilterFormat::kText,
        layout.stub_start);
    if (!s) return fail(s.error().message);
    return 0;
  }
  explain::Points points;
  points.stub_start = layout.stub_start;
  const auto e = explain::explain(prog, points);
  if (!o.verify) {
    if (o.json)
      std::cout << explain::to_json(e).dump(2) << "\n";
    else
      std::cout << explain::to_text(e);
    return 0;
  }
  explain::VerifyOptions vo;
  vo.layout = layout;
  vo.per_row = o.per_row;
  vo.seccomp_flags = profile->seccomp_flags;
  vo.monitor = profile->monitor;
  auto report = explain::verify(prog, vo);
  if (!report) return fail(report.error().message, kExitFailed);
  if (o.json)
    std::cout << explain::to_json(*report).dump(2) << "\n";
  else
    std::cout << explain::to_text(e) << "\n" << explain::to_text(*report);
  return report->agrees() ? 0 : kExitFailed;
}

namespace {

// Beside the build this stubfuzz came from: build/<preset>/harness/stubfuzz.
std::string default_target(const std::string& self, const std::string& engine) {
  std::error_code ec;
  const fs::path exe =
      fs::canonical(self.find('/') == std::string::npos ? "/proc/self/exe" : self, ec);
  const fs::path build = exe.parent_path().parent_path().parent_path();
  return (build / (engine == "afl" ? "afl" : "fuzz") / "fuzzers" / "fuzz_stub_syscalls").string();
}

std::string timestamp() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", std::localtime(&t));
  return buf;
}

}  // namespace

int run_fuzz(const ProfileChoice& choice, const FuzzOptions& o, const std::string& self) {
  auto profile = choice.resolve();
  if (!profile) return fail(profile.error().message);
  if (o.engine != "libfuzzer" && o.engine != "afl")
    return fail("--engine takes libfuzzer or afl, not '" + o.engine + "'");
  if (o.seconds <= 0 || o.jobs <= 0) return fail("--time and --jobs must be positive");

  campaign::CampaignOptions c;
  c.engine = o.engine == "afl" ? campaign::Engine::kAfl : campaign::Engine::kLibFuzzer;
  c.target = o.target.empty() ? default_target(self, o.engine) : o.target;
  c.profile = choice.profile;
  c.unsafe = choice.unsafe;
  if (!choice.uml_tree.empty()) c.uml_tree = fs::absolute(choice.uml_tree).string();
  if (!choice.filter.empty()) {
    c.filter = fs::absolute(choice.filter).string();
    c.claims = choice.claims;
  }
  c.time = std::chrono::seconds(o.seconds);
  c.jobs = o.jobs;
  const std::string name = !choice.uml_tree.empty() ? "uml-tree"
                           : choice.filter.empty()  ? choice.profile
                                                    : "filter";
  c.out_dir = o.out.empty() ? "fuzz-out/" + name + "-" + timestamp() : o.out;
  c.seeds = {STUBFUZZ_SOURCE_DIR "/corpus/fuzz_stub_syscalls"};
  c.dict = STUBFUZZ_SOURCE_DIR "/fuzzers/fuzz_stub_syscalls.dict";

  std::cout << "fuzzing " << profile->name << " with " << o.engine << " (" << o.jobs
            << " jobs) for " << o.seconds << " s; output in " << c.out_dir << "\n";
  if (kernel::seccomp_kills_logged(kernel::seccomp_actions_logged()))
    std::cout << "note: this kernel audits every seccomp kill (kernel.seccomp.actions_logged), "
                 "which slows killed programs; see stubfuzz doctor\n";
  auto r = campaign::run_campaign(c, std::cout);
  if (!r) return fail(r.error().message);
  if (r->execs == 0 && r->crashes.empty())
    return fail("the engine ran no program; see the logs in " + c.out_dir, kExitFailed);

  std::cout << "\n"
            << r->execs << " programs in " << static_cast<int>(r->seconds)
            << " s: " << static_cast<uint64_t>(r->seconds > 0 ? r->execs / r->seconds : 0)
            << " programs/s sustained\n"
            << "filter instructions covered: " << r->filter_covered << "/" << r->filter_len
            << "\nfilter branch sides taken: " << r->branch_covered << "/" << r->branch_total
            << " (each conditional jump's true and false outcome)"
            << "\nverdict-matrix cells seen: " << r->cells << "\n"
            << campaign::class_table(*r);
  std::cout << "known findings (documented; they do not stop a run):"
            << (r->known.empty() ? " none seen" : "") << "\n";
  for (const auto& [id, file] : r->known)
    std::cout << "  " << id << "  reproducer: " << file << "\n";
  if (r->crashes.empty()) {
    std::cout << "new findings: none\n";
    return 0;
  }
  // Judge every crash file again, outside the engine.
  fuzz::Executor executor(*profile);
  std::cout << "new findings:\n";
  for (const auto& file : r->crashes) {
    auto p = fuzz::load_program(file);
    std::string verdict = p ? "" : p.error().message;
    if (p) {
      auto rr = fuzz::replay(executor, *profile, *p);
      if (rr && rr->judgement.violated())
        verdict = "breaks " + std::string(rr->judgement.first_violation()->claim_name());
      else
        verdict = rr ? "does not reproduce on replay" : rr.error().message;
    }
    std::cout << "  " << file << ": " << verdict << "\n";
  }
  // What the target itself saw, for findings that do not reproduce.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(c.out_dir + "/stats", ec)) {
    if (e.path().filename().string().rfind("violation-", 0) != 0) continue;
    std::cout << "as the target reported it (" << e.path().string() << "):\n";
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);) std::cout << "  " << line << "\n";
  }
  std::cout << "replay with: stubfuzz replay "
            << (!choice.uml_tree.empty() ? "--uml-tree " + choice.uml_tree
                : choice.filter.empty()  ? "--profile " + choice.profile
                                         : "--filter " + choice.filter)
            << " FILE;  minimize with: stubfuzz minimize ... FILE\n";
  return kExitFailed;
}

int run_matrix(const MatrixCliOptions& o, const std::string& self) {
  if (o.seconds <= 0 || o.jobs <= 0) return fail("--time and --jobs must be positive");
  campaign::MatrixOptions m;
  m.target = o.target.empty() ? default_target(self, "libfuzzer") : o.target;
  if (o.profiles.empty())
    for (const auto& p : builtin_profiles()) m.profiles.push_back(p.name);
  else
    m.profiles = o.profiles;
  for (const auto& p : m.profiles)
    if (auto f = find_profile(p); !f) return fail(f.error().message);
  if (!o.uml_tree.empty()) {
    // Read (and so checked) here: a bad tree is one error before any engine.
    if (auto t = profile_from_uml_tree(o.uml_tree); !t) return fail(t.error().message);
    m.uml_tree = fs::absolute(o.uml_tree).string();
    m.profiles.push_back(campaign::kUmlTreeColumn);
  }
  m.time = std::chrono::seconds(o.seconds);
  m.jobs = o.jobs;
  m.out_dir = o.out.empty() ? "fuzz-out/matrix-" + timestamp() : o.out;
  // Legitimate batches only: what each hole needs, the fuzzer has to find.
  m.seeds = {STUBFUZZ_SOURCE_DIR "/corpus/matrix"};
  m.dict = STUBFUZZ_SOURCE_DIR "/fuzzers/fuzz_stub_syscalls.dict";
  m.regressions = STUBFUZZ_SOURCE_DIR "/corpus/regressions";
  std::cout << "fuzzing " << m.profiles.size() << " profiles for " << o.seconds << " s each, "
            << o.jobs << " at a time (about "
            << (m.profiles.size() + o.jobs - 1) / static_cast<size_t>(o.jobs) * o.seconds
            << " s); output in " << m.out_dir << "\n";
  auto r = campaign::run_matrix(m, std::cout);
  if (!r) return fail(r.error().message);
  const std::string text = campaign::to_text(*r);
  std::cout << "\n" << text;
  for (const auto& [name, body] : {std::pair<std::string, std::string>{"matrix.txt", text},
                                   {"matrix.md", campaign::to_markdown(*r)},
                                   {"matrix.json", campaign::to_json(*r)}}) {
    std::ofstream f(m.out_dir + "/" + name);
    f << body;
    if (!f) return fail(m.out_dir + "/" + name + ": cannot write");
  }
  std::cout
      << "\nwritten: " << m.out_dir
      << "/matrix.{txt,md,json} (scripts/plot attack-matrix draws it); each found program is in "
      << m.out_dir << "/<profile>/found/<finding>.txt\n";
  uint64_t execs = 0;
  for (auto e : r->execs) execs += e;
  if (execs == 0)
    return fail("the engine ran no program; see " + m.out_dir + "/*/engine.log", kExitFailed);
  return 0;
}

}  // namespace stubfuzz::cli
