// The `stubfuzz` command: one subcommand per job. Every error reaches the
// user as one line, "stubfuzz: <what>", and a non-zero exit.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace {

using stubfuzz::cli::ProfileChoice;

CLI::Option* add_profile_options(CLI::App* cmd, ProfileChoice& c) {
  std::string names;
  for (const auto& p : stubfuzz::builtin_profiles()) names += (names.empty() ? "" : ", ") + p.name;
  auto* prof = cmd->add_option("--profile", c.profile, "built-in profile (" + names + ")");
  auto* filt = cmd->add_option("--filter", c.filter, "a filter file (binary or text) instead");
  cmd->add_option("--claims", c.claims, "whose monitor rules and claims judge --filter");
  cmd->add_flag("--unsafe", c.unsafe,
                "run stubs without the sandbox (only on a machine you do not care about)");
  prof->excludes(filt);
  return prof;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "stubfuzz: fuzzing and security tests for seccomp stubs that hand their "
      "user-notification listener to a monitor"};
  app.require_subcommand(1);

  auto* doctor = app.add_subcommand("doctor",
                                    "what this kernel supports; non-zero if the "
                                    "harness cannot run here");
  bool doctor_json = false;
  doctor->add_flag("--json", doctor_json, "one JSON object with the kernel facts (docs/json.md)");

  ProfileChoice check_choice;
  auto* check = app.add_subcommand("check", "probe every claim of a profile in real stubs");
  add_profile_options(check, check_choice);
  bool check_json = false;
  check->add_flag("--json", check_json,
                  "one JSON object: every row and the kernel facts (docs/json.md)");

  ProfileChoice explain_choice;
  stubfuzz::cli::ExplainOptions explain_opts;
  auto* explain = app.add_subcommand(
      "explain", "a filter with symbolic names and its verdict matrix per syscall and origin");
  add_profile_options(explain, explain_choice);
  explain->add_flag("--json", explain_opts.json, "machine-readable output");
  explain->add_flag("--verify", explain_opts.verify,
                    "run the matrix's cells in real stubs; non-zero on any disagreement");
  explain->add_option("--per-row", explain_opts.per_row,
                      "syscalls verified per folded row (0: all)");
  explain->add_option("--emit", explain_opts.emit, "write the filter as bpf or asm")
      ->check(CLI::IsMember({"bpf", "asm"}));
  explain->add_option("--out", explain_opts.out, "file for --emit");

  ProfileChoice fuzz_choice;
  stubfuzz::cli::FuzzOptions fuzz_opts;
  auto* fuzz = app.add_subcommand("fuzz", "run a fuzzing campaign on the hijacked stub");
  add_profile_options(fuzz, fuzz_choice);
  fuzz->add_option("--time", fuzz_opts.seconds, "seconds (default 60)");
  fuzz->add_option("--jobs", fuzz_opts.jobs, "parallel fuzzers (default 1)");
  fuzz->add_option("--engine", fuzz_opts.engine, "libfuzzer (default) or afl")
      ->check(CLI::IsMember({"libfuzzer", "afl"}));
  fuzz->add_option("--out", fuzz_opts.out, "output directory (default fuzz-out/<name>-<time>)");
  fuzz->add_option("--target", fuzz_opts.target, "the engine's fuzz_stub_syscalls binary");

  ProfileChoice replay_choice;
  std::vector<std::string> inputs;
  auto* replay = app.add_subcommand(
      "replay", "run crash or corpus files (libFuzzer, AFL++ or text programs) and judge them");
  auto* replay_profile = add_profile_options(replay, replay_choice);
  replay->add_option("inputs", inputs, "files or directories")->required();
  bool every_claim = false;
  replay->add_flag("--every-claim", every_claim,
                   "judge every claim, not only the profile's (as `stubfuzz matrix` does)");

  ProfileChoice minimize_choice;
  std::string minimize_input, minimize_out;
  auto* minimize =
      app.add_subcommand("minimize", "the shortest program that still breaks the same claim");
  add_profile_options(minimize, minimize_choice);
  minimize->add_option("input", minimize_input, "a crash or program file")->required();
  minimize->add_option("-o,--out", minimize_out, "write the text program here (default stdout)");

  stubfuzz::cli::MatrixCliOptions matrix_opts;
  auto* matrix = app.add_subcommand(
      "matrix",
      "fuzz every built-in profile, judging every claim, and print which finding each "
      "step of the series closes (text, markdown and SVG)");
  matrix->add_option("--time", matrix_opts.seconds, "seconds per profile (default 120)");
  matrix->add_option("--jobs", matrix_opts.jobs, "profiles fuzzed at once (default 2)");
  matrix->add_option("--profiles", matrix_opts.profiles, "columns (default: every built-in)")
      ->delimiter(',');
  matrix->add_option("--out", matrix_opts.out, "output directory (default fuzz-out/matrix-<time>)");
  matrix->add_option("--target", matrix_opts.target, "the libFuzzer fuzz_stub_syscalls binary");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return stubfuzz::cli::fail(std::string(e.what()) + " (see stubfuzz --help)");
  }

  using namespace stubfuzz::cli;
  if (*doctor) return run_doctor(doctor_json);
  if (*check) return run_check(check_choice, check_json);
  if (*explain) return run_explain(explain_choice, explain_opts);
  if (*fuzz) return run_fuzz(fuzz_choice, fuzz_opts, argv[0]);
  if (*replay) {
    replay_choice.profile_given = replay_profile->count() > 0;
    return run_replay(replay_choice, inputs, every_claim);
  }
  if (*matrix) return run_matrix(matrix_opts, argv[0]);
  if (*minimize) return run_minimize(minimize_choice, minimize_input, minimize_out);
  return fail("no command given (see stubfuzz --help)");
}
