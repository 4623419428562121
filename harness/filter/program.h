// A classic-BPF seccomp program and a small builder for it.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace stubfuzz::filter {

using Program = std::vector<sock_filter>;

// A jump's target: an offset as the kernel counts it (0 is the next
// instruction) or a label that Builder::at() places further on.
struct Jump {
  Jump(int offset) : offset(offset) {}  // NOLINT: offsets read as numbers
  Jump(const char* label) : label(label) {}
  int offset = 0;
  const char* label = nullptr;
};

// Builds a program front to back; jumps are relative, as in the kernel, and
// may name a label instead of counting.
class Builder {
 public:
  Builder& load_abs(uint32_t offset);  // A = seccomp_data[offset], 32 bits
  Builder& and_k(uint32_t k);
  Builder& jeq(uint32_t k, Jump jt, Jump jf);
  Builder& jgt(uint32_t k, Jump jt, Jump jf);
  Builder& jge(uint32_t k, Jump jt, Jump jf);
  Builder& jset(uint32_t k, Jump jt, Jump jf);
  Builder& ret(uint32_t action);
  Builder& raw(sock_filter insn);
  // The next instruction is `label`.
  Builder& at(const char* label);

  size_t size() const { return prog_.size(); }
  // Resolves the labels; a label never placed, placed behind its jump or
  // more than 255 instructions ahead is a bug in the caller: logic_error.
  Program build();

 private:
  Builder& jump(uint16_t code, uint32_t k, Jump jt, Jump jf);
  struct Fixup {
    size_t insn;
    bool true_side;
    std::string label;
  };
  Program prog_;
  std::vector<Fixup> fixups_;
  std::vector<std::pair<std::string, size_t>> labels_;
};

bool operator==(const sock_filter& a, const sock_filter& b);
// Whole programs; std's == cannot find the operator above for ::sock_filter.
bool same_program(const Program& a, const Program& b);

}  // namespace stubfuzz::filter
