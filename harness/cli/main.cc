// The `stubfuzz` command: one subcommand per job. Every error reaches the
// user as one line, "stubfuzz: <what>", and a non-zero exit.
#include <CLI/CLI.hpp>
#include <iostream>

#include "check/check.h"
#include "check/doctor.h"
#include "profile/profile.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailed = 1;

int fail(const std::string& message, int code = kExitUsage) {
  std::cerr << "stubfuzz: " << message << "\n";
  return code;
}

int run_check(const std::string& profile_name) {
  auto profile = stubfuzz::find_profile(profile_name);
  if (!profile) return fail(profile.error().message);
  auto report = stubfuzz::run_checks(**profile);
  stubfuzz::print_report(report, std::cout);
  return report.ok() ? 0 : kExitFailed;
}

int run_doctor() {
  return stubfuzz::print_doctor(stubfuzz::run_doctor(), std::cout) ? 0 : kExitFailed;
}

std::string profile_names() {
  std::string names;
  for (const auto& p : stubfuzz::builtin_profiles())
    names += (names.empty() ? "" : ", ") + p.name;
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"stubfuzz: fuzzing and security tests for seccomp stubs that hand their "
               "user-notification listener to a monitor"};
  app.require_subcommand(1);

  auto* doctor = app.add_subcommand("doctor", "what this kernel supports; non-zero if the "
                                              "harness cannot run here");
  std::string profile{stubfuzz::kDefaultProfile};
  auto* check = app.add_subcommand("check", "probe every claim of a profile in real stubs");
  check->add_option("--profile", profile, "profile to check (" + profile_names() + ")");

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
  if (*check) return run_check(profile);
  return fail("no command given (see stubfuzz --help)");
}
