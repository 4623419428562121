#include "filter/syscall_names.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <unordered_map>
#include <vector>

namespace stubfuzz::filter {

namespace {

// Syscall numbers above this are not looked up; x86 tables end below 500.
constexpr int kMaxSyscallNr = 1024;

struct ActionCode {
  std::string_view name;
  uint32_t code;
};
constexpr std::array<ActionCode, 8> kActions{{
    {"KILL_PROCESS", SECCOMP_RET_KILL_PROCESS},
    {"KILL_THREAD", SECCOMP_RET_KILL_THREAD},
    {"TRAP", SECCOMP_RET_TRAP},
    {"ERRNO", SECCOMP_RET_ERRNO},
    {"USER_NOTIF", SECCOMP_RET_USER_NOTIF},
    {"TRACE", SECCOMP_RET_TRACE},
    {"LOG", SECCOMP_RET_LOG},
    {"ALLOW", SECCOMP_RET_ALLOW},
}};

std::string resolve_num(Arch a, int nr) {
  std::unique_ptr<char, decltype(&free)> name(seccomp_syscall_resolve_num_arch(audit_arch(a), nr),
                                              &free);
  return name ? std::string(name.get()) : std::string();
}

// libseccomp's answers, asked once: the disassembler and the assembler
// look names up per instruction.
struct Table {
  std::vector<Syscall> list;
  std::vector<std::string> by_nr;
  std::unordered_map<std::string, int> by_name;

  explicit Table(Arch a) : by_nr(kMaxSyscallNr) {
    for (int nr = 0; nr < kMaxSyscallNr; nr++) {
      by_nr[nr] = resolve_num(a, nr);
      if (by_nr[nr].empty()) continue;
      list.push_back({nr, by_nr[nr]});
      by_name.emplace(by_nr[nr], nr);
    }
  }
};

const Table& table(Arch a) {
  // Never destroyed: other threads may still look names up while the process exits.
  static const Table& x86_64 = *new Table(Arch::kX86_64);
  static const Table& i386 = *new Table(Arch::kI386);
  return a == Arch::kX86_64 ? x86_64 : i386;
}

std::optional<uint32_t> parse_u32(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

uint32_t audit_arch(Arch a) { return a == Arch::kX86_64 ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_I386; }

std::optional<Arch> arch_from_audit(uint32_t audit) {
  if (audit == AUDIT_ARCH_X86_64) return Arch::kX86_64;
  if (audit == AUDIT_ARCH_I386) return Arch::kI386;
  return std::nullopt;
}

std::string_view arch_name(Arch a) { return a == Arch::kX86_64 ? "x86_64" : "i386"; }

std::optional<Arch> arch_from_name(std::string_view name) {
  if (name == "x86_64") return Arch::kX86_64;
  if (name == "i386") return Arch::kI386;
  return std::nullopt;
}

std::string_view audit_arch_symbol(uint32_t audit) {
  if (audit == AUDIT_ARCH_X86_64) return "AUDIT_ARCH_X86_64";
  if (audit == AUDIT_ARCH_I386) return "AUDIT_ARCH_I386";
  return "";
}

std::optional<uint32_t> audit_arch_from_symbol(std::string_view symbol) {
  if (symbol == "AUDIT_ARCH_X86_64") return AUDIT_ARCH_X86_64;
  if (symbol == "AUDIT_ARCH_I386") return AUDIT_ARCH_I386;
  return std::nullopt;
}

std::string syscall_name(Arch a, int nr) {
  if (nr < 0) return "";
  if (nr < kMaxSyscallNr) return table(a).by_nr[nr];
  return resolve_num(a, nr);
}

std::optional<int> syscall_number(Arch a, std::string_view name) {
  // The table first: libseccomp resolves some i386 names (socket, ...) to
  // negative socketcall pseudo-numbers although a direct syscall exists.
  const Table& t = table(a);
  if (auto it = t.by_name.find(std::string(name)); it != t.by_name.end()) return it->second;
  int nr = seccomp_syscall_resolve_name_arch(audit_arch(a), std::string(name).c_str());
  if (nr < 0) return std::nullopt;
  return nr;
}

std::span<const Syscall> syscalls(Arch a) { return table(a).list; }

std::string action_name(uint32_t ret) {
  const uint32_t code = ret & SECCOMP_RET_ACTION_FULL;
  const uint32_t data = ret & SECCOMP_RET_DATA;
  for (const auto& a : kActions) {
    if (a.code != code) continue;
    std::string s(a.name);
    if (data != 0 || code == SECCOMP_RET_ERRNO) s += "(" + std::to_string(data) + ")";
    return s;
  }
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", ret);
  return buf;
}

std::optional<uint32_t> action_from_name(std::string_view text) {
  std::string_view name = text;
  uint32_t data = 0;
  if (auto open = text.find('('); open != std::string_view::npos) {
    if (text.back() != ')') return std::nullopt;
    name = text.substr(0, open);
    auto d = parse_u32(text.substr(open + 1, text.size() - open - 2));
    if (!d || *d > SECCOMP_RET_DATA) return std::nullopt;
    data = *d;
  }
  for (const auto& a : kActions)
    if (a.name == name) return a.code | data;
  return std::nullopt;
}

std::string field_name(uint32_t offset) {
  if (offset % 4 != 0 || offset >= sizeof(seccomp_data)) return "";
  if (offset == offsetof(seccomp_data, nr)) return "nr";
  if (offset == offsetof(seccomp_data, arch)) return "arch";
  if (offset == offsetof(seccomp_data, instruction_pointer)) return "ip";
  if (offset == offsetof(seccomp_data, instruction_pointer) + 4) return "ip_hi";
  const uint32_t rel = offset - offsetof(seccomp_data, args);
  const std::string idx = "[" + std::to_string(rel / 8) + "]";
  return (rel % 8 == 0 ? "args" : "args_hi") + idx;
}

std::optional<uint32_t> field_offset(std::string_view name) {
  for (uint32_t off = 0; off < sizeof(seccomp_data); off += 4)
    if (field_name(off) == name) return off;
  return std::nullopt;
}

}  // namespace stubfuzz::filter
