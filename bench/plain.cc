#include "plain.h"

#include <linux/futex.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <stdexcept>

#include "filter/uml_filter.h"
#include "profile/profile.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace stubfuzz::bench {

namespace {

uint64_t profile_flags(const char* name) {
  auto p = find_profile(name);
  if (!p) throw std::runtime_error(p.error().message);
  return (*p)->seccomp_flags;
}

}  // namespace

uint64_t listener_flags() { return profile_flags("listener"); }
uint64_t mainline_flags() { return profile_flags("mainline"); }

filter::Program gadget_filter(const std::vector<uint32_t>& extra) {
  auto allow = filter::uml_stub_allowlist();
  allow.insert(allow.end(), extra.begin(), extra.end());
  return filter::uml_stub_filter(reinterpret_cast<uint64_t>(bench_gadget_page), allow);
}

filter::Program notify_mmap(filter::Program prog) {
  // The allowlist's jeq for mmap jumps to the final ALLOW; point it at a
  // USER_NOTIF appended after it instead, so no other jump moves.
  const auto end = prog.size();
  for (size_t i = 0; i < end; i++) {
    auto& insn = prog[i];
    if (insn.code == (BPF_JMP | BPF_JEQ | BPF_K) && insn.k == SYS_mmap && insn.jt > 0) {
      insn.jt = static_cast<uint8_t>(end - (i + 1));
      prog.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
      return prog;
    }
  }
  throw std::invalid_argument("notify_mmap: no jeq for mmap in the program");
}

MmapArgs mmap_args() {
  return {{kMmapTarget, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
           static_cast<uint64_t>(-1), 0}};
}

SharedPage::SharedPage() {
  int fd = memfd_create("stubfuzz-bench-floor", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, 4096) < 0) throw std::runtime_error("memfd_create");
  mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (mem == MAP_FAILED) throw std::runtime_error("mmap(shared memfd)");
}

SharedPage::~SharedPage() { munmap(mem, 4096); }

void futex_wait(uint32_t* word, uint32_t expected) {
  // The same bounded wait as Stub::wait_sync's slice.
  timespec ts{0, 50'000'000};
  syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake(uint32_t* word) {
  syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

void ping(uint32_t* word) {
  __atomic_store_n(word, 1, __ATOMIC_RELEASE);
  futex_wake(word);
  wait_idle(word);
}

void wait_idle(uint32_t* word) {
  for (uint32_t v; (v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) != 0;) futex_wait(word, v);
}

void pong_loop(uint32_t* word, void (*op)(void*), void* arg) {
  for (;;) {
    __atomic_store_n(word, 0, __ATOMIC_RELEASE);
    bench_gadget(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAKE, INT_MAX);
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == 0)
      bench_gadget(SYS_futex, reinterpret_cast<long>(word), FUTEX_WAIT, 0, 0);
    op(arg);
  }
}

Child::Child(const std::function<void()>& body) {
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork");
  if (pid_ == 0) {
    body();
    _exit(0);
  }
  pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd_ < 0) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    throw std::runtime_error("pidfd_open(child)");
  }
}

void Child::end() {
  if (pidfd_ < 0) return;
  syscall(SYS_pidfd_send_signal, pidfd_, SIGKILL, nullptr, 0);
  wait_exit();
}

int Child::wait_exit() {
  if (pidfd_ < 0) return -1;
  siginfo_t si{};
  while (waitid(static_cast<idtype_t>(P_PIDFD), pidfd_, &si, WEXITED) < 0 && errno == EINTR) {
  }
  close(pidfd_);
  pidfd_ = -1;
  return si.si_status;
}

long install_filter(const filter::Program& prog, unsigned flags) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -errno;
  sock_fprog fprog{static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())};
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);
  return r < 0 ? -errno : r;
}

namespace {

uint32_t* g_sigsys_counter;

void on_sigsys(int, siginfo_t* si, void*) {
  // What the stub's handler keeps: the count and the call's address.
  __atomic_fetch_add(g_sigsys_counter, 1, __ATOMIC_RELAXED);
  g_sigsys_counter[1] = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(si->si_call_addr));
  g_sigsys_counter[2] = static_cast<uint32_t>(si->si_syscall);
}

struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  uint64_t mask;
};

}  // namespace

void install_sigsys_counter(uint32_t* counter) {
  g_sigsys_counter = counter;
  // glibc's sigaction would put its own restorer, outside the gadget page.
  KernelSigaction sa{reinterpret_cast<void*>(on_sigsys), SA_SIGINFO | 0x04000000 /*SA_RESTORER*/,
                     bench_gadget_restorer, ~0ULL};
  if (syscall(SYS_rt_sigaction, SIGSYS, &sa, nullptr, sizeof(sa.mask)) < 0) _exit(120);
}

void Samples::report(benchmark::State& s, const std::string& prefix) {
  if (v_.empty()) return;
  std::sort(v_.begin(), v_.end());
  s.counters[prefix + "p50_ns"] = static_cast<double>(v_[v_.size() / 2]);
  s.counters[prefix + "p90_ns"] = static_cast<double>(v_[v_.size() * 9 / 10]);
}

Answerer::Answerer(std::function<bool()> answer) : answer_(std::move(answer)) {
  thread_ = std::thread([this] {
    while (!stop_.load(std::memory_order_acquire))
      if (answer_()) answered_.fetch_add(1, std::memory_order_relaxed);
    done_.store(true, std::memory_order_release);
  });
}

void Answerer::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true, std::memory_order_release);
  // NOTIF_RECV blocks until a notification comes; SIGUSR1 (no SA_RESTART,
  // see main) breaks it. Repeat: the first may land before the ioctl.
  while (!done_.load(std::memory_order_acquire)) {
    pthread_kill(thread_.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  thread_.join();
}

bool answer_raw(int listener_fd) {
  seccomp_notif n{};
  if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0) return false;
  seccomp_notif_resp r{n.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE};
  return ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_SEND, &r) == 0;
}

double p90_of(const std::vector<double>& v) {
  if (v.empty()) return 0;
  auto c = v;
  std::sort(c.begin(), c.end());
  return c[std::min(c.size() - 1, c.size() * 9 / 10)];
}

void PhaseSums::add(const SpawnPhases& p) {
  ns[0] += p.setup_done;
  ns[1] += p.clone_returned - p.setup_done;
  ns[2] += p.pidfd_opened - p.clone_returned;
  ns[3] += p.stub_ready - p.pidfd_opened;
  ns[4] += p.listener_pulled - p.stub_ready;
}

void PhaseSums::report(benchmark::State& s) const {
  static const char* const names[] = {"setup_ns", "clone_exec_ns", "pidfd_open_ns", "ready_ns",
                                      "getfd_ns"};
  for (int i = 0; i < 5; i++)
    s.counters[names[i]] =
        benchmark::Counter(static_cast<double>(ns[i]), benchmark::Counter::kAvgIterations);
}

}  // namespace stubfuzz::bench
