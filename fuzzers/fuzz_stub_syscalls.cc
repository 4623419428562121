// The hijacked stub: each input decodes into a program of syscall records,
// run in a real stub of the chosen profile; a broken claim aborts.
//   STUBFUZZ_PROFILE=NAME  a built-in profile (default: listener)
//   STUBFUZZ_FILTER=FILE   a filter file (binary or text), judged by the
//   STUBFUZZ_CLAIMS=NAME   monitor rules and claims of that profile
//   STUBFUZZ_MATRIX_DIR=D  attack-matrix mode (`stubfuzz matrix`): every claim
//                          is judged, nothing aborts, and the first program of
//                          each class of finding is written to D/<class>.txt
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>

#include "campaign/found.h"
#include "campaign/target_env.h"
#include "feedback.h"
#include "fuzz/executor.h"
#include "fuzz/oracle.h"
#include "fuzz/stats.h"
#include "kernel/sys.h"
#include "mutator.h"
#include "profile/profile.h"
#include "profile/uml_profile.h"

using namespace stubfuzz;

namespace {

std::unique_ptr<Profile> g_profile;
std::unique_ptr<fuzz::Executor> g_executor;
std::unique_ptr<fuzz::StatsWriter> g_stats;
const char* g_matrix_dir = nullptr;
std::chrono::steady_clock::time_point g_start;

std::string getenv_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "fuzz_stub_syscalls: %s\n", message.c_str());
  std::exit(2);
}

Profile choose_base_profile() {
  const char* name = std::getenv(campaign::env::kProfile);
  const char* filter_path = std::getenv(campaign::env::kFilter);
  const char* claims = std::getenv(campaign::env::kClaims);
  if (const char* tree = std::getenv(campaign::env::kUmlTree)) {
    const char* u = std::getenv(campaign::env::kUnsafe);
    auto p = profile_from_uml_tree(tree, !(u && *u == '1'));
    if (!p) die(p.error().message);
    return *p;
  }
  if (filter_path) {
    auto p = profile_from_filter_file(filter_path, claims ? claims : kDefaultProfile);
    if (!p) die(p.error().message);
    return *p;
  }
  auto p = find_profile(name ? name : kDefaultProfile);
  if (!p) die(p.error().message);
  return **p;
}

Profile choose_profile() {
  Profile p = choose_base_profile();
  // STUBFUZZ_UNSAFE=1: no sandbox, as `stubfuzz fuzz --unsafe`.
  if (const char* u = std::getenv(campaign::env::kUnsafe); u && *u == '1') p.sandboxed = false;
  return p;
}

// STUBFUZZ_BIND_CPU=1 (`stubfuzz fuzz` with as many jobs as CPUs): the
// worker on a CPU of its own, with its pool thread and its stubs, as
// afl-fuzz binds itself (under AFL++ the target is already bound and this
// does nothing). The monitor, the stub and the factory then wake each other
// on one CPU, without an IPI to another vCPU for every hand-over
// (docs/fuzzing.md). No free CPU: the worker runs unbound.
void bind_worker() {
  if (const char* bind = std::getenv(campaign::env::kBindCpu); !bind || *bind != '1') return;
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  (void)kernel::bind_to_free_cpu(runtime && *runtime ? runtime : "/tmp");
}
// On first use, not in LLVMFuzzerInitialize: AFL++'s fork server forks after
// initialization, and the stub pool's thread would not survive the fork.
void start() {
  bind_worker();  // before the pool's thread, which inherits it
  g_profile = std::make_unique<Profile>(choose_profile());
  g_executor = std::make_unique<fuzz::Executor>(*g_profile);
  g_stats = std::make_unique<fuzz::StatsWriter>(getenv_or_empty(campaign::env::kStatsDir));
  g_stats->set_filter(g_executor->filter());
  g_matrix_dir = std::getenv(campaign::env::kMatrixDir);
  g_start = std::chrono::steady_clock::now();
}

// The first program of each class, with when it came; O_EXCL keeps the first.
void note_classes(const fuzz::Program& program, const fuzz::Execution& ex,
                  const fuzz::Judgement& j) {
  static std::set<FindingId> seen;
  for (const auto& b : j.breaches) {
    if (!seen.insert(b.cls).second) continue;
    const std::string path = campaign::found_file(g_matrix_dir, b.cls);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) continue;
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
    std::string text = campaign::found_header(s) + "# profile: " + g_profile->name + "\n# breaks " +
                       std::string(b.claim_name()) + " (" + std::string(b.class_name()) +
                       ") at record " + std::to_string(b.record) + ": " + b.detail + "\n" +
                       fuzz::to_text(program) + "# as run:\n";
    const std::string run = fuzz::describe(program, ex, j);
    for (size_t at = 0; at < run.size();) {
      const size_t nl = run.find('\n', at);
      text += "#" + run.substr(at, nl - at) + "\n";
      at = nl == std::string::npos ? run.size() : nl + 1;
    }
    (void)!write(fd, text.data(), text.size());
    close(fd);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)choose_profile();  // a bad profile or filter fails here, once, clearly
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!g_executor) start();
  std::vector<fuzz::RecordSpan> spans;
  const fuzz::Program program = fuzz::program_from_bytes({data, size}, &spans);
  if (program.records.empty()) return 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto ex = g_executor->run(program);
  const auto exec_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  if (!ex) die(ex.error().message);  // the harness itself failed: not a finding
  const auto j =
      fuzz::judge(*g_profile, g_executor->config(), program, *ex, g_matrix_dir != nullptr);
  const auto compares = fuzz::report_feedback({data, size}, spans, program, *ex, j);
  g_stats->record(program, *ex, j, g_executor->stubs_used(), g_executor->stubs_reset(), exec_ns);
  fuzz::remember_compares({data, size}, compares);
  if (g_matrix_dir) {
    note_classes(program, *ex, j);
    fuzz::emit_compares(compares);
    return 0;
  }
  if (const auto* b = j.first_violation()) {
    const std::string report = "stubfuzz: claim " + std::string(b->claim_name()) +
                               " broken by record " + std::to_string(b->record) + ": " +
                               fuzz::to_text(program.records[b->record]) + " (" + b->detail +
                               ")\n" + fuzz::describe(program, *ex, j);
    std::fputs(report.c_str(), stderr);
    g_stats->violation(report);
    __builtin_trap();
  }
  fuzz::emit_compares(compares);
  return 0;
}
