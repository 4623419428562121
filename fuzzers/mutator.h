// A record-level mutator for fuzz_stub_syscalls: byte-level mutation alone
// rarely turns one valid record into another valid, interesting one, so half
// of the time a whole record is inserted, dropped, duplicated or has its
// site, ABI, syscall or one argument replaced by something the claims care
// about. The other half is libFuzzer's own mutation of the bytes. Before
// either, a quarter of the time, one of the filter's comparisons on these
// very bytes is turned to its other side (feedback.h remembers them),
// preferring sides never taken; and while there are inputs that already
// have such a replacement made (feedback.h's candidates), half of the calls
// hand out the next of those instead.
#pragma once

#include <sys/syscall.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>

#include "campaign/target_env.h"
#include "feedback.h"
#include "fuzz/program.h"

#ifndef __AFL_COMPILER  // AFL++ brings its own mutators (and no LLVMFuzzerMutate)
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);
#endif

namespace stubfuzz::fuzz {

// Seeded anew on every call from libFuzzer's seed: a one-word state, where
// std::mt19937 fills 624 words (instrumented, on every mutation).
using MutatorRng = std::minstd_rand;

// Numbers worth trying first: the allowlist, what could hurt the listener,
// and the neighbours of both.
inline constexpr uint32_t kInterestingNrs[] = {
    SYS_futex,        SYS_recvmsg, SYS_close,   SYS_mmap,    SYS_munmap,   SYS_arch_prctl,
    SYS_rt_sigreturn, SYS_ioctl,   SYS_sendmsg, SYS_dup2,    SYS_dup3,     SYS_close_range,
    SYS_getpid,       SYS_kill,    SYS_prctl,   SYS_seccomp, SYS_mprotect, SYS_execve};

inline Arg interesting_arg(MutatorRng& rng) {
  switch (rng() % 9) {
    case 8:
      return {ArgKind::kResponse, 0};
    case 0:
      return {ArgKind::kListener, 0};
    case 1:
      return {ArgKind::kSocket, 0};
    case 2:
      return {ArgKind::kScratch, rng() % 256};
    case 3:
      return {ArgKind::kStub, (rng() % 2) * STUB_PAGE_SIZE};
    case 4:
      return {ArgKind::kPending, 0};
    case 5:
      return {ArgKind::kLiteral, 0};
    case 6:
      return {ArgKind::kLiteral, static_cast<uint64_t>(-1)};
    default:
      return {ArgKind::kLiteral, rng() % 64};
  }
}

inline Record interesting_record(MutatorRng& rng) {
  Record r;
  r.site.kind = static_cast<SiteKind>(rng() % static_cast<unsigned>(SiteKind::kCount));
  r.site.offset = static_cast<uint16_t>(rng() % (STUB_PAGE_SIZE - 2));
  r.i386 = rng() % 8 == 0;
  r.thread2 = rng() % 8 == 0;
  r.spin = rng() % 128 == 0;
  r.nr = kInterestingNrs[rng() % std::size(kInterestingNrs)];
  for (Arg& a : r.args) a = rng() % 2 ? interesting_arg(rng) : Arg{};
  return r;
}

inline void mutate_program(Program& p, MutatorRng& rng) {
  if (p.records.empty() || (rng() % 4 == 0 && p.records.size() < kMaxRecords)) {
    p.records.insert(p.records.begin() + static_cast<long>(rng() % (p.records.size() + 1)),
                     interesting_record(rng));
    return;
  }
  Record& r = p.records[rng() % p.records.size()];
  switch (rng() % 8) {
    case 7:
      if (rng() % 4)
        r.thread2 = !r.thread2;
      else
        r.spin = !r.spin;
      break;
    case 0:
      r.site.kind = static_cast<SiteKind>(rng() % static_cast<unsigned>(SiteKind::kCount));
      break;
    case 1:
      r.i386 = !r.i386;
      break;
    case 2:
      r.nr = kInterestingNrs[rng() % std::size(kInterestingNrs)];
      break;
    case 3:
      r.nr = static_cast<uint32_t>(rng() % 512);
      break;
    case 4:
      r.args[rng() % 6] = interesting_arg(rng);
      break;
    case 5:
      if (p.records.size() > 1)
        p.records.erase(p.records.begin() + static_cast<long>(rng() % p.records.size()));
      break;
    default:
      if (p.records.size() < kMaxRecords) p.records.push_back(r);
  }
}

// Input-to-state replacement from the filter's compares on these very bytes
// (feedback.h remembers them): one comparison turned to its other side,
// one whose other side was never taken when there is such a one.
inline bool apply_remembered_compare(uint8_t* data, size_t size, MutatorRng& rng) {
  const auto& m = remembered_compares();
  const auto it = m.find(input_hash({data, size}));
  if (it == m.end() || it->second.empty()) return false;
  std::vector<const InputCompare*> fresh_ones, all;
  for (const auto& c : it->second) {
    if (c.compare.offset > size || c.compare.wanted.size() > size - c.compare.offset) continue;
    all.push_back(&c.compare);
    if (fresh(c)) fresh_ones.push_back(&c.compare);
  }
  const auto& pick = fresh_ones.empty() ? all : fresh_ones;
  if (pick.empty()) return false;
  const InputCompare& c = *pick[rng() % pick.size()];
  std::memcpy(data + c.offset, c.wanted.data(), c.wanted.size());
  return true;
}

}  // namespace stubfuzz::fuzz

#ifndef __AFL_COMPILER
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  stubfuzz::fuzz::MutatorRng rng(seed);
  static const bool replace = [] {
    const char* v = std::getenv(stubfuzz::campaign::env::kNoReplacement);
    return !(v && *v == '1');
  }();
  if (replace && rng() % 2 == 0)
    if (const size_t n = stubfuzz::fuzz::next_candidate(data, max_size)) return n;
  if (replace && rng() % 4 == 0 && stubfuzz::fuzz::apply_remembered_compare(data, size, rng))
    return size;
  if (rng() % 2) return LLVMFuzzerMutate(data, size, max_size);
  stubfuzz::fuzz::Program p = stubfuzz::fuzz::program_from_bytes({data, size});
  stubfuzz::fuzz::mutate_program(p, rng);
  const auto bytes = stubfuzz::fuzz::encode(p);
  if (bytes.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, bytes.data(), bytes.size());
  return bytes.size();
}
#endif
