// The model on arbitrary bytes: a program (8-byte struct sock_filter each)
// and, from the last 64 bytes of longer inputs, a seccomp_data. The checker
// decides; the evaluator must never crash or loop, must return on every
// program the checker accepts, and the text form must round-trip.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "filter/asm.h"
#include "filter/evaluator.h"
#include "filter/validate.h"

using namespace stubfuzz::filter;

namespace {
void require(bool ok) {
  if (!ok) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  seccomp_data data{};
  size_t prog_bytes = size;
  if (size >= sizeof(sock_filter) + sizeof(data)) {
    prog_bytes = size - sizeof(data);
    std::memcpy(&data, bytes + prog_bytes, sizeof(data));
  }
  Program prog(prog_bytes / sizeof(sock_filter));
  if (!prog.empty()) std::memcpy(prog.data(), bytes, prog.size() * sizeof(sock_filter));

  const bool accepted = !check_program(prog).has_value();
  const Evaluation ev = evaluate(prog, data);
  // Forward-only: the trace is strictly increasing, so no loop.
  for (size_t i = 1; i < ev.trace.size(); i++) require(ev.trace[i] > ev.trace[i - 1]);
  require(ev.trace.size() <= prog.size());
  if (accepted) {
    require(ev.ok);
    const sock_filter& last = prog[ev.trace.back()];
    // Only an ALU division by X == 0 returns without a RET.
    require(BPF_CLASS(last.code) == BPF_RET ||
            (ev.ret == 0 && last.code == (BPF_ALU | BPF_DIV | BPF_X)));
  }
  // Text round trip: always for accepted programs; for refused ones (most
  // random inputs, and the text is the slow part) only when short.
  if (!prog.empty() && (accepted || prog.size() <= 16)) {
    const std::string text = disassemble(prog, {.stub_start = 0x7e0010000000});
    auto back = assemble(text, {.stub_start = 0x7e0010000000});
    require(back.ok() && same_program(*back, prog));
  }
  return 0;
}
