// A matrix cell whose verdict depends on the syscall's arguments, as a
// person reads it: "ALLOW if args[1].lo == 0xc0182101
// (SECCOMP_IOCTL_NOTIF_SEND), KILL_PROCESS otherwise".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "filter/arg_conditions.h"
#include "filter/syscall_names.h"

namespace stubfuzz::explain {

// A value as the tables print it: 0x followed by lowercase hex digits.
std::string hex(uint64_t v);

struct Conditions {
  filter::ArgVerdicts verdicts;  // the cases, in program order
  // The verdict most cases end in, printed last as "otherwise".
  uint32_t otherwise = 0;
};

Conditions conditions_of(filter::ArgVerdicts v);

// One case's tests: "args[1].lo == 0xc0182101 (SECCOMP_IOCTL_NOTIF_SEND) and
// args[2] > 0x10". An i386 argument has no upper half, and a half fixed by
// the case merges with the other into one 64-bit value.
std::string describe(filter::Arch arch, std::string_view syscall,
                     const std::vector<filter::ArgTest>& tests);
std::string to_text(filter::Arch arch, std::string_view syscall, const Conditions& c);
nlohmann::json to_json(filter::Arch arch, std::string_view syscall, const Conditions& c);

}  // namespace stubfuzz::explain
