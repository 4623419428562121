#include "filter/program.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace stubfuzz::filter {

namespace {
sock_filter stmt(uint16_t code, uint32_t k) { return {code, 0, 0, k}; }
}  // namespace

Builder& Builder::load_abs(uint32_t offset) { return raw(stmt(BPF_LD | BPF_W | BPF_ABS, offset)); }
Builder& Builder::and_k(uint32_t k) { return raw(stmt(BPF_ALU | BPF_AND | BPF_K, k)); }
Builder& Builder::jeq(uint32_t k, Jump jt, Jump jf) {
  return jump(BPF_JMP | BPF_JEQ | BPF_K, k, jt, jf);
}
Builder& Builder::jgt(uint32_t k, Jump jt, Jump jf) {
  return jump(BPF_JMP | BPF_JGT | BPF_K, k, jt, jf);
}
Builder& Builder::jge(uint32_t k, Jump jt, Jump jf) {
  return jump(BPF_JMP | BPF_JGE | BPF_K, k, jt, jf);
}
Builder& Builder::jset(uint32_t k, Jump jt, Jump jf) {
  return jump(BPF_JMP | BPF_JSET | BPF_K, k, jt, jf);
}
Builder& Builder::ret(uint32_t action) { return raw(stmt(BPF_RET | BPF_K, action)); }
Builder& Builder::raw(sock_filter insn) {
  prog_.push_back(insn);
  return *this;
}

Builder& Builder::jump(uint16_t code, uint32_t k, Jump jt, Jump jf) {
  const size_t at = prog_.size();
  for (auto [side, j] : {std::pair{true, jt}, std::pair{false, jf}})
    if (j.label) fixups_.push_back({at, side, j.label});
  return raw({code, static_cast<uint8_t>(jt.label ? 0 : jt.offset),
              static_cast<uint8_t>(jf.label ? 0 : jf.offset), k});
}

Builder& Builder::at(const char* label) {
  labels_.emplace_back(label, prog_.size());
  return *this;
}

Program Builder::build() {
  for (const Fixup& f : fixups_) {
    const auto l = std::find_if(labels_.begin(), labels_.end(),
                                [&](const auto& p) { return p.first == f.label; });
    if (l == labels_.end()) throw std::logic_error("filter label never placed: " + f.label);
    const auto offset = static_cast<long>(l->second) - static_cast<long>(f.insn) - 1;
    if (offset < 0 || offset > 255)
      throw std::logic_error("filter label out of a jump's reach: " + f.label);
    (f.true_side ? prog_[f.insn].jt : prog_[f.insn].jf) = static_cast<uint8_t>(offset);
  }
  fixups_.clear();
  return std::move(prog_);
}

bool operator==(const sock_filter& a, const sock_filter& b) {
  return a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k;
}

bool same_program(const Program& a, const Program& b) {
  // sock_filter has no padding: one memcmp, as the factory asks on every
  // stub it makes.
  static_assert(sizeof(sock_filter) == 8);
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(sock_filter)) == 0);
}

}  // namespace stubfuzz::filter
