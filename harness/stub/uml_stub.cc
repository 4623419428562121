#include "stub/uml_stub.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "kernel/facts.h"
#include "kernel/proc.h"
#include "kernel/sys.h"
#include "stub/record.h"

namespace stubfuzz {

namespace {

using kernel::Clock;
using std::chrono::milliseconds;

constexpr uint64_t kFlagTrap = 0x100;  // EFLAGS.TF: a SIGTRAP after the next instruction
constexpr uint64_t kFlagDirection = 0x400;
// Guest code: the outside gates and the spin (UmlDriver::prepare).
constexpr uint32_t kGateX86 = 0, kGateI386 = 4, kSpin = 8;
// The guest pages lie this many pages below the stub page.
constexpr uint64_t kGuestBelowStub = 64;

}  // namespace

// Never closed: a pool thread may spawn while the process exits.
Result<int> uml_stub_exe_image(const std::string& path) {
  static std::mutex mu;
  static auto& images = *new std::map<std::string, int>;
  std::lock_guard lock(mu);
  if (auto it = images.find(path); it != images.end()) return it->second;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string image = bytes.str();
  if (!in || image.size() < 64 ||
      image.compare(0, 4,
                    "\x7f"
                    "ELF") != 0)
    return Error{path + ": not an executable (the tree's build did not finish?)", ENOEXEC};
  auto mfd = kernel::sealed_memfd("uml-userspace",
                                  {reinterpret_cast<const uint8_t*>(image.data()), image.size()});
  if (!mfd) return mfd.error();
  return images[path] = mfd->release();
}

namespace {

Result<uint8_t*> map_shared(int fd, size_t len, const char* what) {
  if (ftruncate(fd, static_cast<off_t>(len)) < 0) return Error::from_errno(what);
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Error::from_errno(what);
  return static_cast<uint8_t*>(p);
}

}  // namespace

StubLayout uml_layout(const uml::Tree& tree, StubLayout l) {
  const uint64_t page = tree.layout.page_size;
  l.region_size = page * (1 + tree.layout.data_pages);
  l.scratch_addr = l.stub_start - kGuestBelowStub * page + kGuestScratch * page;
  return l;
}

UmlDriver::UmlDriver(std::shared_ptr<const uml::Tree> tree, const StubLayout& layout)
    : tree_(std::move(tree)), layout_(layout), mirror_(std::make_unique<stub_data>()) {}

UmlDriver::~UmlDriver() {
  stop();
  const size_t page = tree_->layout.page_size;
  if (phys_map_) munmap(phys_map_, page * (1 + tree_->layout.data_pages));
  if (guest_map_) munmap(guest_map_, page * kGuestPages);
}

uint64_t UmlDriver::guest_addr(UmlGuestPage p) const {
  const uint64_t page = tree_->layout.page_size;
  switch (p) {
    case kGuestBelow:
      return layout_.page_below();
    case kGuestAbove:
      return layout_.page_above();
    case kGuestAlias:
      return layout_.alias_page();
    default:
      return layout_.stub_start - kGuestBelowStub * page + p * page;
  }
}

// The monitor's view of guest bytes [addr, addr + len), if one page holds them.
uint8_t* UmlDriver::guest_bytes(uint64_t addr, size_t len) const {
  const uint64_t page = tree_->layout.page_size;
  for (uint32_t p = 0; p < kGuestPages; p++) {
    const uint64_t a = guest_addr(static_cast<UmlGuestPage>(p));
    if (addr >= a && addr + len <= a + page) return guest_map_ + p * page + (addr - a);
  }
  return nullptr;
}

template <class T>
void UmlDriver::put(const uml::Field& f, T v) const {
  // Members of the tree's structs are written at their own width.
  switch (f.size) {
    case 1:
      *data_field(f) = static_cast<uint8_t>(v);
      break;
    case 2: {
      const auto w = static_cast<uint16_t>(v);
      std::memcpy(data_field(f), &w, 2);
      break;
    }
    case 4: {
      const auto w = static_cast<uint32_t>(v);
      __atomic_store_n(reinterpret_cast<uint32_t*>(data_field(f)), w, __ATOMIC_RELEASE);
      break;
    }
    default: {
      const auto w = static_cast<uint64_t>(v);
      std::memcpy(data_field(f), &w, 8);
    }
  }
}

uint64_t UmlDriver::get(const uml::Field& f) const {
  uint64_t v = 0;
  switch (f.size) {
    case 2: {
      uint16_t w;
      std::memcpy(&w, data_field(f), 2);
      return w;
    }
    case 4:
      return __atomic_load_n(reinterpret_cast<const uint32_t*>(data_field(f)), __ATOMIC_ACQUIRE);
    default:
      std::memcpy(&v, data_field(f), std::min<uint32_t>(f.size, 8));
      return v;
  }
}

uint8_t* UmlDriver::mcontext() const {
  return data_ + tree_->layout.data.sigstack.offset + get(tree_->layout.data.mctx_offset);
}

const uint8_t* UmlDriver::siginfo() const {
  return data_ + tree_->layout.data.sigstack.offset + get(tree_->layout.data.si_offset);
}

Status UmlDriver::prepare() {
  const uml::Layout& l = tree_->layout;
  const size_t page = l.page_size;
  auto phys = kernel::memfd_create("uml-physmem", MFD_CLOEXEC);
  if (!phys) return phys.error();
  phys_ = std::move(*phys);
  auto map = map_shared(phys_.get(), page * (1 + l.data_pages), "mmap(uml physmem)");
  if (!map) return map.error();
  phys_map_ = *map;
  std::memcpy(phys_map_, tree_->page.data(), std::min(page, tree_->page.size()));
  data_ = phys_map_ + page;
  put(l.data.futex, l.futex_in_child);

  auto guest = kernel::memfd_create("uml-guest", MFD_CLOEXEC);
  if (!guest) return guest.error();
  guest_ = std::move(*guest);
  auto gmap = map_shared(guest_.get(), page * kGuestPages, "mmap(uml guest pages)");
  if (!gmap) return gmap.error();
  guest_map_ = *gmap;
  // syscall; int3 -- int $0x80; int3 -- jmp .
  const uint8_t code[] = {0x0f, 0x05, 0xcc, 0x90, 0xcd, 0x80, 0xcc, 0x90, 0xeb, 0xfe};
  std::memcpy(guest_map_ + kGuestCode * page, code, sizeof(code));

  stub_data& m = *mirror_;
  m.state = STUB_STATE_READY;
  m.outside_gate[STUB_ABI_X86_64] = guest_addr(kGuestCode) + kGateX86;
  m.outside_gate[STUB_ABI_I386] = guest_addr(kGuestCode) + kGateI386;
  m.outside_spin = guest_addr(kGuestCode) + kSpin;
  for (const uml::PageSite& s : tree_->sites) {
    const uint64_t a = layout_.stub_start + s.offset;
    if (s.i386) {
      if (!m.stub_gate[STUB_ABI_I386]) m.stub_gate[STUB_ABI_I386] = a;
      continue;
    }
    if (s.function == "stub_signal_restorer") m.restorer_syscall = a;
    // The fuzzer's sites: those whose call's result the driver can read.
    if (!s.keeps_result) continue;
    if (!m.stub_gate[STUB_ABI_X86_64]) m.stub_gate[STUB_ABI_X86_64] = a;
    if (m.nstub_sites < std::size(m.stub_sites)) m.stub_sites[m.nstub_sites++] = a;
  }
  m.narenas = 3;
  for (uint32_t i = 0; i < 3; i++)
    m.arenas[i] = {guest_addr(static_cast<UmlGuestPage>(kGuestBelow + i)), page};
  m.current = STUB_MAX_RECORDS;
  m.current2 = STUB_MAX_RECORDS;
  return {};
}

std::vector<uint8_t> UmlDriver::init_data() const {
  const uml::Layout& l = tree_->layout;
  std::vector<uint8_t> out(l.init.size, 0);
  auto set = [&](const uml::Field& f, uint64_t v) {
    std::memcpy(out.data() + f.offset, &v, std::min<uint32_t>(f.size, 8));
  };
  set(l.init.seccomp, 1);
  set(l.init.stub_start, layout_.stub_start);
  // Both from the one "physical memory" fd, at fd 1 in the child.
  set(l.init.stub_code_fd, STUB_DATA_FD);
  set(l.init.stub_code_offset, 0);
  set(l.init.stub_data_fd, STUB_DATA_FD);
  set(l.init.stub_data_offset, l.page_size);
  set(l.init.signal_handler, layout_.stub_start + tree_->handler_offset);
  set(l.init.signal_restorer, layout_.stub_start + tree_->restorer_offset);
  return out;
}

UmlDriver::Wait UmlDriver::wait_report(milliseconds bound) {
  const uml::Layout& l = tree_->layout;
  const auto* word = reinterpret_cast<const uint32_t*>(data_field(l.data.futex));
  const auto deadline = bound.count() ? Clock::now() + bound : Clock::time_point::max();
  // Records report in microseconds; a stub that died does not wake us (it
  // has no robust futex), so the slices start short.
  std::chrono::microseconds slice{50};
  for (;;) {
    if (__atomic_load_n(word, __ATOMIC_ACQUIRE) == l.futex_in_kern) return Wait::kReported;
    if (stop_.load()) return Wait::kStopped;
    pollfd p{pidfd_, POLLIN, 0};
    if (poll(&p, 1, 0) > 0) return Wait::kDied;
    if (Clock::now() >= deadline) return Wait::kTimedOut;
    (void)kernel::futex_wait(word, l.futex_in_child, slice);
    slice = std::min(slice * 2, std::chrono::microseconds(10000));
  }
}

UmlDriver::Wait UmlDriver::resume(milliseconds bound) {
  const uml::Layout& l = tree_->layout;
  put(l.data.signal, 0);
  put(l.data.futex, l.futex_in_child);
  kernel::futex_wake(reinterpret_cast<uint32_t*>(data_field(l.data.futex)), 1);
  return wait_report(bound);
}

Status UmlDriver::start(pid_t pid, int pidfd, int sock, milliseconds bound) {
  pid_ = pid;
  pidfd_ = pidfd;
  sock_ = sock;
  const uml::Layout& l = tree_->layout;
  const Wait w = wait_report(kernel::paced(bound));
  if (w == Wait::kDied) {
    siginfo_t si{};
    // Peek at the exit without reaping it: the handle reaps.
    if (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED | WNOWAIT) ==
            0 &&
        si.si_code == CLD_EXITED)
      return Error{"UML's stub_exe exited during init with code " + std::to_string(si.si_status) +
                       ": " + uml::init_step(si.si_status),
                   ECHILD};
    return Error{"UML's stub_exe died during init (" + std::string(strsignal(si.si_status)) + ")",
                 ECHILD};
  }
  if (w == Wait::kTimedOut)
    return Error{"UML's stub_exe did not report its first SIGSYS within " +
                     std::to_string(kernel::paced(bound).count()) + " ms (a layout mismatch?)",
                 ETIMEDOUT};
  if (const auto sig = get(l.data.signal); sig != SIGSYS)
    return Error{"UML's stub_exe reported signal " + std::to_string(sig) + " first, not SIGSYS",
                 EPROTO};
  if (get(l.data.mctx_offset) + sizeof(sigcontext) > l.data.sigstack.size ||
      get(l.data.si_offset) + sizeof(siginfo_t) > l.data.sigstack.size)
    return Error{"UML's stub reported a signal frame outside its signal stack", EPROTO};
  if (auto s = map_guest_pages(kernel::paced(bound)); !s) return s;
  stub_data& m = *mirror_;
  m.stub_tid = static_cast<uint32_t>(pid);
  m.alive = m.stub_tid | FUTEX_WAITERS;
  return {};
}

// Not at spawn: a pool's thread, in the sandbox's pid namespace, can start
// no threads; the first post comes from the monitor's.
void UmlDriver::ensure_running() {
  if (!thread_.joinable()) thread_ = std::thread(&UmlDriver::run, this);
}

// The guest pages, mapped by the stub itself from the memfd passed over its
// socket; restart_wait makes it report again instead of returning.
Status UmlDriver::map_guest_pages(milliseconds bound) {
  const uml::Layout& l = tree_->layout;
  if (l.syscall_data_entries() < kGuestPages || l.max_fds < 1)
    return Error{"UML's stub_data has room for fewer mmap requests than stubfuzz needs", EINVAL};
  for (uint32_t p = 0; p < kGuestPages; p++) {
    uint8_t* e = data_ + l.data.syscall_data.offset + p * l.call.size;
    auto field = [&](const uml::Field& f, uint64_t v) {
      std::memcpy(e + f.offset, &v, std::min<uint32_t>(f.size, 8));
    };
    const int prot = p == kGuestCode                          ? PROT_READ | PROT_EXEC
                     : p == kGuestScratch || p == kGuestStack ? PROT_READ | PROT_WRITE
                                                              : PROT_READ | PROT_WRITE | PROT_EXEC;
    field(l.call.addr, guest_addr(static_cast<UmlGuestPage>(p)));
    field(l.call.length, l.page_size);
    field(l.call.offset, uint64_t{p} * l.page_size);
    field(l.call.fd, 0);  // the first fd of the message
    field(l.call.prot, static_cast<uint64_t>(prot));
    field(l.call.syscall, l.call.mmap);
  }
  put(l.data.syscall_data_len, kGuestPages);
  put(l.data.restart_wait, 1);
  const uint8_t byte = 0;
  const int fd = guest_.get();
  if (auto s = kernel::send_fds(sock_, {&byte, 1}, {&fd, 1}); !s) return s;
  const Wait w = resume(bound);
  if (w != Wait::kReported)
    return Error{"UML's stub did not answer its first mmap batch",
                 w == Wait::kDied ? ECHILD : ETIMEDOUT};
  if (const auto err = static_cast<int64_t>(get(l.data.err)); err != 0)
    return Error{"UML's stub failed its mmap batch at request " +
                     std::to_string(get(l.data.syscall_data_len)) + ": " +
                     strerror(static_cast<int>(-err)),
                 static_cast<int>(-err)};
  return {};
}

void UmlDriver::stop() {
  stop_ = true;
  kernel::futex_wake(&mirror_->sync, INT_MAX);
  if (thread_.joinable()) thread_.join();
}

Status UmlDriver::write_scratch(std::span<const uint8_t> bytes, size_t offset) {
  std::memcpy(guest_map_ + kGuestScratch * tree_->layout.page_size + offset, bytes.data(),
              bytes.size());
  return {};
}

void UmlDriver::died() {
  stub_data& m = *mirror_;
  __atomic_or_fetch(&m.alive, FUTEX_OWNER_DIED, __ATOMIC_RELEASE);
  __atomic_or_fetch(&m.sync, FUTEX_OWNER_DIED, __ATOMIC_RELEASE);
  kernel::futex_wake(&m.sync, INT_MAX);
}

// The command protocol of stub_abi.h, played for the monitor: a posted batch
// runs record by record, `current` moves, `sync` is cleared at the end.
void UmlDriver::run() {
  stub_data& m = *mirror_;
  while (!stop_.load()) {
    const uint32_t v = __atomic_load_n(&m.sync, __ATOMIC_ACQUIRE);
    if (v == 0) {
      (void)kernel::futex_wait(&m.sync, 0, milliseconds(50));
      continue;
    }
    const uint32_t n = std::min<uint32_t>(m.nrecords, STUB_MAX_RECORDS);
    for (uint32_t i = 0; i < n; i++) {
      __atomic_store_n(&m.current, i, __ATOMIC_RELEASE);
      if (!run_record(i)) {
        if (!stop_.load()) died();
        return;
      }
    }
    __atomic_store_n(&m.current, STUB_MAX_RECORDS, __ATOMIC_RELEASE);
    m.batches++;
    __atomic_store_n(&m.sync, 0, __ATOMIC_RELEASE);
    kernel::futex_wake(&m.sync, INT_MAX);
  }
}

bool UmlDriver::run_record(uint32_t i) {
  stub_data& m = *mirror_;
  const stub_record r = m.records[i];
  stub_result& res = m.results[i];
  res = stub_result{};
  const bool spin = r.abi == STUB_ABI_SPIN, i386 = r.abi == STUB_ABI_I386;
  uint64_t rip = 0;
  bool step = false;  // the instruction after the call is not ours: single-step
  auto refuse = [&] {
    res.status = STUB_RESULT_BAD_RECORD;
    return true;
  };
  if (r.thread != 0 || r.abi > STUB_ABI_SPIN) return refuse();  // one thread only
  switch (r.origin) {
    case STUB_ORIGIN_STUB:
      if (spin) {
        rip = m.outside_spin;
      } else {
        rip = insn_addr(r, m);
        step = true;
      }
      if (!rip) return refuse();  // no int $0x80 in the page
      break;
    case STUB_ORIGIN_OUTSIDE:
      rip = spin ? m.outside_spin : m.outside_gate[i386 ? STUB_ABI_I386 : STUB_ABI_X86_64];
      break;
    case STUB_ORIGIN_ADDRESS: {
      const uint8_t x86[] = {0x0f, 0x05, 0xcc}, ia32[] = {0xcd, 0x80, 0xcc},
                    jmp_self[] = {0xeb, 0xfe};
      const uint8_t* code = spin ? jmp_self : i386 ? ia32 : x86;
      const size_t len = spin ? 2 : 3;
      if (uint8_t* at = guest_bytes(r.addr, len)) {
        std::memcpy(at, code, len);
      } else if (uint8_t* end = guest_bytes(r.addr, 2);
                 end && r.addr + 2 == layout_.stub_start && !spin) {
        // Ends exactly at the stub page: what follows is the page's first
        // instruction.
        std::memcpy(end, code, 2);
        step = true;
      } else {
        return refuse();
      }
      rip = r.addr;
      break;
    }
    default:
      return refuse();
  }
  res.status = STUB_RESULT_RUNNING;
  auto* sc = reinterpret_cast<sigcontext*>(mcontext());
  const uint64_t* a = r.args;
  sc->r8 = i386 ? 0 : a[4];
  sc->r9 = i386 ? 0 : a[5];
  sc->r10 = i386 ? 0 : a[3];
  sc->r11 = sc->r12 = sc->r13 = sc->r14 = sc->r15 = 0;
  sc->rdi = i386 ? a[4] : a[0];
  sc->rsi = i386 ? a[3] : a[1];
  sc->rdx = a[2];
  sc->rbx = i386 ? a[0] : 0;
  sc->rcx = i386 ? a[1] : 0;
  sc->rbp = i386 ? a[5] : 0;
  sc->rax = r.nr;
  sc->rsp = guest_addr(kGuestStack) + tree_->layout.page_size - 256;
  sc->rip = rip;
  sc->eflags = (sc->eflags & ~(kFlagTrap | kFlagDirection)) | (step ? kFlagTrap : 0);
  const Wait w = resume(milliseconds(0));
  if (w != Wait::kReported) return false;
  const auto sig = static_cast<int>(get(tree_->layout.data.signal));
  if ((sig == SIGSEGV || sig == SIGBUS || sig == SIGILL) && sc->rip == rip) {
    // The record's own instruction is gone (an earlier record unmapped its
    // page): the stub cannot run it, as stubfuzz's own would die.
    (void)kernel::pidfd_send_signal(pidfd_, SIGKILL);
    return false;
  }
  res.status = STUB_RESULT_DONE;
  res.ret = static_cast<int64_t>(sc->rax);
  if (sig == SIGSYS) {
    siginfo_t si;
    std::memcpy(&si, siginfo(), sizeof(si));
    res.trapped = 1;
    res.trap_count = 1;
    res.trap_call_addr = reinterpret_cast<uint64_t>(si.si_call_addr);
    res.trap_syscall = si.si_syscall;
    res.trap_arch = si.si_arch;
    res.trap_errno = si.si_errno;
  }
  return true;
}

Result<Stub> Stub::spawn_uml(const StubConfig& config) {
  const std::shared_ptr<const uml::Tree>& tree = config.uml;
  auto image = uml_stub_exe_image(tree->stub_exe);
  if (!image) return image.error();
  Stub stub;
  stub.layout_ = uml_layout(*tree, config.layout);
  auto driver = std::make_unique<UmlDriver>(tree, stub.layout_);
  if (auto s = driver->prepare(); !s) return s.error();
  int socks[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socks) < 0)
    return Error::from_errno("socketpair(AF_UNIX)");
  stub.sock_.reset(socks[0]);
  Fd stub_sock(socks[1]);
  // Written before the clone: the socket buffer holds it until stub_exe reads.
  const std::vector<uint8_t> init = driver->init_data();
  if (send(stub.sock_.get(), init.data(), init.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(init.size()))
    return Error::from_errno("send(UML stub init data)");

  // UML's child: the socket at fd 0, the physmem memfd at fd 1 (stub_exe
  // maps both pages from it, then closes it).
  if (auto s = stub.start_child(config, *image, stub_sock.get(), driver->phys_fd(), "uml-userspace",
                                [](int64_t SpawnPhases::*) {});
      !s)
    return s.error();
  stub_sock.reset();
  if (auto s = driver->start(stub.pid_, stub.pidfd_.get(), stub.sock_.get(), config.ready_timeout);
      !s)
    return s.error();
  // Where the tree's stub creates a listener (patch 1/7), it is fd 1.
  const bool has_listener = stub.fd_target(kStubListenerFd).find("seccomp") != std::string::npos;
  if (has_listener != tree->new_listener)
    return Error{std::string("the tree's stub_exe.c ") +
                     (tree->new_listener ? "asks for" : "does not ask for") +
                     " a listener, but fd 1 of the running stub is " +
                     (has_listener ? "one" : "'" + stub.fd_target(kStubListenerFd) + "'"),
                 EPROTO};
  driver->mirror()->seccomp_ret = has_listener ? kStubListenerFd : 0;
  if (has_listener && config.pull_listener) {
    auto fd = kernel::pidfd_getfd(stub.pidfd_.get(), kStubListenerFd, stub.pid_);
    if (!fd) return fd.error();
    auto listener = kernel::Listener::adopt(std::move(*fd));
    if (!listener) return listener.error();
    stub.listener_.emplace(std::move(*listener));
  }
  stub.data_ = driver->mirror();
  stub.uml_ = std::move(driver);
  return stub;
}

void Stub::release_uml() { uml_.reset(); }

bool Stub::awaits_driver() const { return uml_ && uml_->stub_waiting(); }

bool UmlDriver::stub_waiting() const {
  const uml::Layout& l = tree_->layout;
  return __atomic_load_n(&mirror_->sync, __ATOMIC_ACQUIRE) != 0 &&
         __atomic_load_n(reinterpret_cast<const uint32_t*>(data_field(l.data.futex)),
                         __ATOMIC_ACQUIRE) == l.futex_in_kern;
}

Status Stub::uml_write_scratch(std::span<const uint8_t> bytes, size_t offset) {
  return uml_->write_scratch(bytes, offset);
}

}  // namespace stubfuzz
