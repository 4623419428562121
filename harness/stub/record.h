// Building syscall records for a stub batch.
#pragma once

#include <linux/audit.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>

#include "filter/evaluator.h"
#include "stub_abi.h"

namespace stubfuzz {

enum class Origin : uint8_t {
  kStub = STUB_ORIGIN_STUB,
  kOutside = STUB_ORIGIN_OUTSIDE,
  kAddress = STUB_ORIGIN_ADDRESS,
};
enum class Abi : uint8_t { kX86_64 = STUB_ABI_X86_64, kI386 = STUB_ABI_I386 };

// `syscall` and `int $0x80` are both 2 bytes; the kernel reports the address
// after the instruction as seccomp_data.instruction_pointer.
inline constexpr uint64_t kSyscallInsnLen = 2;

inline stub_record make_record(Origin origin, Abi abi, uint32_t nr,
                               std::initializer_list<uint64_t> args, uint64_t addr = 0) {
  stub_record r{};
  r.origin = static_cast<uint8_t>(origin);
  r.abi = static_cast<uint8_t>(abi);
  r.nr = nr;
  r.addr = addr;
  int i = 0;
  for (uint64_t a : args)
    if (i < 6) r.args[i++] = a;
  return r;
}

inline stub_record from_stub(uint32_t nr, std::initializer_list<uint64_t> args = {}) {
  return make_record(Origin::kStub, Abi::kX86_64, nr, args);
}
inline stub_record from_outside(uint32_t nr, std::initializer_list<uint64_t> args = {}) {
  return make_record(Origin::kOutside, Abi::kX86_64, nr, args);
}
// A syscall instruction written at `addr` (an arena, or ending at the stub page).
inline stub_record at_address(uint64_t addr, uint32_t nr,
                              std::initializer_list<uint64_t> args = {}) {
  return make_record(Origin::kAddress, Abi::kX86_64, nr, args, addr);
}
// Where a record's syscall instruction really is in a stub whose data page
// is `data` (the gates it reported), or at record.addr.
inline uint64_t insn_addr(const stub_record& r, const stub_data& data) {
  const unsigned abi = r.abi == STUB_ABI_I386 ? STUB_ABI_I386 : STUB_ABI_X86_64;
  switch (r.origin) {
    case STUB_ORIGIN_STUB:
      if (abi == STUB_ABI_X86_64 && data.nstub_sites)
        return data.stub_sites[r.addr % std::min<uint32_t>(data.nstub_sites, 16)];
      return data.stub_gate[abi];
    case STUB_ORIGIN_OUTSIDE:
      return data.outside_gate[abi];
    default:
      return r.addr;
  }
}

// The seccomp_data the kernel builds for the record's call: the address
// after the instruction, and for int $0x80 the low 32 bits of each register.
inline seccomp_data record_data(const stub_record& r, uint64_t insn) {
  std::array<uint64_t, 6> args{};
  for (int i = 0; i < 6; i++)
    args[i] = r.abi == STUB_ABI_I386 ? static_cast<uint32_t>(r.args[i]) : r.args[i];
  return filter::make_seccomp_data(static_cast<int>(r.nr),
                                   r.abi == STUB_ABI_I386 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64,
                                   insn + kSyscallInsnLen, args);
}

inline stub_record i386_from_stub(uint32_t nr, std::initializer_list<uint64_t> args = {}) {
  return make_record(Origin::kStub, Abi::kI386, nr, args);
}

}  // namespace stubfuzz
