#include "fuzz/program.h"

#include <cstring>

namespace stubfuzz::fuzz {

namespace {

// Binary form of a record:
//   u8  head: bits 0-2 site kind, bit 3 i386, bit 4 second thread, bits 5-7
//       all set and the next byte kSpinMark: spin (no nr and no args
//       follow; rare in random bytes, as a spin costs a whole stall bound)
//   u16 site offset (little endian; only for sites that take one)
//   u16 nr: bit 15 x32, bit 14 "as is", bits 0-13 the number; without "as
//       is" the number is taken modulo 512, so random bytes mostly name real
//       syscalls (the tables end below 512)
//   6 x arg: u8 kind (mod kCount) then, for literal/scratch/stub, a value:
//            u8 width (0: 1 byte, 1: 2, 2: 4, 3: 8) and that many bytes
// Missing bytes read as zero, so every string decodes.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  bool done() const { return pos_ >= b_.size(); }
  size_t pos() const { return pos_; }
  uint8_t peek() const { return pos_ < b_.size() ? b_[pos_] : 0; }
  uint64_t take(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
      const uint64_t byte = pos_ < b_.size() ? b_[pos_] : 0;
      pos_++;
      v |= byte << (8 * i);
    }
    return v;
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

constexpr uint32_t kNrWindow = 512;
constexpr uint8_t kSpinMark = 0x5a;

bool site_has_offset(SiteKind k) {
  return k == SiteKind::kBelow || k == SiteKind::kAbove || k == SiteKind::kAlias ||
         k == SiteKind::kStubSite;
}
bool arg_has_value(ArgKind k) {
  return k == ArgKind::kLiteral || k == ArgKind::kScratch || k == ArgKind::kStub;
}

// Offsets keep the 3-byte gadget inside its page.
uint16_t clamp_offset(uint64_t v) { return static_cast<uint16_t>(v % (STUB_PAGE_SIZE - 2)); }

void put(std::vector<uint8_t>& out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; i++) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Where a record with an address site writes its syscall instruction.
uint64_t arena_address(const Site& site, const StubLayout& layout) {
  switch (site.kind) {
    case SiteKind::kBelowEdge:
      return layout.stub_start - 2;
    case SiteKind::kBelow:
      return layout.page_below() + clamp_offset(site.offset);
    case SiteKind::kAbove:
      return layout.page_above() + clamp_offset(site.offset);
    case SiteKind::kAlias:
      return layout.alias_page() + clamp_offset(site.offset);
    default:
      return 0;
  }
}

}  // namespace

Program decode(std::span<const uint8_t> bytes, std::vector<RecordSpan>* spans) {
  Program p;
  Reader in(bytes);
  if (spans) spans->clear();
  // A record takes two bytes at least: one allocation, not one per doubling.
  const size_t most = std::min(kMaxRecords, bytes.size() / 2 + 1);
  p.records.reserve(most);
  if (spans) spans->reserve(most);
  while (!in.done() && p.records.size() < kMaxRecords) {
    Record r;
    RecordSpan span;
    span.head = in.pos();
    const auto head = static_cast<uint8_t>(in.take(1));
    r.site.kind = static_cast<SiteKind>((head & 7) % static_cast<uint8_t>(SiteKind::kCount));
    r.i386 = head & 8;
    r.thread2 = head & 16;
    if (site_has_offset(r.site.kind)) r.site.offset = clamp_offset(in.take(2));
    if ((head >> 5) == 7 && in.peek() == kSpinMark) {
      in.take(1);
      r.spin = true;
      r.i386 = false;
      p.records.push_back(r);
      if (spans) spans->push_back(span);
      continue;
    }
    span.nr = in.pos();
    const auto v = static_cast<uint32_t>(in.take(2));
    r.nr = ((v & 0x4000) ? (v & kMaxNr) : (v & kMaxNr) % kNrWindow) | ((v & 0x8000) ? kX32Bit : 0);
    for (size_t i = 0; i < 6; i++) {
      Arg& a = r.args[i];
      span.args[i] = in.pos();
      a.kind = static_cast<ArgKind>(in.take(1) % static_cast<uint8_t>(ArgKind::kCount));
      if (arg_has_value(a.kind)) {
        const auto width = size_t{1} << (in.take(1) & 3);
        a.value = in.take(width);
      }
    }
    p.records.push_back(r);
    if (spans) spans->push_back(span);
  }
  return p;
}

uint16_t encode_nr(uint32_t nr) {
  const uint32_t base = nr & kMaxNr;
  return static_cast<uint16_t>(base | (base >= kNrWindow ? 0x4000u : 0u) |
                               ((nr & kX32Bit) ? 0x8000u : 0u));
}

size_t encode_arg(const Arg& a, std::span<uint8_t, kMaxArgBytes> out) {
  out[0] = static_cast<uint8_t>(a.kind);
  if (!arg_has_value(a.kind)) return 1;
  uint8_t width = 0;
  while (width < 3 && (a.value >> (8 * (size_t{1} << width))) != 0) width++;
  out[1] = width;
  const size_t n = size_t{1} << width;
  for (size_t i = 0; i < n; i++) out[2 + i] = static_cast<uint8_t>(a.value >> (8 * i));
  return 2 + n;
}

std::vector<uint8_t> encode_arg(const Arg& a) {
  std::array<uint8_t, kMaxArgBytes> bytes;
  return {bytes.begin(), bytes.begin() + static_cast<long>(encode_arg(a, bytes))};
}

std::vector<uint8_t> encode(const Program& p) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < p.records.size() && i < kMaxRecords; i++) {
    const Record& r = p.records[i];
    out.push_back(static_cast<uint8_t>(static_cast<uint8_t>(r.site.kind) | (r.i386 ? 8 : 0) |
                                       (r.thread2 ? 16 : 0) | (r.spin ? 0xe0 : 0)));
    if (site_has_offset(r.site.kind)) put(out, clamp_offset(r.site.offset), 2);
    if (r.spin) {
      out.push_back(kSpinMark);
      continue;
    }
    put(out, encode_nr(r.nr), 2);
    for (const Arg& a : r.args) {
      std::array<uint8_t, kMaxArgBytes> bytes;
      out.insert(out.end(), bytes.begin(), bytes.begin() + static_cast<long>(encode_arg(a, bytes)));
    }
  }
  return out;
}

stub_record resolve(const Record& r, const StubLayout& layout) {
  stub_record out{};
  out.abi = r.spin ? STUB_ABI_SPIN : r.i386 ? STUB_ABI_I386 : STUB_ABI_X86_64;
  out.thread = r.thread2 ? 1 : 0;
  out.nr = r.nr;
  switch (r.site.kind) {
    case SiteKind::kStub:
    case SiteKind::kQueued:
      out.origin = STUB_ORIGIN_STUB;
      break;
    case SiteKind::kStubSite:
      // Which of the page's syscall instructions (stub_abi.h, stub_sites).
      out.origin = STUB_ORIGIN_STUB;
      out.addr = r.site.offset;
      break;
    case SiteKind::kOutside:
      out.origin = STUB_ORIGIN_OUTSIDE;
      break;
    default:
      out.origin = STUB_ORIGIN_ADDRESS;
      out.addr = arena_address(r.site, layout);
  }
  for (int i = 0; i < 6; i++) {
    const Arg& a = r.args[i];
    switch (a.kind) {
      case ArgKind::kLiteral:
        out.args[i] = a.value;
        break;
      case ArgKind::kListener:
        out.args[i] = kStubListenerFd;
        break;
      case ArgKind::kSocket:
        out.args[i] = STUB_SOCKET_FD;
        break;
      case ArgKind::kScratch:
        out.args[i] = layout.scratch() + a.value % STUB_SCRATCH_SIZE;
        break;
      case ArgKind::kStub:
        out.args[i] = layout.stub_start + a.value;
        break;
      case ArgKind::kPending:
        out.pending |= static_cast<uint8_t>(1u << i);
        break;
      case ArgKind::kResponse:
        out.args[i] = layout.scratch() + STUB_RESP_OFFSET;
        out.pending |= STUB_PENDING_RESP;
        break;
      case ArgKind::kCount:
        break;
    }
  }
  return out;
}

}  // namespace stubfuzz::fuzz
