// The disassembler half of asm.h. It follows what A holds (which
// seccomp_data field, and which arch a jump has established) to print
// constants by name: syscalls of the right arch, AUDIT_ARCH_*, STUB_*.
#include <linux/seccomp.h>

#include <cstdio>
#include <set>
#include <vector>

#include "filter/asm.h"
#include "filter/asm_syntax.h"
#include "filter/syscall_names.h"

namespace stubfuzz::filter {

namespace {

constexpr uint32_t kNoField = 0xffffffff;
constexpr uint32_t kMaskedIp = 0xfffffffe;  // ip & constant

// What the disassembler knows at an instruction, on every path into it.
struct Context {
  bool reached = false;
  uint32_t a_field = kNoField;  // the seccomp_data offset A was loaded from
  std::optional<Arch> arch;     // established by a jeq on [arch]

  void merge(const Context& in) {
    if (!reached) {
      *this = in;
      reached = true;
      return;
    }
    if (a_field != in.a_field) a_field = kNoField;
    if (arch != in.arch) arch.reset();
  }
};

std::string number(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), v < 4096 ? "%u" : "0x%x", v);
  return buf;
}

bool is_conditional(const sock_filter& in) {
  return BPF_CLASS(in.code) == BPF_JMP && in.code != (BPF_JMP | BPF_JA);
}

std::vector<Context> contexts(const Program& prog) {
  std::vector<Context> ctx(prog.size() + 1);
  ctx[0].reached = true;
  const uint32_t ip = offsetof(seccomp_data, instruction_pointer);
  for (size_t pc = 0; pc < prog.size(); pc++) {
    const sock_filter& in = prog[pc];
    Context c = ctx[pc];
    c.reached = true;
    auto flow = [&](size_t to, const Context& out) {
      if (to < ctx.size()) ctx[to].merge(out);
    };
    if (in.code == (BPF_LD | BPF_W | BPF_ABS)) {
      c.a_field = in.k;
    } else if (in.code == (BPF_ALU | BPF_AND | BPF_K) &&
               (c.a_field == ip || c.a_field == kMaskedIp)) {
      c.a_field = kMaskedIp;
    } else if (BPF_CLASS(in.code) == BPF_LD || BPF_CLASS(in.code) == BPF_ALU ||
               in.code == (BPF_MISC | BPF_TXA)) {
      c.a_field = kNoField;
    }
    if (BPF_CLASS(in.code) == BPF_RET) continue;
    if (in.code == (BPF_JMP | BPF_JA)) {
      flow(pc + 1 + in.k, c);
      continue;
    }
    if (is_conditional(in)) {
      Context taken = c;
      if (in.code == (BPF_JMP | BPF_JEQ | BPF_K) && c.a_field == offsetof(seccomp_data, arch))
        taken.arch = arch_from_audit(in.k);
      flow(pc + 1 + in.jt, taken);
      flow(pc + 1 + in.jf, c);
      continue;
    }
    flow(pc + 1, c);
  }
  return ctx;
}

class Printer {
 public:
  Printer(const Program& p, const DisasmOptions& o) : prog_(p), opt_(o), ctx_(contexts(p)) {
    for (size_t pc = 0; pc < p.size(); pc++) {
      const sock_filter& in = p[pc];
      auto add = [&](uint64_t off) {
        if (off > 0 && pc + 1 + off <= p.size()) targets_.insert(pc + 1 + off);
      };
      if (in.code == (BPF_JMP | BPF_JA)) {
        add(in.k);
      } else if (is_conditional(in)) {
        add(in.jt);
        add(in.jf);
      }
    }
  }

  std::string run() {
    std::string out;
    for (size_t pc = 0; pc < prog_.size(); pc++) {
      if (targets_.count(pc)) out += label(pc) + ":\n";
      std::string note;
      std::string text = "  " + insn(pc, note);
      if (opt_.index_comments || !note.empty()) {
        if (text.size() < 40) text.resize(40, ' ');
        text += " ; ";
        if (opt_.index_comments) text += std::to_string(pc);
        if (!note.empty()) text += (opt_.index_comments ? ": " : "") + note;
      }
      out += text + "\n";
    }
    // A jump to just past the end exists only in programs the kernel refuses.
    if (targets_.count(prog_.size())) out += label(prog_.size()) + ":\n";
    return out;
  }

 private:
  static std::string label(size_t pc) { return "L" + std::to_string(pc); }
  // Targets past the end (refused by the kernel) stay relative, since a
  // label there could only mean "the end".
  std::string jump_target(size_t pc, uint32_t off) const {
    const uint64_t to = uint64_t{pc} + 1 + off;
    return off == 0 || to > prog_.size() ? "+" + std::to_string(off) : label(to);
  }

  // A jeq constant, named by what A holds here.
  std::string operand(size_t pc, uint32_t k, std::string& note) const {
    const Context& c = ctx_[pc];
    const uint32_t ip = offsetof(seccomp_data, instruction_pointer);
    if (c.a_field == offsetof(seccomp_data, nr)) {
      if (c.arch) {
        std::string name = syscall_name(*c.arch, static_cast<int>(k));
        if (!name.empty())
          return *c.arch == Arch::kX86_64 ? name : std::string(arch_name(*c.arch)) + "." + name;
      } else {
        for (Arch a : {Arch::kX86_64, Arch::kI386}) {
          std::string name = syscall_name(a, static_cast<int>(k));
          if (!name.empty())
            note += (note.empty() ? "" : ", ") + std::string(arch_name(a)) + " " + name;
        }
      }
    } else if (c.a_field == offsetof(seccomp_data, arch)) {
      auto sym = audit_arch_symbol(k);
      if (!sym.empty()) return std::string(sym);
    } else if (opt_.stub_start && c.a_field == ip + 4 &&
               k == static_cast<uint32_t>(*opt_.stub_start >> 32)) {
      return "STUB_HI";
    } else if (opt_.stub_start && (c.a_field == ip || c.a_field == kMaskedIp) &&
               k == static_cast<uint32_t>(*opt_.stub_start)) {
      return "STUB_LO";
    }
    return number(k);
  }

  std::string insn(size_t pc, std::string& note) const {
    const sock_filter& in = prog_[pc];
    const uint16_t code = in.code;
    auto raw = [&] {
      char buf[64];
      std::snprintf(buf, sizeof(buf), ".raw 0x%04x, %u, %u, 0x%x", code, in.jt, in.jf, in.k);
      return std::string(buf);
    };
    const bool no_jumps = in.jt == 0 && in.jf == 0;
    if (!is_conditional(in) && !no_jumps) return raw();
    const std::string k = number(in.k);
    switch (code) {
      case BPF_LD | BPF_W | BPF_ABS: {
        std::string f = field_name(in.k);
        return "ld [" + (f.empty() ? k : f) + "]";
      }
      case BPF_LD | BPF_W | BPF_LEN:
        return in.k == 0 ? "ld len" : raw();
      case BPF_LDX | BPF_W | BPF_LEN:
        return in.k == 0 ? "ldx len" : raw();
      case BPF_LD | BPF_IMM:
        return "ld #" + k;
      case BPF_LDX | BPF_IMM:
        return "ldx #" + k;
      case BPF_LD | BPF_MEM:
        return "ld M[" + std::to_string(in.k) + "]";
      case BPF_LDX | BPF_MEM:
        return "ldx M[" + std::to_string(in.k) + "]";
      case BPF_ST:
        return "st M[" + std::to_string(in.k) + "]";
      case BPF_STX:
        return "stx M[" + std::to_string(in.k) + "]";
      case BPF_ALU | BPF_NEG:
        return in.k == 0 ? "neg" : raw();
      case BPF_MISC | BPF_TAX:
        return in.k == 0 ? "tax" : raw();
      case BPF_MISC | BPF_TXA:
        return in.k == 0 ? "txa" : raw();
      case BPF_RET | BPF_A:
        return in.k == 0 ? "ret a" : raw();
      case BPF_RET | BPF_K: {
        std::string name = action_name(in.k);
        return "ret #" + (name.starts_with("0x") ? k : name);
      }
      case BPF_JMP | BPF_JA:
        return "ja " + jump_target(pc, in.k);
      default:
        break;
    }
    if (BPF_CLASS(code) == BPF_ALU && !(code & ~0xffu)) {
      for (const auto& m : syntax::kAluOps) {
        if (BPF_OP(code) != m.op) continue;
        if (BPF_SRC(code) == BPF_X) return in.k == 0 ? std::string(m.name) + " x" : raw();
        return std::string(m.name) + " #" + k;
      }
    }
    if (is_conditional(in) && !(code & ~0xffu)) {
      for (const auto& m : syntax::kJumpOps) {
        if (BPF_OP(code) != m.op) continue;
        std::string s(m.name);
        if (BPF_SRC(code) == BPF_X) {
          if (in.k != 0) return raw();
          s += " x";
        } else {
          s += " #" + (m.op == BPF_JEQ ? operand(pc, in.k, note) : k);
        }
        s += ", " + jump_target(pc, in.jt);
        if (in.jf != 0) s += ", " + jump_target(pc, in.jf);
        return s;
      }
    }
    return raw();
  }

  const Program& prog_;
  DisasmOptions opt_;
  std::vector<Context> ctx_;
  std::set<size_t> targets_;
};

}  // namespace

std::string disassemble(const Program& prog, const DisasmOptions& options) {
  return Printer(prog, options).run();
}

}  // namespace stubfuzz::filter
