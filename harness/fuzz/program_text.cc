// The text form of a program, one record a line:
//   stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &scratch+64)
//   outside close(1)
//   at(STUB-2) mmap(0, 4096, 1, 34, 0xffffffffffffffff, 0)
//   at(ALIAS+0x40) i386 getpid()
//   queued mmap(0x200000000, 4096, 3, 0x32, -1, 0)   (a call the monitor queued)
//   outside spin                                    (loops, never a syscall)
//   t2 stub ioctl(LISTENER, SECCOMP_IOCTL_NOTIF_SEND, &resp{id=PENDING})
//                              (on the second thread, while the first waits)
// Trailing zero arguments are left out; `#` starts a comment.
#include <linux/seccomp.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <sstream>

#include "filter/syscall_names.h"
#include "fuzz/program.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif

namespace stubfuzz::fuzz {

namespace {

struct Named {
  const char* name;
  uint64_t value;
};
const std::array<Named, 5> kConstants = {{
    {"SECCOMP_IOCTL_NOTIF_RECV", SECCOMP_IOCTL_NOTIF_RECV},
    {"SECCOMP_IOCTL_NOTIF_SEND", SECCOMP_IOCTL_NOTIF_SEND},
    {"SECCOMP_IOCTL_NOTIF_ID_VALID", SECCOMP_IOCTL_NOTIF_ID_VALID},
    {"SECCOMP_IOCTL_NOTIF_ADDFD", SECCOMP_IOCTL_NOTIF_ADDFD},
    {"SECCOMP_IOCTL_NOTIF_SET_FLAGS", SECCOMP_IOCTL_NOTIF_SET_FLAGS},
}};

std::string number(uint64_t v) {
  if (v < 4096) return std::to_string(v);
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

std::string plus(const char* base, uint64_t off) {
  return off ? std::string(base) + "+" + number(off) : std::string(base);
}

std::string arg_text(const Arg& a) {
  switch (a.kind) {
    case ArgKind::kLiteral:
      for (const auto& c : kConstants)
        if (c.value == a.value) return c.name;
      return number(a.value);
    case ArgKind::kListener:
      return "LISTENER";
    case ArgKind::kSocket:
      return "SOCKET";
    case ArgKind::kScratch:
      return plus("&scratch", a.value);
    case ArgKind::kStub:
      return plus("STUB", a.value);
    case ArgKind::kPending:
      return "PENDING";
    case ArgKind::kResponse:
      return "&resp{id=PENDING}";
    case ArgKind::kCount:
      break;
  }
  return "?";
}

std::string site_text(const Site& s) {
  switch (s.kind) {
    case SiteKind::kStub:
      return "stub";
    case SiteKind::kOutside:
      return "outside";
    case SiteKind::kBelowEdge:
      return "at(STUB-2)";
    case SiteKind::kBelow:
      return "at(" + plus("BELOW", s.offset) + ")";
    case SiteKind::kAbove:
      return "at(" + plus("ABOVE", s.offset) + ")";
    case SiteKind::kAlias:
      return "at(" + plus("ALIAS", s.offset) + ")";
    case SiteKind::kQueued:
      return "queued";
    case SiteKind::kStubSite:
      return "stub(" + std::to_string(s.offset) + ")";
    case SiteKind::kCount:
      break;
  }
  return "?";
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> parse_number(std::string_view s) {
  s = trim(s);
  bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return negative ? ~v + 1 : v;
}

// "BASE" or "BASE+N".
std::optional<uint64_t> parse_offset(std::string_view s, std::string_view base) {
  s = trim(s);
  if (s.substr(0, base.size()) != base) return std::nullopt;
  s.remove_prefix(base.size());
  s = trim(s);
  if (s.empty()) return 0;
  if (s.front() != '+') return std::nullopt;
  return parse_number(s.substr(1));
}

std::optional<Arg> parse_arg(std::string_view s) {
  s = trim(s);
  if (s == "LISTENER") return Arg{ArgKind::kListener, 0};
  if (s == "SOCKET") return Arg{ArgKind::kSocket, 0};
  if (s == "PENDING") return Arg{ArgKind::kPending, 0};
  if (s == "&resp{id=PENDING}") return Arg{ArgKind::kResponse, 0};
  if (auto v = parse_offset(s, "&scratch")) return Arg{ArgKind::kScratch, *v};
  if (auto v = parse_offset(s, "STUB")) return Arg{ArgKind::kStub, *v};
  for (const auto& c : kConstants)
    if (s == c.name) return Arg{ArgKind::kLiteral, c.value};
  if (auto v = parse_number(s)) return Arg{ArgKind::kLiteral, *v};
  return std::nullopt;
}

std::optional<Site> parse_site(std::string_view s) {
  if (s == "stub") return Site{SiteKind::kStub, 0};
  if (s == "outside") return Site{SiteKind::kOutside, 0};
  if (s == "queued") return Site{SiteKind::kQueued, 0};
  if (s.size() > 6 && s.substr(0, 5) == "stub(" && s.back() == ')')
    if (auto n = parse_number(s.substr(5, s.size() - 6)); n && *n < STUB_PAGE_SIZE - 2)
      return Site{SiteKind::kStubSite, static_cast<uint16_t>(*n)};
  if (s.size() < 4 || s.substr(0, 3) != "at(" || s.back() != ')') return std::nullopt;
  std::string_view in = s.substr(3, s.size() - 4);
  if (trim(in) == "STUB-2") return Site{SiteKind::kBelowEdge, 0};
  const std::pair<const char*, SiteKind> pages[] = {
      {"BELOW", SiteKind::kBelow}, {"ABOVE", SiteKind::kAbove}, {"ALIAS", SiteKind::kAlias}};
  for (auto [name, kind] : pages)
    if (auto off = parse_offset(in, name); off && *off < STUB_PAGE_SIZE - 2)
      return Site{kind, static_cast<uint16_t>(*off)};
  return std::nullopt;
}

Result<Record> parse_record(std::string_view line) {
  Record r;
  if (line.substr(0, 3) == "t2 ") {
    r.thread2 = true;
    line = trim(line.substr(3));
  }
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return Error{"expected '<site> <syscall>(<args>)'", EINVAL};
  auto site = parse_site(line.substr(0, sp));
  if (!site) return Error{"unknown site '" + std::string(line.substr(0, sp)) + "'", EINVAL};
  r.site = *site;
  std::string_view rest = trim(line.substr(sp + 1));
  if (rest == "spin") {
    r.spin = true;
    return r;
  }
  if (rest.substr(0, 5) == "i386 ") {
    r.i386 = true;
    rest = trim(rest.substr(5));
  }
  uint32_t x32 = 0;
  if (rest.substr(0, 4) == "x32 ") {  // the bit, whatever the ABI
    x32 = kX32Bit;
    rest = trim(rest.substr(4));
  }
  const size_t open = rest.find('(');
  if (open == std::string_view::npos || rest.back() != ')')
    return Error{"expected '<syscall>(<args>)'", EINVAL};
  const std::string name(trim(rest.substr(0, open)));
  const auto arch = r.i386 ? filter::Arch::kI386 : filter::Arch::kX86_64;
  if (name.rfind("syscall_", 0) == 0) {
    auto nr = parse_number(std::string_view(name).substr(8));
    if (!nr || *nr > kMaxNr) return Error{"bad syscall number '" + name + "'", EINVAL};
    r.nr = static_cast<uint32_t>(*nr) | x32;
  } else if (auto nr = filter::syscall_number(arch, name); nr && *nr >= 0 && *nr <= int{kMaxNr}) {
    r.nr = static_cast<uint32_t>(*nr) | x32;
  } else {
    return Error{"unknown syscall '" + name + "' for " + std::string(filter::arch_name(arch)),
                 EINVAL};
  }
  std::string_view args = rest.substr(open + 1, rest.size() - open - 2);
  int i = 0;
  while (!trim(args).empty()) {
    if (i == 6) return Error{"more than 6 arguments", EINVAL};
    const size_t comma = args.find(',');
    auto a = parse_arg(args.substr(0, comma));
    if (!a) return Error{"bad argument '" + std::string(trim(args.substr(0, comma))) + "'", EINVAL};
    r.args[i++] = *a;
    if (comma == std::string_view::npos) break;
    args.remove_prefix(comma + 1);
  }
  return r;
}

}  // namespace

std::string to_text(const Record& r) {
  if (r.spin) return std::string(r.thread2 ? "t2 " : "") + site_text(r.site) + " spin";
  const auto arch = r.i386 ? filter::Arch::kI386 : filter::Arch::kX86_64;
  const uint32_t nr = r.nr & kMaxNr;
  std::string name = filter::syscall_name(arch, static_cast<int>(nr));
  if (name.empty()) name = "syscall_" + std::to_string(nr);
  if (r.nr & kX32Bit) name = "x32 " + name;
  int last = 5;
  while (last >= 0 && r.args[last] == Arg{}) last--;
  std::string out = std::string(r.thread2 ? "t2 " : "") + site_text(r.site) +
                    (r.i386 ? " i386 " : " ") + name + "(";
  for (int i = 0; i <= last; i++) out += (i ? ", " : "") + arg_text(r.args[i]);
  return out + ")";
}

std::string to_text(const Program& p) {
  std::string out;
  for (const auto& r : p.records) out += to_text(r) + "\n";
  return out;
}

Result<Program> parse_text(std::string_view text) {
  Program p;
  int lineno = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    lineno++;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    auto r = parse_record(line);
    if (!r) return Error{"line " + std::to_string(lineno) + ": " + r.error().message, EINVAL};
    if (p.records.size() == kMaxRecords)
      return Error{"line " + std::to_string(lineno) + ": more than " + std::to_string(kMaxRecords) +
                       " records",
                   EINVAL};
    p.records.push_back(*r);
  }
  return p;
}

bool looks_like_text(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t c) {
    // UTF-8 is allowed: comments are written by people.
    return c == '\n' || c == '\t' || c == '\r' || (c >= 0x20 && c != 0x7f);
  });
}

Program program_from_bytes(std::span<const uint8_t> bytes, std::vector<RecordSpan>* spans) {
  if (spans) spans->clear();
  if (!bytes.empty() && looks_like_text(bytes)) {
    auto p = parse_text({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    if (p) return *p;
  }
  return decode(bytes, spans);
}

}  // namespace stubfuzz::fuzz
