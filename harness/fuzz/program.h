// A fuzz program: a short list of syscall records a hijacked stub runs. Three
// forms, as syzkaller's: this value, a compact binary form that any byte
// string decodes into (the fuzzers' input), and a text form, one record a
// line (program_text.cc).
#pragma once

#include <asm/unistd.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "stub/stub.h"

namespace stubfuzz::fuzz {

// Where the syscall instruction lies.
enum class SiteKind : uint8_t {
  kStub,       // the stub page's own syscall instruction
  kOutside,    // guest code in the stub binary's .text
  kBelowEdge,  // the last 2 bytes before the stub page (reported ip == STUB)
  kBelow,      // the page below the stub page, at an offset
  kAbove,      // the page just above the stub region, at an offset
  kAlias,      // the page that differs from the stub's only in the upper 32 bits
  kQueued,     // the stub page's instruction, in a call the monitor queued:
               // what a legitimate batch does (the series validates against it)
  kStubSite,   // stub(N): the stub page's syscall instruction number N: UML's own
               // page has one per call it makes, stubfuzz's just the one
  kCount
};

struct Site {
  SiteKind kind = SiteKind::kStub;
  uint16_t offset = 0;  // into the page, for kBelow, kAbove, kAlias; kStubSite's number
  bool operator==(const Site&) const = default;
};

// An argument: a literal, or a symbol the executor resolves at run time.
enum class ArgKind : uint8_t {
  kLiteral,
  kListener,  // the listener's fd in the stub (1)
  kSocket,    // the control socket's fd in the stub (0)
  kScratch,   // pointer into the data page's scratch buffer, + value
  kStub,      // the stub page's address, + value
  kPending,   // the id of the notification the monitor holds while the second
              // thread runs (0 if none); resolved by the stub as the record starts
  kResponse,  // pointer to a seccomp_notif_resp in scratch: CONTINUE for PENDING
  kCount
};

struct Arg {
  ArgKind kind = ArgKind::kLiteral;
  uint64_t value = 0;
  bool operator==(const Arg&) const = default;
};

// x32 syscalls are x86-64 ones with this bit: same arch in seccomp_data.
inline constexpr uint32_t kX32Bit = __X32_SYSCALL_BIT;
// Numbers the binary form can express: up to 0x3fff, with or without kX32Bit.
inline constexpr uint32_t kMaxNr = 0x3fff;

struct Record {
  Site site;
  // On the stub's second thread, which runs while the first waits in a
  // notified syscall (the monitor holds its answer), or after the first.
  bool thread2 = false;
  bool i386 = false;  // int $0x80 instead of syscall
  // No syscall: the stub spins at the site (a jump to itself) and never
  // comes back, as a hijacked stub that ignores its monitor; nr and args
  // are unused.
  bool spin = false;
  uint32_t nr = 0;
  Arg args[6];
  bool operator==(const Record&) const = default;
};

inline constexpr size_t kMaxRecords = 16;

struct Program {
  std::vector<Record> records;
  bool operator==(const Program&) const = default;
};

// Where a record's fields lie in the bytes it was decoded from, so that a
// comparison on a field can name the input bytes that hold it. Offsets may
// pass the end (missing bytes read as zero); a spin has no nr or args (npos).
struct RecordSpan {
  static constexpr size_t npos = ~size_t{0};
  size_t head = 0;
  size_t nr = npos;                                                // the u16 number
  std::array<size_t, 6> args{npos, npos, npos, npos, npos, npos};  // each kind byte
};

// Any bytes decode; at most kMaxRecords records, the rest is ignored.
Program decode(std::span<const uint8_t> bytes, std::vector<RecordSpan>* spans = nullptr);

// The binary form of one argument and of one number (the u16), as encode()
// writes them.
std::vector<uint8_t> encode_arg(const Arg& a);
// The same into `out`, without the heap; returns its length.
inline constexpr size_t kMaxArgBytes = 10;  // kind, width, 8 value bytes
size_t encode_arg(const Arg& a, std::span<uint8_t, kMaxArgBytes> out);
uint16_t encode_nr(uint32_t nr);
// The canonical binary form: decode(encode(p)) == p.
std::vector<uint8_t> encode(const Program& p);

// The record as the stub ABI takes it, symbols resolved (PENDING by the
// stub itself, at run time).
stub_record resolve(const Record& r, const StubLayout& layout);

// A fuzzer's or a user's input: the text form when the bytes are printable
// and parse as a program, else the binary form. `spans`: where each record
// lies, for the binary form only (left empty for text).
Program program_from_bytes(std::span<const uint8_t> bytes,
                           std::vector<RecordSpan>* spans = nullptr);
bool looks_like_text(std::span<const uint8_t> bytes);

// Text form (program_text.cc).
std::string to_text(const Record& r);
std::string to_text(const Program& p);
// Errors name the line: "line 3: unknown syscall 'foo' for i386".
Result<Program> parse_text(std::string_view text);

}  // namespace stubfuzz::fuzz
