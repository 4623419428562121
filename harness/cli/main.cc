// The `stubfuzz` command: one subcommand per job. Every error reaches the
// user as one line, "stubfuzz: <what>", and a non-zero exit.
#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"

namespace {

using stubfuzz::cli::ProfileChoice;

CLI::Option* add_profile_options(CLI::App* cmd, ProfileChoice& c) {
  std::string names;
  for (const auto& p : stubfuzz::builtin_profiles()) names += (names.empty() ? "" : ", ") + p.name;
  auto* prof = cmd->add_option("--profile", c.profile, "built-in profile (" + names + ")");
  auto* filt = cmd->add_option("--filter", c.filter, "a filter file (binary or text) instead");
  cmd->add_option("--claims", c.claims, "whose monitor rules and claims judge --filter");
  auto* tree = cmd->add_option("--uml-tree", c.uml_tree,
                               "UML's own stub from this kernel tree, built for ARCH=um, "
                               "instead (needs root)");
  tree->excludes(filt);
  tree->excludes(prof);
  cmd->add_flag("--unsafe", c.unsafe,
                "run stubs without the sandbox (only on a machine you do not care about)");
  prof->excludes(filt);
  return prof;
}

// A subcommand and how to run it once parsed; its options live as long as
// the lambda that owns them.
struct Command {
  CLI::App* sub;
  std::function<int()> run;
};

Command add_doctor(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand("doctor",
                                 "what this kernel supports; non-zero if the harness cannot run "
                                 "here");
  sub->add_flag("--json", *json, "one JSON object with the kernel facts (docs/json.md)");
  return {sub, [json] { return stubfuzz::cli::run_doctor(*json); }};
}

Command add_check(CLI::App& app) {
  auto choice = std::make_shared<ProfileChoice>();
  auto json = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand("check", "probe every claim of a profile in real stubs");
  add_profile_options(sub, *choice);
  sub->add_flag("--json", *json, "one JSON object: every row and the kernel facts (docs/json.md)");
  return {sub, [choice, json] { return stubfuzz::cli::run_check(*choice, *json); }};
}

Command add_explain(CLI::App& app) {
  auto choice = std::make_shared<ProfileChoice>();
  auto o = std::make_shared<stubfuzz::cli::ExplainOptions>();
  auto* sub = app.add_subcommand(
      "explain", "a filter with symbolic names and its verdict matrix per syscall and origin");
  add_profile_options(sub, *choice);
  sub->add_flag("--json", o->json, "machine-readable output");
  sub->add_flag("--verify", o->verify,
                "run the matrix's cells in real stubs; non-zero on any disagreement");
  sub->add_option("--per-row", o->per_row, "syscalls verified per folded row (0: all)");
  sub->add_option("--emit", o->emit, "write the filter as bpf or asm")
      ->check(CLI::IsMember({"bpf", "asm"}));
  sub->add_option("--out", o->out, "file for --emit");
  return {sub, [choice, o] { return stubfuzz::cli::run_explain(*choice, *o); }};
}

Command add_fuzz(CLI::App& app, std::string self) {
  auto choice = std::make_shared<ProfileChoice>();
  auto o = std::make_shared<stubfuzz::cli::FuzzOptions>();
  auto* sub = app.add_subcommand("fuzz", "run a fuzzing campaign on the hijacked stub");
  add_profile_options(sub, *choice);
  sub->add_option("--time", o->seconds, "seconds (default 60)");
  sub->add_option("--jobs", o->jobs, "parallel fuzzers (default 1)");
  sub->add_option("--engine", o->engine, "libfuzzer (default) or afl")
      ->check(CLI::IsMember({"libfuzzer", "afl"}));
  sub->add_option("--out", o->out, "output directory (default fuzz-out/<name>-<time>)");
  sub->add_option("--target", o->target, "the engine's fuzz_stub_syscalls binary");
  return {sub, [choice, o, self] { return stubfuzz::cli::run_fuzz(*choice, *o, self); }};
}

Command add_replay(CLI::App& app) {
  auto choice = std::make_shared<ProfileChoice>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto every_claim = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand(
      "replay", "run crash or corpus files (libFuzzer, AFL++ or text programs) and judge them");
  auto* profile = add_profile_options(sub, *choice);
  sub->add_option("inputs", *inputs, "files or directories")->required();
  sub->add_flag("--every-claim", *every_claim,
                "judge every claim, not only the profile's (as `stubfuzz matrix` does)");
  return {sub, [choice, inputs, every_claim, profile] {
            // A file's "# profile:" line picks its profile unless one is given.
            choice->profile_given = profile->count() > 0;
            return stubfuzz::cli::run_replay(*choice, *inputs, *every_claim);
          }};
}

Command add_minimize(CLI::App& app) {
  auto choice = std::make_shared<ProfileChoice>();
  auto files = std::make_shared<std::pair<std::string, std::string>>();  // input, out
  auto* sub =
      app.add_subcommand("minimize", "the shortest program that still breaks the same claim");
  add_profile_options(sub, *choice);
  sub->add_option("input", files->first, "a crash or program file")->required();
  sub->add_option("-o,--out", files->second, "write the text program here (default stdout)");
  return {sub, [choice, files] {
            return stubfuzz::cli::run_minimize(*choice, files->first, files->second);
          }};
}

Command add_matrix(CLI::App& app, std::string self) {
  auto o = std::make_shared<stubfuzz::cli::MatrixCliOptions>();
  auto* sub = app.add_subcommand(
      "matrix",
      "fuzz every built-in profile, judging every claim, and print which finding each "
      "step of the series closes (text, markdown and SVG)");
  sub->add_option("--time", o->seconds, "seconds per profile (default 120)");
  sub->add_option("--jobs", o->jobs, "profiles fuzzed at once (default 2)");
  sub->add_option("--profiles", o->profiles, "columns (default: every built-in)")->delimiter(',');
  sub->add_option("--uml-tree", o->uml_tree,
                  "one more column: UML's own stub from this kernel tree (needs root)");
  sub->add_option("--out", o->out, "output directory (default fuzz-out/matrix-<time>)");
  sub->add_option("--target", o->target, "the libFuzzer fuzz_stub_syscalls binary");
  return {sub, [o, self] { return stubfuzz::cli::run_matrix(*o, self); }};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "stubfuzz: fuzzing and security tests for seccomp stubs that hand their "
      "user-notification listener to a monitor"};
  app.require_subcommand(1);
  const Command commands[] = {add_doctor(app),         add_check(app),  add_explain(app),
                              add_fuzz(app, argv[0]),  add_replay(app), add_minimize(app),
                              add_matrix(app, argv[0])};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return stubfuzz::cli::fail(std::string(e.what()) + " (see stubfuzz --help)");
  }
  for (const Command& c : commands)
    if (*c.sub) return c.run();
  return stubfuzz::cli::fail("no command given (see stubfuzz --help)");
}
