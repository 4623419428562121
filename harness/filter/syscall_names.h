// Names for what a seccomp filter talks about: syscalls per arch (from
// libseccomp, never a hand-written table), actions, arches and the fields of
// struct seccomp_data.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace stubfuzz::filter {

// The two ABIs an x86-64 stub can use.
enum class Arch : uint8_t { kX86_64, kI386 };

uint32_t audit_arch(Arch a);
std::optional<Arch> arch_from_audit(uint32_t audit);
std::string_view arch_name(Arch a);  // "x86_64", "i386"
std::optional<Arch> arch_from_name(std::string_view name);

// "AUDIT_ARCH_X86_64", "AUDIT_ARCH_I386", or "" for other values.
std::string_view audit_arch_symbol(uint32_t audit);
std::optional<uint32_t> audit_arch_from_symbol(std::string_view symbol);

struct Syscall {
  int nr;
  std::string name;
};

// "" when libseccomp knows no syscall `nr` for the arch.
std::string syscall_name(Arch a, int nr);
std::optional<int> syscall_number(Arch a, std::string_view name);
// Every syscall libseccomp knows for the arch, by number.
std::span<const Syscall> syscalls(Arch a);

// The action of a filter's return value as the kernel names it:
// "ALLOW", "ERRNO(13)", "TRAP", "KILL_PROCESS", ...; data is shown only when
// non-zero, except for ERRNO. Unknown action codes print as hex.
std::string action_name(uint32_t ret);
// Parses what action_name prints (and NAME(data) for every action).
std::optional<uint32_t> action_from_name(std::string_view text);

// "nr", "arch", "ip", "ip_hi", "args[2]", "args_hi[2]" for a 4-byte aligned
// offset into seccomp_data; "" otherwise.
std::string field_name(uint32_t offset);
std::optional<uint32_t> field_offset(std::string_view name);

}  // namespace stubfuzz::filter
