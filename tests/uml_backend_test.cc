// UML's own stub as the target (--uml-tree), on the stand-in tree the build
// lays out (uml_standin/): the tree is read, the stub spawned and driven by
// UML's protocol, and every broken step is one clear error, not a hang.
#include <linux/audit.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include "check/check.h"
#include "filter/evaluator.h"
#include "kernel/facts.h"
#include "monitor/batch.h"
#include "profile/uml_profile.h"
#include "stub/record.h"
#include "stub/uml_stub.h"
#include "test_support.h"
#include "uml/tree.h"

namespace stubfuzz {
namespace {

namespace fs = std::filesystem;

std::string standin(const char* variant) {
  return std::string(STUBFUZZ_UML_STANDIN_DIR) + "/" + variant;
}

// The compiler the tree's build used, which the layout probe needs too
// ("" if that is not on this machine).
std::string probe_compiler() {
  std::ifstream in(standin("listener") + "/arch/um/kernel/skas/.stub_exe.o.cmd");
  std::string word;
  while (in >> word && word != ":=") {
  }
  in >> word;
  return fs::exists(word) ? word : "";
}

// The stand-in is built beside the tests; a guest of scripts/guest has the
// trees but no compiler for the layout probe.
#define REQUIRE_STANDIN()                                                                  \
  do {                                                                                     \
    if (!fs::exists(standin("listener") + "/linux"))                                       \
      GTEST_SKIP() << "the stand-in tree is not on this machine: " << standin("");         \
    if (probe_compiler().empty()) GTEST_SKIP() << "no compiler here for the layout probe"; \
    if (geteuid() != 0) GTEST_SKIP() << "reading a stub's filter needs root";              \
  } while (0)

// A copy of a stand-in tree to break, removed at the end.
class TreeCopy {
 public:
  explicit TreeCopy(const char* variant) {
    char tmpl[] = "/tmp/stubfuzz-tree-XXXXXX";
    dir_ = mkdtemp(tmpl);
    fs::copy(standin(variant), dir_, fs::copy_options::recursive);
    // The command file names the original's include directories.
    const fs::path cmd = dir_ / "arch/um/kernel/skas/.stub_exe.o.cmd";
    std::string text = read(cmd);
    for (size_t at; (at = text.find(standin(variant))) != std::string::npos;)
      text.replace(at, standin(variant).size(), dir_.string());
    std::ofstream(cmd) << text;
  }
  ~TreeCopy() { fs::remove_all(dir_); }
  std::string dir() const { return dir_.string(); }
  fs::path path(const char* rel) const { return dir_ / rel; }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void rewrite(const char* rel, const std::string& from, const std::string& to) {
    std::string text = read(path(rel));
    const auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in " << rel;
    text.replace(at, from.size(), to);
    std::ofstream(path(rel)) << text;
  }

 private:
  fs::path dir_;
};

TEST(UmlTree, ReadsTheStandInsLayoutSymbolsAndSites) {
  REQUIRE_STANDIN();
  auto t = uml::read_tree(standin("listener"));
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->new_listener);
  const uml::Layout& l = t->layout;
  EXPECT_EQ(l.page_size, 4096u);
  EXPECT_EQ(l.data.size, l.data_pages * l.page_size);
  EXPECT_EQ(l.data.futex.size, 4u);
  EXPECT_EQ(l.data.sigstack.offset % l.page_size, 0u);
  EXPECT_GE(l.syscall_data_entries(), uint32_t{kGuestPages});
  EXPECT_EQ(l.init.stub_start.size, 8u);
  // The stand-in orders stub_data unlike upstream: the futex word first.
  EXPECT_LT(l.data.futex.offset, l.data.syscall_data.offset);
  ASSERT_EQ(t->page.size(), l.page_size);
  EXPECT_LT(t->handler_offset, l.page_size);
  EXPECT_LT(t->restorer_offset, l.page_size);
  // The handler's calls, each a syscall instruction of the page.
  ASSERT_FALSE(t->sites.empty());
  bool restorer = false;
  for (const uml::PageSite& s : t->sites) {
    ASSERT_LT(s.offset + 1u, l.page_size);
    if (s.i386) continue;
    EXPECT_EQ(t->page[s.offset], 0x0f);
    EXPECT_EQ(t->page[s.offset + 1], 0x05);
    restorer |= s.function == "stub_signal_restorer";
  }
  EXPECT_TRUE(restorer);
  const auto kept = std::count_if(t->sites.begin(), t->sites.end(),
                                  [](const uml::PageSite& s) { return s.keeps_result; });
  EXPECT_GT(kept, 1) << "most of the handler's calls are followed by a test of the result";
  std::cout << "[ sites    ] " << t->sites.size() << " in the page, " << kept
            << " whose result the driver can read\n";

  auto mainline = uml::read_tree(standin("mainline"));
  ASSERT_TRUE(mainline.ok()) << mainline.error().message;
  EXPECT_FALSE(mainline->new_listener);
}

TEST(UmlTree, EachBadTreeIsOneErrorNamingWhatIsWrong) {
  REQUIRE_STANDIN();
  auto error_of = [](const std::string& dir) {
    auto t = uml::read_tree(dir);
    return t.ok() ? std::string("(read)") : t.error().message;
  };
  EXPECT_NE(error_of("/nonexistent/tree").find("no such directory"), std::string::npos);
  EXPECT_NE(error_of(STUBFUZZ_SOURCE_DIR).find("not a kernel tree"), std::string::npos);
  {
    TreeCopy c("mainline");
    c.rewrite("arch/um/kernel/skas/stub_exe.c", "SECCOMP_SET_MODE_FILTER", "SECCOMP_SET_MODE_X");
    EXPECT_NE(error_of(c.dir()).find("without the seccomp stub"), std::string::npos)
        << error_of(c.dir());
  }
  {
    TreeCopy c("mainline");
    fs::remove(c.path("linux"));
    EXPECT_NE(error_of(c.dir()).find("not built for ARCH=um"), std::string::npos)
        << error_of(c.dir());
  }
  {
    TreeCopy c("mainline");
    fs::remove(c.path("arch/um/kernel/skas/.stub_exe.o.cmd"));
    EXPECT_NE(error_of(c.dir()).find("not built for ARCH=um"), std::string::npos);
  }
  {
    TreeCopy c("mainline");
    c.rewrite("arch/um/include/shared/skas/stub-data.h", "mctx_offset", "mcontext_offset");
    const std::string e = error_of(c.dir());
    EXPECT_NE(e.find("layout probe"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << "one line: " << e;
  }
}

// Leak-free as every stub test: the process-wide pieces (each tree's
// stub_exe memfd) are made before counting.
class UmlBackend : public testing_support::LeakFree {
 protected:
  void SetUp() override {
    for (const char* variant : {"listener", "mainline"})
      if (auto t = uml::read_tree(standin(variant)); t.ok())
        prepare(std::make_shared<const uml::Tree>(*t));
    LeakFree::SetUp();
  }
  void prepare(std::shared_ptr<const uml::Tree> t) {
    StubConfig c;
    c.uml = std::move(t);
    ASSERT_TRUE(Stub::prepare(c).ok());
  }
};

TEST_F(UmlBackend, RunsRecordsFromEveryOriginAsUmlsMonitorWould) {
  REQUIRE_STANDIN();
  auto p = profile_from_uml_tree(standin("listener"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  const StubConfig config = p->stub_config();
  auto s = Stub::spawn(config);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_NE(s->listener(), nullptr) << "1/7: the listener is fd 1, pulled with pidfd_getfd";
  EXPECT_EQ(s->seccomp_ret(), kStubListenerFd);
  const StubLayout& l = s->layout();
  EXPECT_EQ(l.page_above(), l.stub_start + 3 * STUB_PAGE_SIZE) << "two data pages";
  const uint64_t outside = s->data().outside_gate[STUB_ABI_X86_64];

  auto o = run_batch(
      *s, {from_outside(SYS_getpid), make_record(Origin::kOutside, Abi::kI386, 20 /* getpid */, {}),
           at_address(l.alias_page() + 16, SYS_getpid),
           from_stub(SYS_munmap, {l.page_above(), STUB_PAGE_SIZE}),
           at_address(l.stub_start - 2, SYS_munmap, {l.page_below(), 0})});
  ASSERT_TRUE(o.ok()) << o.error().message;
  ASSERT_EQ(o->end, BatchEnd::kCompleted);
  const auto& r = o->results;
  EXPECT_TRUE(r[0].trapped);
  EXPECT_EQ(r[0].trap_syscall, SYS_getpid);
  EXPECT_EQ(r[0].trap_call_addr, outside + kSyscallInsnLen);
  EXPECT_EQ(r[0].trap_arch, AUDIT_ARCH_X86_64);
  EXPECT_TRUE(r[1].trapped);
  EXPECT_EQ(r[1].trap_arch, AUDIT_ARCH_I386);
  EXPECT_TRUE(r[2].trapped) << "the upper-32-bit alias is outside";
  EXPECT_EQ(r[2].trap_call_addr, l.alias_page() + 16 + kSyscallInsnLen);
  // From the stub page, munmap is allowed: it runs (the guest page goes).
  EXPECT_FALSE(r[3].trapped);
  EXPECT_EQ(r[3].status, STUB_RESULT_DONE);
  EXPECT_EQ(r[3].ret, 0);
  // Just below the page, the kernel's ip is the page's first byte: allowed
  // (munmap of length 0 is EINVAL, but it ran).
  EXPECT_FALSE(r[4].trapped);
  EXPECT_EQ(r[4].ret, -EINVAL);

  // Anything else from the stub page kills it, as the filter says.
  auto k = run_batch(*s, {from_stub(SYS_getpid)});
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->end, BatchEnd::kStubDied);
  ASSERT_TRUE(k->exit.has_value());
  EXPECT_TRUE(k->exit->killed_by(SIGSYS)) << kernel::describe(*k->exit);
}

TEST_F(UmlBackend, EverySyscallSiteOfTheBuiltPageRunsItsCall) {
  REQUIRE_STANDIN();
  auto p = profile_from_uml_tree(standin("listener"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  size_t sites = 0;
  for (uint32_t i = 0;; i++) {
    auto s = Stub::spawn(p->stub_config());
    ASSERT_TRUE(s.ok()) << s.error().message;
    const uint32_t n = s->data().nstub_sites;
    ASSERT_GT(n, 1u) << "UML's page has a syscall per call it makes";
    if (i >= n) break;
    // close(999) is allowed from the page: EBADF, from whichever site.
    const stub_record rec = make_record(Origin::kStub, Abi::kX86_64, SYS_close, {999}, i);
    auto o = run_batch(*s, {rec});
    ASSERT_TRUE(o.ok()) << o.error().message;
    ASSERT_EQ(o->end, BatchEnd::kCompleted) << "site " << i;
    EXPECT_FALSE(o->results[0].trapped) << "site " << i;
    EXPECT_EQ(o->results[0].ret, -EBADF)
        << "site " << i << " at 0x" << std::hex << insn_addr(rec, s->data());
    sites++;
  }
  EXPECT_GT(sites, 1u);
}

TEST_F(UmlBackend, TheFilterReadBackIsJudgedLikeTheBuiltInOne) {
  REQUIRE_STANDIN();
  for (const char* variant : {"listener", "mainline"}) {
    auto p = profile_from_uml_tree(standin(variant));
    ASSERT_TRUE(p.ok()) << p.error().message;
    const StubLayout l = uml_layout(*p->uml_tree, StubLayout{});
    const filter::Program tree_filter = p->make_filter(l);
    const filter::Program builtin = (*find_profile(variant))->make_filter(l);
    ASSERT_FALSE(tree_filter.empty());
    const uint64_t ips[] = {l.stub_start + 2, l.stub_start + 4094,  l.stub_start + 4096,
                            l.stub_start,     l.page_above() + 2,   l.alias_page() + 2,
                            0x401002,         l.stub_start - 0x1000};
    for (uint64_t ip : ips)
      for (uint32_t arch : {uint32_t{AUDIT_ARCH_X86_64}, uint32_t{AUDIT_ARCH_I386}})
        for (int nr = 0; nr < 450; nr++) {
          const seccomp_data d = filter::make_seccomp_data(nr, arch, ip, {});
          ASSERT_EQ(filter::evaluate(tree_filter, d).action(),
                    filter::evaluate(builtin, d).action())
              << variant << ": nr " << nr << " arch " << arch << " ip 0x" << std::hex << ip;
        }
  }
}

TEST_F(UmlBackend, ChecksGiveTheBuiltInProfilesVerdictsClaimByClaim) {
  REQUIRE_STANDIN();
  for (const char* variant : {"listener", "mainline"}) {
    auto p = profile_from_uml_tree(standin(variant));
    ASSERT_TRUE(p.ok()) << p.error().message;
    const CheckReport uml = run_checks(*p);
    const CheckReport builtin = run_checks(**find_profile(variant));
    std::map<std::string, Verdict> want;
    for (const CheckRow& r : builtin.rows) want[r.name] = r.verdict;
    size_t compared = 0;
    for (const CheckRow& r : uml.rows) {
      if (r.verdict == Verdict::kNotApplicable) {
        EXPECT_STREQ(variant, "mainline") << r.name << ": " << r.evidence;
        EXPECT_NE(r.evidence.find("1/7"), std::string::npos);
        continue;
      }
      ASSERT_TRUE(want.count(r.name)) << r.name;
      EXPECT_EQ(r.verdict, want[r.name]) << variant << " " << r.name << ": " << r.evidence;
      compared++;
    }
    EXPECT_EQ(compared, builtin.rows.size()) << variant;
  }
}

TEST_F(UmlBackend, AStubThatExitsInInitIsNamedByItsStep) {
  REQUIRE_STANDIN();
  // The header says the init data's fds come elsewhere than stub_exe reads
  // them: the stub maps nothing and exits at its first mmap.
  TreeCopy c("listener");
  c.rewrite("arch/um/include/shared/skas/stub-data.h", "int stub_code_fd;",
            "int stub_code_fd_moved; int stub_code_fd;");
  auto t = uml::read_tree(c.dir());
  ASSERT_TRUE(t.ok()) << t.error().message;
  StubConfig config;
  config.uml = std::make_shared<const uml::Tree>(*t);
  config.layout = uml_layout(*t, StubLayout{});
  ASSERT_TRUE(Stub::prepare(config).ok());
  before_ = count_resources();
  const auto t0 = std::chrono::steady_clock::now();
  auto s = Stub::spawn(config);
  ASSERT_FALSE(s.ok());
  // The spawn's own bound (ready_timeout, paced to the machine) and a reap.
  EXPECT_LT(std::chrono::steady_clock::now() - t0,
            kernel::paced(config.ready_timeout) + kReapTimeout)
      << "not a hang";
  EXPECT_TRUE(
      std::regex_search(s.error().message, std::regex("exited during init with code 1[0-3]")))
      << s.error().message;
}

TEST_F(UmlBackend, AStubKilledBehindTheMonitorsBackEndsTheBatchNotAHang) {
  REQUIRE_STANDIN();
  auto p = profile_from_uml_tree(standin("listener"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  auto s = Stub::spawn(p->stub_config());
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(::kill(s->pid(), SIGKILL), 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto o = run_batch(*s, {from_outside(SYS_getpid)});
  // Well inside the batch's own bound: the driver sees the death itself.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, kernel::paced(std::chrono::milliseconds(1000)));
  if (o.ok()) {
    EXPECT_EQ(o->end, BatchEnd::kStubDied);
  } else {
    EXPECT_EQ(o.error().err, ESRCH) << o.error().message;
  }
}

TEST(UmlTreeText, OddToolOutputIsOneErrorNotACrash) {
  // kbuild's command file.
  EXPECT_FALSE(uml::probe_command("", "p.c", "p.s").ok());
  EXPECT_FALSE(uml::probe_command("not a command file\n", "p.c", "p.s").ok());
  EXPECT_FALSE(uml::probe_command("savedcmd_x := gcc -o x.o x.c\n", "p.c", "p.s").ok()) << "no -c";
  auto c = uml::probe_command(
      "savedcmd_arch/um/kernel/skas/stub_exe.o := gcc -Wp,-MMD,a/.d -I./include -O2 -c -o "
      "arch/um/kernel/skas/stub_exe.o arch/um/kernel/skas/stub_exe.c\n",
      "/t/p.c", "/t/p.s");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(*c, "gcc -I./include -O2 -S -o '/t/p.s' '/t/p.c'");
  // The probe's output: every member, each at most a few digits.
  EXPECT_FALSE(uml::parse_probe_output("").ok());
  EXPECT_FALSE(uml::parse_probe_output(".ascii \"->page_size 99999999999999999999 0\"").ok());
  auto missing = uml::parse_probe_output(".ascii \"->page_size 4096 0\"");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("lacks"), std::string::npos);
  // objdump's listing: sites in the page only.
  const std::vector<uint8_t> page = {0x0f, 0x05, 0xc3, 0xcd, 0x80};
  EXPECT_FALSE(uml::parse_sites("", 0x1000, page).ok());
  EXPECT_FALSE(uml::parse_sites("  2000:\tsyscall\n", 0x1000, page).ok()) << "outside";
  auto sites = uml::parse_sites("0000000000001000 <f>:\n  1000:\tsyscall\n", 0x1000, page);
  ASSERT_TRUE(sites.ok()) << sites.error().message;
  ASSERT_EQ(sites->size(), 2u) << "and int $0x80's bytes inside an instruction";
  EXPECT_EQ((*sites)[0].function, "f");
  EXPECT_TRUE((*sites)[1].i386);
  EXPECT_EQ((*sites)[1].offset, 3u);
  // Whether the call's result survives the page's next instruction.
  auto kept = uml::parse_sites(
      "  1000:\tsyscall\n  1002:\tcmp    $0xfffffffffffffffc,%rax\n"
      "  1006:\tsyscall\n  1008:\tmov    -0x60(%rsp),%eax\n",
      0x1000, std::vector<uint8_t>(16, 0x90));
  ASSERT_TRUE(kept.ok()) << kept.error().message;
  ASSERT_EQ(kept->size(), 2u);
  EXPECT_TRUE((*kept)[0].keeps_result);
  EXPECT_FALSE((*kept)[1].keeps_result);
  EXPECT_FALSE((*sites)[1].keeps_result) << "inside an instruction: the next one is unknown";
}

}  // namespace
}  // namespace stubfuzz
