#include "filter/program.h"

namespace stubfuzz::filter {

namespace {
sock_filter stmt(uint16_t code, uint32_t k) { return {code, 0, 0, k}; }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return {code, jt, jf, k}; }
}  // namespace

Builder& Builder::load_abs(uint32_t offset) { return raw(stmt(BPF_LD | BPF_W | BPF_ABS, offset)); }
Builder& Builder::and_k(uint32_t k) { return raw(stmt(BPF_ALU | BPF_AND | BPF_K, k)); }
Builder& Builder::jeq(uint32_t k, uint8_t jt, uint8_t jf) {
  return raw(jump(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf));
}
Builder& Builder::jgt(uint32_t k, uint8_t jt, uint8_t jf) {
  return raw(jump(BPF_JMP | BPF_JGT | BPF_K, k, jt, jf));
}
Builder& Builder::jge(uint32_t k, uint8_t jt, uint8_t jf) {
  return raw(jump(BPF_JMP | BPF_JGE | BPF_K, k, jt, jf));
}
Builder& Builder::jset(uint32_t k, uint8_t jt, uint8_t jf) {
  return raw(jump(BPF_JMP | BPF_JSET | BPF_K, k, jt, jf));
}
Builder& Builder::ret(uint32_t action) { return raw(stmt(BPF_RET | BPF_K, action)); }
Builder& Builder::raw(sock_filter insn) {
  prog_.push_back(insn);
  return *this;
}

bool operator==(const sock_filter& a, const sock_filter& b) {
  return a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k;
}

bool same_program(const Program& a, const Program& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (!(a[i] == b[i])) return false;
  return true;
}

}  // namespace stubfuzz::filter
