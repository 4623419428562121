// A classic-BPF seccomp program and a small builder for it.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace stubfuzz::filter {

using Program = std::vector<sock_filter>;

// Builds a program front to back; jumps are relative, as in the kernel.
class Builder {
 public:
  Builder& load_abs(uint32_t offset);  // A = seccomp_data[offset], 32 bits
  Builder& and_k(uint32_t k);
  Builder& jeq(uint32_t k, uint8_t jt, uint8_t jf);
  Builder& jgt(uint32_t k, uint8_t jt, uint8_t jf);
  Builder& jge(uint32_t k, uint8_t jt, uint8_t jf);
  Builder& jset(uint32_t k, uint8_t jt, uint8_t jf);
  Builder& ret(uint32_t action);
  Builder& raw(sock_filter insn);

  size_t size() const { return prog_.size(); }
  Program build() { return std::move(prog_); }

 private:
  Program prog_;
};

bool operator==(const sock_filter& a, const sock_filter& b);
// Whole programs; std's == cannot find the operator above for ::sock_filter.
bool same_program(const Program& a, const Program& b);

}  // namespace stubfuzz::filter
