// The UML stand-in (uml_standin/) speaks UML's seccomp-mode protocol. These
// tests play the monitor with raw syscalls, as a UML kernel would, so they
// pin the protocol itself and not any harness code built on it.
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <skas/stub-data.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

// Where the stub page goes: far from stub_exe's image, stack and vdso.
constexpr uint64_t kStubStart = 0x7e0000000000;
// A guest page the tests map through a batch.
constexpr uint64_t kGuestPage = 0x100000000;
constexpr auto kBound = std::chrono::seconds(2);

std::string tree_file(const std::string& variant, const std::string& path) {
  return std::string(STUBFUZZ_UML_STANDIN_DIR) + "/" + variant + "/" + path;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// What a monitor takes from the tree's linux ELF: the .syscall_stub bytes and
// where the handler and restorer sit in them.
struct StubPage {
  std::array<char, UM_KERN_PAGE_SIZE> code{};
  uint64_t handler = 0, restorer = 0;
  std::string error;
};

StubPage read_stub_page(const std::string& linux_elf) {
  StubPage page;
  const std::string img = slurp(linux_elf);
  if (img.size() < sizeof(Elf64_Ehdr) || img.compare(0, SELFMAG, ELFMAG) != 0)
    return {.error = linux_elf + ": not an ELF file"};
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(img.data());
  const auto* sh = reinterpret_cast<const Elf64_Shdr*>(img.data() + eh->e_shoff);
  const char* names = img.data() + sh[eh->e_shstrndx].sh_offset;
  const Elf64_Shdr *text = nullptr, *symtab = nullptr;
  for (int i = 0; i < eh->e_shnum; i++) {
    if (std::strcmp(names + sh[i].sh_name, ".syscall_stub") == 0) text = &sh[i];
    if (sh[i].sh_type == SHT_SYMTAB) symtab = &sh[i];
  }
  if (!text || !symtab) return {.error = linux_elf + ": no .syscall_stub or no .symtab"};

  std::map<std::string, uint64_t> sym;
  const auto* syms = reinterpret_cast<const Elf64_Sym*>(img.data() + symtab->sh_offset);
  const char* strtab = img.data() + sh[symtab->sh_link].sh_offset;
  for (size_t i = 0; i < symtab->sh_size / sizeof(Elf64_Sym); i++)
    sym[strtab + syms[i].st_name] = syms[i].st_value;
  for (const char* name : {"__syscall_stub_start", "__syscall_stub_end", "stub_signal_interrupt",
                           "stub_signal_restorer", "stub_syscall_handler"})
    if (!sym.count(name)) return {.error = linux_elf + ": no symbol " + name};

  const uint64_t start = sym["__syscall_stub_start"];
  if (start != text->sh_addr || start % UM_KERN_PAGE_SIZE != 0 ||
      sym["__syscall_stub_end"] - start > UM_KERN_PAGE_SIZE || text->sh_size > UM_KERN_PAGE_SIZE)
    return {.error = linux_elf + ": .syscall_stub is not one page-aligned page"};
  std::memcpy(page.code.data(), img.data() + text->sh_offset, text->sh_size);
  page.handler = sym["stub_signal_interrupt"] - start;
  page.restorer = sym["stub_signal_restorer"] - start;
  return page;
}

long futex(unsigned int* word, int op, unsigned int val, const timespec* timeout = nullptr) {
  return syscall(SYS_futex, word, op, val, timeout, nullptr, 0);
}

struct ExecArgs {
  int sock, code_fd, data_fd, exe_fd;
};

// The vfork child: only fd 0 (the socket) and the two memfds survive exec.
int exec_stub(void* p) {
  const auto* a = static_cast<const ExecArgs*>(p);
  syscall(SYS_close_range, 0, ~0U, CLOSE_RANGE_CLOEXEC);
  syscall(SYS_fcntl, a->code_fd, F_SETFD, 0);
  syscall(SYS_fcntl, a->data_fd, F_SETFD, 0);
  syscall(SYS_dup2, a->sock, 0);
  const rlimit no_core = {0, 0};  // a stub its filter kills leaves no core file
  syscall(SYS_prlimit64, 0, RLIMIT_CORE, &no_core, nullptr);
  const char* argv[] = {"stub_exe", nullptr};
  const char* envp[] = {nullptr};
  syscall(SYS_execveat, a->exe_fd, "", argv, envp, AT_EMPTY_PATH);
  syscall(SYS_exit, 127);
  return 127;
}

int memfd_with(const char* name, const void* bytes, size_t len, size_t size, unsigned flags = 0) {
  const int fd = memfd_create(name, MFD_CLOEXEC | flags);
  if (fd < 0 || write(fd, bytes, len) != static_cast<ssize_t>(len) || ftruncate(fd, size) != 0)
    return -1;
  return fd;
}

// One stub_exe of a tree, driven from this side. The destructor kills it
// by pidfd and reaps it.
class UmlStub {
 public:
  // Spawns the tree's stub_exe and writes `init_len` bytes of its init data
  // (all of it by default); `close_socket` then hangs up.
  UmlStub(const std::string& variant, size_t init_len = sizeof(stub_init_data),
          bool close_socket = false) {
    const StubPage page = read_stub_page(tree_file(variant, "linux"));
    if (!page.error.empty()) {
      error_ = page.error;
      return;
    }
    restorer_ = page.restorer;
    const std::string exe = slurp(tree_file(variant, "arch/um/kernel/skas/stub_exe"));
    if (exe.empty()) {
      error_ = "no stub_exe in the " + variant + " tree";
      return;
    }

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      fail("socketpair");
      return;
    }
    sock_ = sv[0];
    // This side's copies of what the child inherits, closed on every path.
    struct Closer {
      std::vector<int> fds;
      ~Closer() {
        for (int fd : fds)
          if (fd >= 0) close(fd);
      }
    } inherited{{sv[1]}};
    const int code_fd =
        memfd_with("uml-stub-code", page.code.data(), page.code.size(), UM_KERN_PAGE_SIZE);
    const size_t data_len = STUB_DATA_PAGES * UM_KERN_PAGE_SIZE;
    const int data_fd = memfd_with("uml-stub-data", "", 0, data_len);
    const int exe_fd =
        memfd_with("stub_exe", exe.data(), exe.size(), exe.size(), MFD_ALLOW_SEALING | MFD_EXEC);
    inherited.fds.insert(inherited.fds.end(), {code_fd, data_fd, exe_fd});
    if (code_fd < 0 || data_fd < 0 || exe_fd < 0) {
      fail("memfd");
      return;
    }
    fcntl(exe_fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    void* data = mmap(nullptr, data_len, PROT_READ | PROT_WRITE, MAP_SHARED, data_fd, 0);
    if (data == MAP_FAILED) {
      fail("mmap of the data pages");
      return;
    }
    d_ = static_cast<stub_data*>(data);
    d_->futex = FUTEX_IN_CHILD;

    const stub_init_data init = {
        .seccomp = 1,
        .stub_start = kStubStart,
        .stub_code_fd = code_fd,
        .stub_code_offset = 0,
        .stub_data_fd = data_fd,
        .stub_data_offset = 0,
        .signal_handler = kStubStart + page.handler,
        .signal_restorer = kStubStart + page.restorer,
    };
    if (write(sock_, &init, init_len) != static_cast<ssize_t>(init_len)) {
      fail("write init data");
      return;
    }

    ExecArgs args{sv[1], code_fd, data_fd, exe_fd};
    std::vector<char> stack(64 * 1024);
    pid_ = clone(exec_stub, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    if (pid_ < 0) {
      fail("clone");
      return;
    }
    pidfd_ = syscall(SYS_pidfd_open, pid_, 0);
    if (pidfd_ < 0) {
      fail("pidfd_open");
      return;
    }
    if (close_socket) close(std::exchange(sock_, -1));
  }

  ~UmlStub() {
    if (pidfd_ >= 0) {
      syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
      siginfo_t si;
      waitid(P_PIDFD, pidfd_, &si, WEXITED);
      close(pidfd_);
    }
    if (sock_ >= 0) close(sock_);
    if (d_) munmap(d_, sizeof(*d_));
  }

  const std::string& error() const { return error_; }
  // Where the restorer's syscall instruction is: after its 5-byte mov.
  uint64_t restorer_syscall() const { return kStubStart + restorer_ + 5; }
  pid_t pid() const { return pid_; }
  stub_data* data() const { return d_; }
  greg_t* regs() const {
    return reinterpret_cast<mcontext_t*>(d_->sigstack + d_->mctx_offset)->gregs;
  }
  const siginfo_t* siginfo() const {
    return reinterpret_cast<const siginfo_t*>(d_->sigstack + d_->si_offset);
  }

  // Waits, at most kBound, until the stub hands over (futex IN_KERN).
  testing::AssertionResult stopped() {
    const auto deadline = std::chrono::steady_clock::now() + kBound;
    auto* word = reinterpret_cast<std::atomic<unsigned int>*>(&d_->futex);
    while (word->load() != FUTEX_IN_KERN) {
      siginfo_t si{};
      if (waitid(P_PIDFD, pidfd_, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0)
        return testing::AssertionFailure() << "the stub ended (code " << si.si_code << ", status "
                                           << si.si_status << ") instead of stopping";
      if (std::chrono::steady_clock::now() > deadline)
        return testing::AssertionFailure() << "the stub did not stop within 2 s";
      const timespec slice = {0, 10'000'000};
      futex(&d_->futex, FUTEX_WAIT, FUTEX_IN_CHILD, &slice);
    }
    return testing::AssertionSuccess();
  }

  void resume() {
    d_->signal = 0;
    reinterpret_cast<std::atomic<unsigned int>*>(&d_->futex)->store(FUTEX_IN_CHILD);
    futex(&d_->futex, FUTEX_WAKE, 1);
  }

  // Sends the fds of the next batch, as UML does: one byte and SCM_RIGHTS.
  bool send_fd(int fd) {
    char byte = 0;
    iovec iov = {&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(fd));
    return sendmsg(sock_, &msg, 0) == 1;
  }

  // Waits, at most kBound, for the stub to end; returns its waitid info.
  siginfo_t ended() {
    siginfo_t si{};
    pollfd p = {pidfd_, POLLIN, 0};
    if (poll(&p, 1, std::chrono::milliseconds(kBound).count()) == 1 &&
        waitid(P_PIDFD, pidfd_, &si, WEXITED) == 0) {
      close(std::exchange(pidfd_, -1));
    }
    return si;
  }

 private:
  // A failed call, with its errno.
  void fail(const std::string& what) { error_ = what + ": " + std::strerror(errno); }

  std::string error_;
  int sock_ = -1;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  stub_data* d_ = nullptr;
  uint64_t restorer_ = 0;
};

std::string fd_link(pid_t pid, int fd) {
  char target[256] = {};
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  if (readlink(path.c_str(), target, sizeof(target) - 1) < 0) return "";
  return target;
}

TEST(UmlStandinTree, ListenerTreeDiffersFromMainlineInItsSeccompCall) {
  const std::string mainline = slurp(tree_file("mainline", "arch/um/kernel/skas/stub_exe.c"));
  const std::string listener = slurp(tree_file("listener", "arch/um/kernel/skas/stub_exe.c"));
  EXPECT_NE(mainline.find("SECCOMP_SET_MODE_FILTER"), std::string::npos);
  EXPECT_NE(listener.find("SECCOMP_SET_MODE_FILTER"), std::string::npos);
  EXPECT_EQ(mainline.find("NEW_LISTENER"), std::string::npos);
  EXPECT_NE(listener.find("SECCOMP_FILTER_FLAG_NEW_LISTENER"), std::string::npos);
}

TEST(UmlStandinTree, EachTreeHasTheKbuildCommandAndAOnePageStubSection) {
  for (const char* variant : {"mainline", "listener"}) {
    const std::string cmd = slurp(tree_file(variant, "arch/um/kernel/skas/.stub_exe.o.cmd"));
    EXPECT_EQ(cmd.rfind("savedcmd_arch/um/kernel/skas/stub_exe.o := /", 0), 0u) << variant;
    EXPECT_NE(cmd.find(" -c -o arch/um/kernel/skas/stub_exe.o arch/um/kernel/skas/stub_exe.c\n"),
              std::string::npos)
        << variant;
    EXPECT_NE(cmd.find("-I" + tree_file(variant, "arch/um/include/shared/skas")), std::string::npos)
        << variant;
    EXPECT_EQ(read_stub_page(tree_file(variant, "linux")).error, "") << variant;
    EXPECT_NE(slurp(tree_file(variant, ".config")).find("CONFIG_UML=y"), std::string::npos);
    EXPECT_NE(slurp(tree_file(variant, "Makefile")).find("PATCHLEVEL = 18"), std::string::npos);
  }
}

TEST(UmlStandin, ListenerStubStopsAtItsFirstSigsysWithTheListenerAtFd1) {
  UmlStub stub("listener");
  ASSERT_EQ(stub.error(), "");
  ASSERT_TRUE(stub.stopped());
  EXPECT_EQ(stub.data()->signal, SIGSYS);
  EXPECT_EQ(stub.siginfo()->si_syscall, SYS_exit);
  EXPECT_EQ(slurp("/proc/" + std::to_string(stub.pid()) + "/comm"), "uml-userspace\n");
  EXPECT_EQ(fd_link(stub.pid(), 1), "anon_inode:seccomp notify");
  EXPECT_EQ(fd_link(stub.pid(), 2), "") << "close_range left the memfds open";
  // The whole frame lies in the signal stack page, clear of the page below.
  EXPECT_GT(stub.data()->si_offset, stub.data()->mctx_offset);
  EXPECT_GE(stub.data()->mctx_offset, 512);
}

TEST(UmlStandin, ListenerStubMapsAGuestPageAndReportsItsSyscallAndBreakpoint) {
  UmlStub stub("listener");
  ASSERT_EQ(stub.error(), "");
  ASSERT_TRUE(stub.stopped());
  ASSERT_EQ(stub.data()->signal, SIGSYS);

  const unsigned char guest[] = {0x0f, 0x05, 0xcc};  // syscall; int3
  const int guest_fd = memfd_with("guest", guest, sizeof(guest), UM_KERN_PAGE_SIZE);
  ASSERT_GE(guest_fd, 0);
  stub_data* d = stub.data();
  d->syscall_data[0] = {};
  d->syscall_data[0].syscall = STUB_SYSCALL_MMAP;
  d->syscall_data[0].mem.addr = kGuestPage;
  d->syscall_data[0].mem.length = UM_KERN_PAGE_SIZE;
  d->syscall_data[0].mem.prot = PROT_READ | PROT_EXEC;
  d->syscall_data[0].mem.fd = 0;
  d->syscall_data_len = 1;
  ASSERT_TRUE(stub.send_fd(guest_fd));
  close(guest_fd);

  stub.regs()[REG_RIP] = kGuestPage;
  stub.regs()[REG_RAX] = SYS_getpid;
  stub.resume();
  ASSERT_TRUE(stub.stopped());
  EXPECT_EQ(d->err, 0);
  EXPECT_EQ(d->syscall_data_len, 0);
  EXPECT_EQ(d->signal, SIGSYS) << "getpid from the guest page traps";
  EXPECT_EQ(stub.siginfo()->si_syscall, SYS_getpid);

  stub.regs()[REG_RIP] = kGuestPage + 2;
  stub.resume();
  ASSERT_TRUE(stub.stopped());
  EXPECT_EQ(d->signal, SIGTRAP);
}

TEST(UmlStandin, AFailedBatchEntryIsReportedAndTheStubStopsAgainAsSigsys) {
  UmlStub stub("listener");
  ASSERT_EQ(stub.error(), "");
  ASSERT_TRUE(stub.stopped());
  stub_data* d = stub.data();
  d->syscall_data[0] = {};
  d->syscall_data[0].syscall = STUB_SYSCALL_MUNMAP;
  d->syscall_data[0].mem.addr = kGuestPage + 1;  // unaligned: EINVAL
  d->syscall_data[0].mem.length = UM_KERN_PAGE_SIZE;
  d->syscall_data_len = 1;
  stub.resume();
  ASSERT_TRUE(stub.stopped());
  EXPECT_EQ(d->err, -EINVAL);
  EXPECT_EQ(d->syscall_data_len, 0) << "the index of the failed entry";
  EXPECT_EQ(d->signal, SIGSYS);
}

TEST(UmlStandin, ASyscallTheFilterDoesNotListKillsTheStubEvenFromInsideTheStubPage) {
  UmlStub stub("listener");
  ASSERT_EQ(stub.error(), "");
  ASSERT_TRUE(stub.stopped());
  stub.regs()[REG_RIP] = stub.restorer_syscall();
  stub.regs()[REG_RAX] = SYS_getpid;
  stub.resume();
  const siginfo_t end = stub.ended();
  EXPECT_TRUE(end.si_code == CLD_KILLED || end.si_code == CLD_DUMPED) << end.si_code;
  EXPECT_EQ(end.si_status, SIGSYS);
}

TEST(UmlStandin, MainlineStubKeepsOnlyTheSocketOpenAfterInit) {
  UmlStub stub("mainline");
  ASSERT_EQ(stub.error(), "");
  ASSERT_TRUE(stub.stopped());
  EXPECT_EQ(stub.data()->signal, SIGSYS);
  EXPECT_NE(fd_link(stub.pid(), 0), "");
  EXPECT_EQ(fd_link(stub.pid(), 1), "") << "mainline has no listener";
}

TEST(UmlStandin, ShortInitDataMakesTheStubExitWith10) {
  UmlStub stub("listener", 3, /*close_socket=*/true);
  ASSERT_EQ(stub.error(), "");
  const siginfo_t end = stub.ended();
  EXPECT_EQ(end.si_code, CLD_EXITED);
  EXPECT_EQ(end.si_status, 10);
}

}  // namespace
