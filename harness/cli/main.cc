// The `stubfuzz` command: one subcommand per job. Every error reaches the
// user as one line, "stubfuzz: <what>", and a non-zero exit.
#include <CLI/CLI.hpp>
#include <iostream>

#include "check/check.h"
#include "check/doctor.h"
#include "fuzz/executor.h"
#include "fuzz/replay.h"
#include "profile/profile.h"

namespace {

using stubfuzz::Profile;

constexpr int kExitUsage = 2;
constexpr int kExitFailed = 1;

int fail(const std::string& message, int code = kExitUsage) {
  std::cerr << "stubfuzz: " << message << "\n";
  return code;
}

// --profile NAME, or --filter FILE judged by --claims NAME.
struct ProfileChoice {
  std::string profile{stubfuzz::kDefaultProfile};
  std::string filter;
  std::string claims{stubfuzz::kDefaultProfile};

  void add_to(CLI::App* cmd) {
    std::string names;
    for (const auto& p : stubfuzz::builtin_profiles())
      names += (names.empty() ? "" : ", ") + p.name;
    auto* prof = cmd->add_option("--profile", profile, "built-in profile (" + names + ")");
    auto* filt = cmd->add_option("--filter", filter, "a filter file (binary or text) instead");
    cmd->add_option("--claims", claims, "whose monitor rules and claims judge --filter");
    prof->excludes(filt);
  }
  stubfuzz::Result<Profile> resolve() const {
    if (!filter.empty()) return stubfuzz::profile_from_filter_file(filter, claims);
    auto p = stubfuzz::find_profile(profile);
    if (!p) return p.error();
    return **p;
  }
};

int run_check(const ProfileChoice& choice) {
  auto profile = choice.resolve();
  if (!profile) return fail(profile.error().message);
  auto report = stubfuzz::run_checks(*profile);
  stubfuzz::print_report(report, std::cout);
  return report.ok() ? 0 : kExitFailed;
}

int run_doctor() {
  return stubfuzz::print_doctor(stubfuzz::run_doctor(), std::cout) ? 0 : kExitFailed;
}

int run_replay(const ProfileChoice& choice, const std::vector<std::string>& inputs) {
  auto profile = choice.resolve();
  if (!profile) return fail(profile.error().message);
  auto files = stubfuzz::fuzz::expand_inputs(inputs);
  if (!files) return fail(files.error().message);
  // Load every file first: a corrupt one is reported before anything runs.
  std::vector<stubfuzz::fuzz::Program> programs;
  for (const auto& f : *files) {
    auto p = stubfuzz::fuzz::load_program(f);
    if (!p) return fail(p.error().message);
    programs.push_back(*p);
  }
  stubfuzz::fuzz::Executor executor(*profile);
  int reproduced = 0;
  for (size_t i = 0; i < programs.size(); i++) {
    auto r = stubfuzz::fuzz::replay(executor, *profile, programs[i]);
    if (!r) return fail((*files)[i] + ": " + r.error().message, kExitFailed);
    stubfuzz::fuzz::print_replay((*files)[i], *r, std::cout);
    if (r->judgement.violated()) reproduced++;
  }
  std::cout << files->size() << " programs, " << reproduced << " break a claim\n";
  return reproduced ? kExitFailed : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stubfuzz: fuzzing and security tests for seccomp stubs that hand their "
               "user-notification listener to a monitor"};
  app.require_subcommand(1);

  auto* doctor = app.add_subcommand("doctor", "what this kernel supports; non-zero if the "
                                              "harness cannot run here");
  ProfileChoice check_choice, replay_choice;
  auto* check = app.add_subcommand("check", "probe every claim of a profile in real stubs");
  check_choice.add_to(check);

  std::vector<std::string> inputs;
  auto* replay = app.add_subcommand(
      "replay", "run crash or corpus files (libFuzzer, AFL++ or text programs) and judge them");
  replay_choice.add_to(replay);
  replay->add_option("inputs", inputs, "files or directories")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(std::string(e.what()) + " (see stubfuzz --help)");
  }

  if (*doctor) return run_doctor();
  if (*check) return run_check(check_choice);
  if (*replay) return run_replay(replay_choice, inputs);
  return fail("no command given (see stubfuzz --help)");
}
