#include "fuzz/dictionary.h"

#include <linux/filter.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "filter/field_compares.h"
#include "filter/syscall_names.h"
#include "fuzz/program.h"

namespace stubfuzz::fuzz {

namespace {

// The values of a field worth holding: the constant under the mask, and
// what reaches past a bound or sets one bit of a mask.
std::set<uint32_t> interesting_values(const filter::FieldCompare& c) {
  const uint32_t m = c.origin.mask;
  std::set<uint32_t> v{c.k & m};
  if (c.op == BPF_JGT && c.k != ~0u && ((c.k + 1) & ~m) == 0) v.insert(c.k + 1);
  if (c.op == BPF_JSET && (c.k & m)) v.insert((c.k & m) & (0u - (c.k & m)));
  v.erase(0);  // what every missing byte already reads as
  return v;
}

std::string bytes_of(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::string le32(uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; i++) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::vector<DictEntry> filter_dictionary(const filter::Program& prog) {
  std::vector<DictEntry> out;
  std::set<std::string> seen;
  auto add = [&](std::string name, std::string bytes) {
    if (seen.insert(bytes).second) out.push_back({std::move(name), std::move(bytes)});
  };
  for (const auto& c : filter::field_compares(prog)) {
    const std::string at = "pc" + std::to_string(c.pc) + "_";
    const int16_t f = c.origin.field;
    for (uint32_t v : interesting_values(c)) {
      if (f == filter::kFieldNr) {
        if ((v & ~kX32Bit) > kMaxNr) continue;
        const uint16_t nr = encode_nr(v);
        add(at + "nr", {static_cast<char>(nr & 0xff), static_cast<char>(nr >> 8)});
        if (const std::string name =
                filter::syscall_name(filter::Arch::kX86_64, static_cast<int>(v));
            !name.empty() && name.find(' ') == std::string::npos)
          add(at + "nr_text", name + "(");
      } else if (f >= filter::arg_field(0, false) && f < filter::arg_field(6, false)) {
        const int i = (f - filter::arg_field(0, false)) / 8;
        const bool high = (f - filter::arg_field(0, false)) % 8 == 4;
        const uint64_t value = high ? uint64_t{v} << 32 : v;
        const std::string name = at + "args" + std::to_string(i) + (high ? "_hi" : "_lo");
        add(name, bytes_of(encode_arg({ArgKind::kLiteral, value})));
        add(name + "_word", le32(v));
        add(name + "_text", hex(value));
      }
    }
  }
  return out;
}

std::string to_dict_text(const std::vector<DictEntry>& entries) {
  std::ostringstream s;
  for (const auto& e : entries) {
    s << e.name << "=\"";
    for (unsigned char b : e.bytes) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", b);
      s << buf;
    }
    s << "\"\n";
  }
  return s.str();
}

Result<std::string> write_dictionary(const std::string& path, const std::string& base,
                                     const filter::Program& prog) {
  std::string text;
  if (!base.empty()) {
    std::ifstream in(base);
    if (!in) return Error{base + ": cannot read", ENOENT};
    text.assign(std::istreambuf_iterator<char>(in), {});
    if (!text.empty() && text.back() != '\n') text += '\n';
  }
  text += "# Derived from the filter under test (stubfuzz fuzz, fuzz/dictionary.h)\n";
  text += to_dict_text(filter_dictionary(prog));
  std::ofstream out(path);
  out << text;
  if (!out) return Error{path + ": cannot write", EIO};
  return path;
}

}  // namespace stubfuzz::fuzz
