#include "filter/asm.h"

#include <cctype>
#include <charconv>
#include <map>
#include <vector>

#include "filter/asm_syntax.h"
#include "filter/syscall_names.h"

namespace stubfuzz::filter {

namespace {

using syntax::kAluOps;
using syntax::kJumpOps;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// ';' always starts a comment; '#' does unless it prefixes an immediate
// ("#5", "#ALLOW"): at the start of a line or before a blank.
std::string_view strip_comment(std::string_view line) {
  std::string_view t = trim(line);
  for (size_t i = 0; i < t.size(); i++) {
    if (t[i] == ';') return trim(t.substr(0, i));
    if (t[i] == '#' &&
        (i == 0 || i + 1 == t.size() || std::isspace(static_cast<unsigned char>(t[i + 1]))))
      return trim(t.substr(0, i));
  }
  return t;
}

bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_ident(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

std::vector<std::string_view> split_operands(std::string_view s) {
  std::vector<std::string_view> out;
  if (trim(s).empty()) return out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); i++) {
    if (i == s.size() || s[i] == ',') {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  return out;
}

std::optional<uint64_t> parse_unsigned(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

class Assembler {
 public:
  explicit Assembler(const AsmOptions& o) : opt_(o) {}
  Result<Program> run(std::string_view text);

 private:
  struct JumpFix {
    size_t index;
    size_t line;
    std::string jt, jf;  // empty jf: the next instruction
    bool ja;
  };

  Error error(size_t line, const std::string& msg) const {
    return Error{opt_.file + ":" + std::to_string(line) + ": " + msg, EINVAL};
  }
  std::optional<Error> line(size_t no, std::string_view text);
  std::optional<Error> instruction(size_t no, std::string_view mnem, std::string_view rest);
  Result<uint32_t> constant(size_t no, std::string_view tok) const;
  Result<uint32_t> symbol(size_t no, std::string_view tok) const;
  Result<uint32_t> field(size_t no, std::string_view tok) const;
  Result<uint32_t> scratch(size_t no, std::string_view tok) const;
  Result<uint32_t> target(const JumpFix& f, std::string_view tok, uint32_t limit) const;
  void emit(uint16_t code, uint32_t k = 0) { prog_.push_back({code, 0, 0, k}); }

  AsmOptions opt_;
  Program prog_;
  std::vector<size_t> lines_;  // source line of each instruction
  std::map<std::string, size_t, std::less<>> labels_;
  std::vector<JumpFix> fixes_;
};

Result<uint32_t> Assembler::symbol(size_t no, std::string_view tok) const {
  if (auto a = action_from_name(tok)) return *a;
  if (auto a = audit_arch_from_symbol(tok)) return *a;
  if (tok == "PAGE_MASK") return syntax::kPageMask;
  if (tok == "STUB" || tok == "STUB_LO" || tok == "STUB_HI" || tok == "STUB_PAGE") {
    if (!opt_.stub_start) return error(no, std::string(tok) + " used but no stub address given");
    const uint64_t s = *opt_.stub_start;
    if (tok == "STUB_HI") return static_cast<uint32_t>(s >> 32);
    if (tok == "STUB_PAGE") return static_cast<uint32_t>(s) & syntax::kPageMask;
    return static_cast<uint32_t>(s);
  }
  Arch arch = Arch::kX86_64;
  std::string_view name = tok;
  if (auto dot = tok.find('.'); dot != std::string_view::npos) {
    auto a = arch_from_name(tok.substr(0, dot));
    if (!a) return error(no, "unknown arch '" + std::string(tok.substr(0, dot)) + "'");
    arch = *a;
    name = tok.substr(dot + 1);
  }
  if (auto nr = syscall_number(arch, name)) return static_cast<uint32_t>(*nr);
  return error(no, "unknown constant '" + std::string(tok) + "'");
}

Result<uint32_t> Assembler::constant(size_t no, std::string_view tok) const {
  if (!tok.empty() && tok[0] == '#') tok.remove_prefix(1);
  if (tok.empty()) return error(no, "missing constant");
  const bool neg = tok[0] == '-';
  std::string_view digits = neg ? tok.substr(1) : tok;
  if (!digits.empty() && std::isdigit(static_cast<unsigned char>(digits[0]))) {
    auto v = parse_unsigned(digits);
    if (!v || *v > (neg ? 0x80000000ull : 0xffffffffull))
      return error(no, "bad number '" + std::string(tok) + "'");
    return static_cast<uint32_t>(neg ? 0ull - *v : *v);
  }
  if (neg) return error(no, "bad number '" + std::string(tok) + "'");
  return symbol(no, tok);
}

// "[nr]", "[args_hi[2]]", "[16]": an offset into seccomp_data.
Result<uint32_t> Assembler::field(size_t no, std::string_view tok) const {
  if (tok.size() < 2 || tok.front() != '[' || tok.back() != ']')
    return error(no, "bad operand '" + std::string(tok) + "', expected [field]");
  std::string_view inner = trim(tok.substr(1, tok.size() - 2));
  if (auto off = field_offset(inner)) return *off;
  if (auto v = parse_unsigned(inner); v && *v <= 0xffffffffull) return static_cast<uint32_t>(*v);
  return error(no, "unknown seccomp_data field '" + std::string(inner) + "'");
}

Result<uint32_t> Assembler::scratch(size_t no, std::string_view tok) const {
  if (tok.size() < 4 || tok.substr(0, 2) != "M[" || tok.back() != ']')
    return error(no, "bad operand '" + std::string(tok) + "', expected M[index]");
  auto v = parse_unsigned(tok.substr(2, tok.size() - 3));
  if (!v || *v > 0xffffffffull) return error(no, "bad scratch index '" + std::string(tok) + "'");
  return static_cast<uint32_t>(*v);
}

Result<uint32_t> Assembler::target(const JumpFix& f, std::string_view tok, uint32_t limit) const {
  uint64_t off;
  if (!tok.empty() && tok[0] == '+') {
    auto v = parse_unsigned(tok.substr(1));
    if (!v) return error(f.line, "bad jump offset '" + std::string(tok) + "'");
    off = *v;
  } else {
    auto it = labels_.find(tok);
    if (it == labels_.end()) return error(f.line, "undefined label '" + std::string(tok) + "'");
    if (it->second <= f.index)
      return error(f.line, "jump backwards to '" + std::string(tok) + "' (BPF jumps forward)");
    off = it->second - f.index - 1;
  }
  if (off > limit)
    return error(f.line, "jump too far to '" + std::string(tok) + "' (" + std::to_string(off) +
                             " > " + std::to_string(limit) + ")");
  return static_cast<uint32_t>(off);
}

std::optional<Error> Assembler::instruction(size_t no, std::string_view mnem,
                                            std::string_view rest) {
  auto ops = split_operands(rest);
  auto want = [&](size_t lo, size_t hi) -> std::optional<Error> {
    if (ops.size() < lo || ops.size() > hi)
      return error(no, std::string(mnem) + ": expected " + std::to_string(lo) +
                           (lo == hi ? "" : "-" + std::to_string(hi)) + " operand(s), got " +
                           std::to_string(ops.size()));
    return std::nullopt;
  };
  auto k_or_err = [&](Result<uint32_t> r, uint16_t code) -> std::optional<Error> {
    if (!r) return r.error();
    emit(code, *r);
    return std::nullopt;
  };

  if (mnem == "ld" || mnem == "ldx") {
    if (auto e = want(1, 1)) return e;
    const uint16_t cls = mnem == "ld" ? BPF_LD : BPF_LDX;
    std::string_view op = ops[0];
    if (op == "len") return k_or_err(0u, cls | BPF_W | BPF_LEN);
    if (op.starts_with("M[")) return k_or_err(scratch(no, op), cls | BPF_MEM);
    if (op.starts_with("#")) return k_or_err(constant(no, op), cls | BPF_IMM);
    if (cls == BPF_LD && op.starts_with("["))
      return k_or_err(field(no, op), BPF_LD | BPF_W | BPF_ABS);
    return error(no, "bad operand '" + std::string(op) + "' for " + std::string(mnem));
  }
  if (mnem == "st" || mnem == "stx") {
    if (auto e = want(1, 1)) return e;
    return k_or_err(scratch(no, ops[0]), mnem == "st" ? BPF_ST : BPF_STX);
  }
  for (const auto& m : kAluOps) {
    if (mnem != m.name) continue;
    if (auto e = want(1, 1)) return e;
    if (ops[0] == "x") return k_or_err(0u, BPF_ALU | m.op | BPF_X);
    return k_or_err(constant(no, ops[0]), BPF_ALU | m.op | BPF_K);
  }
  if (mnem == "neg" || mnem == "tax" || mnem == "txa") {
    if (auto e = want(0, 0)) return e;
    emit(mnem == "neg" ? BPF_ALU | BPF_NEG : BPF_MISC | (mnem == "tax" ? BPF_TAX : BPF_TXA));
    return std::nullopt;
  }
  if (mnem == "ret") {
    if (auto e = want(1, 1)) return e;
    if (ops[0] == "a") return k_or_err(0u, BPF_RET | BPF_A);
    return k_or_err(constant(no, ops[0]), BPF_RET | BPF_K);
  }
  if (mnem == "ja") {
    if (auto e = want(1, 1)) return e;
    fixes_.push_back({prog_.size(), no, std::string(ops[0]), "", true});
    emit(BPF_JMP | BPF_JA);
    return std::nullopt;
  }
  for (const auto& m : kJumpOps) {
    if (mnem != m.name) continue;
    if (auto e = want(2, 3)) return e;
    fixes_.push_back({prog_.size(), no, std::string(ops[1]),
                      ops.size() == 3 ? std::string(ops[2]) : "+0", false});
    if (ops[0] == "x") return k_or_err(0u, BPF_JMP | m.op | BPF_X);
    return k_or_err(constant(no, ops[0]), BPF_JMP | m.op | BPF_K);
  }
  if (mnem == ".raw") {
    if (auto e = want(4, 4)) return e;
    uint64_t v[4];
    for (int i = 0; i < 4; i++) {
      auto n = parse_unsigned(ops[i]);
      const uint64_t max = i == 0 ? 0xffff : i < 3 ? 0xff : 0xffffffffull;
      if (!n || *n > max) return error(no, "bad .raw field '" + std::string(ops[i]) + "'");
      v[i] = *n;
    }
    prog_.push_back({static_cast<uint16_t>(v[0]), static_cast<uint8_t>(v[1]),
                     static_cast<uint8_t>(v[2]), static_cast<uint32_t>(v[3])});
    return std::nullopt;
  }
  return error(no, "unknown mnemonic '" + std::string(mnem) + "'");
}

std::optional<Error> Assembler::line(size_t no, std::string_view raw) {
  std::string_view s = strip_comment(raw);
  // Leading labels: "name:".
  while (!s.empty() && is_ident_start(s[0])) {
    size_t i = 1;
    while (i < s.size() && is_ident(s[i])) i++;
    if (i >= s.size() || s[i] != ':') break;
    std::string name(s.substr(0, i));
    if (!labels_.emplace(name, prog_.size()).second)
      return error(no, "label '" + name + "' defined twice");
    s = trim(s.substr(i + 1));
  }
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) i++;
  const size_t before = prog_.size();
  if (auto e = instruction(no, s.substr(0, i), s.substr(i))) return e;
  for (size_t n = before; n < prog_.size(); n++) lines_.push_back(no);
  if (prog_.size() > syntax::kMaxInstructions)
    return error(
        no, "too long: more than " + std::to_string(syntax::kMaxInstructions) + " instructions");
  return std::nullopt;
}

Result<Program> Assembler::run(std::string_view text) {
  size_t no = 0;
  while (!text.empty() || no == 0) {
    no++;
    const size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (auto e = line(no, l)) return *e;
  }
  for (const JumpFix& f : fixes_) {
    sock_filter& in = prog_[f.index];
    auto t = target(f, f.jt, f.ja ? 0xffffffffu : 0xffu);
    if (!t) return t.error();
    if (f.ja) {
      in.k = *t;
      continue;
    }
    auto e = target(f, f.jf, 0xff);
    if (!e) return e.error();
    in.jt = static_cast<uint8_t>(*t);
    in.jf = static_cast<uint8_t>(*e);
  }
  if (prog_.empty()) return error(no, "no instructions");
  return std::move(prog_);
}

}  // namespace

Result<Program> assemble(std::string_view text, const AsmOptions& options) {
  return Assembler(options).run(text);
}

}  // namespace stubfuzz::filter
