// model-agrees against libseccomp's compiler and the kernel: for each
// libseccomp filter, 10,000 random syscalls run in real stubs and every
// observed outcome must equal what the model predicts for the same
// seccomp_data. Records come only from outside the stub page, so the
// prefix that keeps the stub's own futex/rt_sigreturn alive never lets a
// random call through; the libseccomp rules ALLOW only harmless calls.
#include <gtest/gtest.h>

#include <random>

#include "explain/outcome.h"
#include "filter/asm.h"
#include "filter/evaluator.h"
#include "filter/predict.h"
#include "filter/validate.h"
#include "filter_libseccomp.h"
#include "kernel/facts.h"
#include "monitor/batch.h"
#include "stub/record.h"
#include "stub/stub.h"

namespace stubfuzz::filter {
namespace {

constexpr size_t kRecordsPerFilter = 10000;

Program with_stub_loop(const Program& policy, uint64_t stub_start) {
  auto prefix = assemble(testing::kStubLoopPrefix, {.file = "prefix", .stub_start = stub_start});
  if (!prefix) return {};
  Program p = *prefix;
  p.insert(p.end(), policy.begin(), policy.end());
  return p;
}

class RecordGenerator {
 public:
  RecordGenerator(const testing::NamedFilter& f, const StubLayout& l, uint64_t seed)
      : f_(f), l_(l), rng_(seed) {}

  stub_record next() {
    // Without the i386 ABI every int $0x80 costs a stub (it faults before
    // seccomp): a few still pin that, the rest go where the filter decides.
    const Abi abi = chance(kernel::facts().i386_abi ? 25 : 1) ? Abi::kI386 : Abi::kX86_64;
    std::initializer_list<uint64_t> none{};
    stub_record r = make_record(Origin::kOutside, abi, pick_nr(abi), none);
    if (chance(60)) {
      // An arena: below the page, above the data, or the upper-32-bit alias.
      const uint64_t bases[] = {l_.page_below(), l_.page_above(), l_.alias_page()};
      r.origin = STUB_ORIGIN_ADDRESS;
      r.addr = bases[uniform(3)] + uniform(STUB_PAGE_SIZE - 3);
    }
    for (uint64_t& a : r.args) a = pick_arg();
    return r;
  }

 private:
  bool chance(int percent) { return uniform(100) < static_cast<uint64_t>(percent); }
  uint64_t uniform(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  // Only numbers libseccomp names (and their x32 aliases): the kernel's
  // exempt calls (uretprobe, uprobe) are unnamed in Debian's libseccomp.
  uint32_t pick_nr(Abi abi) {
    const uint64_t roll = uniform(100);
    if (roll < 70)
      return static_cast<uint32_t>(f_.x86_64_syscalls[uniform(f_.x86_64_syscalls.size())]);
    const auto table = syscalls(abi == Abi::kI386 ? Arch::kI386 : Arch::kX86_64);
    const auto nr = static_cast<uint32_t>(table[uniform(table.size())].nr);
    return roll < 95 || abi == Abi::kI386 ? nr : nr | 0x40000000u;
  }

  uint64_t pick_arg() {
    const uint64_t roll = uniform(100);
    if (roll < 35 && !f_.constants.empty()) {
      uint64_t c = f_.constants[uniform(f_.constants.size())];
      switch (uniform(4)) {
        case 0:
          return c - 1;
        case 1:
          return c + 1;
        case 2:
          return c ^ (uint64_t{1} << uniform(64));
        default:
          return c;
      }
    }
    if (roll < 55) return uniform(16);
    if (roll < 75) return static_cast<uint32_t>(rng_());
    return rng_();
  }

  const testing::NamedFilter& f_;
  StubLayout l_;
  std::mt19937_64 rng_;
};

struct Tally {
  size_t records = 0, kills = 0, traps = 0, errnos = 0, allows = 0, stubs = 0;
};

TEST(ModelAgrees, LibseccompFiltersInRealStubsMatchTheModelOnRandomSyscalls) {
  const StubLayout layout;
  const auto filters = testing::libseccomp_filters();
  for (size_t fi = 0; fi < filters.size(); fi++) {
    const testing::NamedFilter& f = filters[fi];
    SCOPED_TRACE(f.name);
    const Program prog = with_stub_loop(f.prog, layout.stub_start);
    ASSERT_FALSE(f.prog.empty());
    auto bad = check_program(prog);
    ASSERT_FALSE(bad) << bad->message;
    const uint64_t flags = fi % 2 ? SECCOMP_FILTER_FLAG_TSYNC : 0;

    RecordGenerator gen(f, layout, 0x5eed0000 + fi);
    std::vector<stub_record> records(kRecordsPerFilter);
    for (auto& r : records) r = gen.next();

    Tally t;
    std::optional<Stub> stub;
    size_t disagreements = 0;
    for (size_t i = 0; i < records.size();) {
      if (!stub || !stub->usable()) {
        StubConfig config;
        config.filter = prog;
        config.seccomp_flags = flags;
        config.layout = layout;
        auto s = Stub::spawn(config);
        ASSERT_TRUE(s.ok()) << s.error().message;
        stub.emplace(std::move(*s));
        t.stubs++;
      }
      const size_t n = std::min<size_t>(STUB_MAX_RECORDS, records.size() - i);
      auto out = run_batch(*stub, {records.data() + i, n});
      ASSERT_TRUE(out.ok()) << out.error().message;
      size_t done = 0;
      for (; done < n && out->results[done].status != STUB_RESULT_PENDING; done++) {
        const stub_record& rec = records[i + done];
        const stub_result& res = out->results[done];
        const uint64_t ip = insn_addr(rec, stub->data()) + kSyscallInsnLen;
        const auto p = predict(prog, {}, kernel::facts(), record_data(rec, ip - kSyscallInsnLen));
        const std::string want = explain::predicted_outcome(p.ret, p.path);
        const std::string got = explain::observed_outcome(res, *out);
        t.records++;
        t.kills += got == "KILL";
        t.traps += got.starts_with("TRAP");
        t.errnos += got.starts_with("ERRNO");
        t.allows += got == "ALLOW";
        if (res.trapped) {
          // The SIGSYS record names the same call and address the model saw.
          EXPECT_EQ(res.trap_call_addr, ip);
          EXPECT_EQ(static_cast<uint32_t>(res.trap_syscall), rec.nr);
          EXPECT_EQ(res.trap_arch, audit_arch(rec.abi ? Arch::kI386 : Arch::kX86_64));
        }
        if (!explain::agrees(want, got) && ++disagreements <= 10)
          ADD_FAILURE() << "record " << i + done << ": " << (rec.abi ? "i386" : "x86_64") << " nr "
                        << rec.nr << " origin " << int(rec.origin) << " ip 0x" << std::hex << ip
                        << " args 0x" << rec.args[0] << " 0x" << rec.args[1] << " 0x" << rec.args[2]
                        << std::dec << ": model " << want << ", kernel " << got;
      }
      ASSERT_GT(done, 0u) << "no progress at record " << i;
      i += done;
      if (out->end != BatchEnd::kCompleted) stub.reset();
    }
    EXPECT_EQ(disagreements, 0u);
    EXPECT_EQ(t.records, kRecordsPerFilter);
    std::printf("%-26s %zu records, %zu stubs: %zu TRAP, %zu ERRNO, %zu ALLOW, %zu KILL\n",
                f.name.c_str(), t.records, t.stubs, t.traps, t.errnos, t.allows, t.kills);
  }
}

}  // namespace
}  // namespace stubfuzz::filter
