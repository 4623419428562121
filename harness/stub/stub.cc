#include "stub/stub.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "kernel/facts.h"
#include "kernel/proc.h"
#include "stub/child_fds.h"
#include "stub/spawn_child.h"
#include "stub/spawn_slots.h"
#include "stub/stub_image.h"
#include "stub/uml_stub.h"

namespace stubfuzz {

namespace {

using kernel::Clock;

Status send_all(int fd, const void* buf, size_t len) {
  auto* p = static_cast<const char*>(buf);
  while (len) {
    ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0) return Error::from_errno("send(stub init data)");
    p += n;
    len -= static_cast<size_t>(n);
  }
  return {};
}

const char* init_error_name(int e) {
  switch (e) {
    case STUB_INIT_READ:
      return "reading init data";
    case STUB_INIT_BAD_MAGIC:
      return "bad init data";
    case STUB_INIT_MAP_DATA:
      return "mapping the data pages";
    case STUB_INIT_MAP_CODE:
      return "mapping the stub page";
    case STUB_INIT_MAP_ARENA:
      return "mapping a guest arena";
    case STUB_INIT_CLOSE_RANGE:
      return "close_range";
    case STUB_INIT_SIGACTION:
      return "installing the SIGSYS handler";
    case STUB_INIT_PRCTL:
      return "prctl";
    case STUB_INIT_ROBUST:
      return "set_robust_list";
    case STUB_INIT_SAFETY_NET:
      return "seccomp(safety net)";
    case STUB_INIT_SECCOMP:
      return "seccomp(SECCOMP_SET_MODE_FILTER)";
    case STUB_INIT_THREAD:
      return "starting the second thread";
    default:
      return "unknown step";
  }
}

}  // namespace

uint64_t StubLayout::scratch() const {
  return scratch_addr ? scratch_addr : data_start() + offsetof(stub_data, scratch);
}

Status Stub::prepare(const StubConfig& config) {
  if (auto image = config.uml ? uml_stub_exe_image(config.uml->stub_exe) : stub_image_fd(); !image)
    return image.error();
  if (auto sandbox = sandbox_child(config.sandbox); !sandbox) return sandbox.error();
  if (auto slots = SpawnSlots::get(); !slots) return slots.error();
  return {};
}

namespace {

Status check_config(const StubConfig& config) {
  if (config.safety_net.size() > STUB_MAX_NET_LEN) return Error{"safety net too long", EINVAL};
  // Without TSYNC the filter under test would not cover the second thread.
  if (config.second_thread && config.install_filter &&
      !(config.seccomp_flags & SECCOMP_FILTER_FLAG_TSYNC))
    return Error{"a stub with a second thread needs SECCOMP_FILTER_FLAG_TSYNC", EINVAL};
  if (config.filter.size() > STUB_MAX_FILTER_LEN)
    return Error{"filter has " + std::to_string(config.filter.size()) +
                     " instructions; the kernel takes at most 4096",
                 EINVAL};
  return {};
}

// The init data, the safety net (unless `with_net` is false: a factory
// child has its template's) and the filter: the socket buffer holds all of
// it until the stub reads.
Status send_init(int sock, const StubConfig& config, bool with_net) {
  const StubLayout& l = config.layout;
  const size_t net_len = with_net ? config.safety_net.size() : 0;
  stub_init_data init{};
  init.magic = STUB_INIT_MAGIC;
  init.filter_len = static_cast<uint32_t>(config.filter.size());
  init.net_len = static_cast<uint32_t>(net_len);
  init.stub_start = l.stub_start;
  init.seccomp_flags = config.seccomp_flags;
  init.install_filter = config.install_filter ? 1 : 0;
  init.second_thread = config.second_thread ? 1 : 0;
  init.mode = config.factory_template ? STUB_MODE_TEMPLATE : STUB_MODE_STUB;
  init.narenas = 3;
  init.arenas[0] = {l.page_below(), STUB_PAGE_SIZE};
  init.arenas[1] = {l.page_above(), STUB_PAGE_SIZE};
  init.arenas[2] = {l.alias_page(), STUB_PAGE_SIZE};
  if (auto s = send_all(sock, &init, sizeof(init)); !s) return s;
  if (auto s = send_all(sock, config.safety_net.data(), net_len * sizeof(sock_filter)); !s)
    return s;
  return send_all(sock, config.filter.data(), config.filter.size() * sizeof(sock_filter));
}

}  // namespace

Result<Stub> Stub::spawn(const StubConfig& config) {
  if (config.uml) return spawn_uml(config);
  if (auto c = check_config(config); !c) return c.error();
  auto image = stub_image_fd();
  if (!image) return image.error();

  Stub stub;
  stub.layout_ = config.layout;
  const auto t0 = Clock::now();
  auto mark = [&](int64_t SpawnPhases::*field) {
    if (config.phases) config.phases->*field = (Clock::now() - t0).count();
  };

  auto fds = stub.prepare_pages_and_socket(config);
  if (!fds) return fds.error();
  auto& [data_fd, stub_sock] = *fds;
  mark(&SpawnPhases::setup_done);

  if (auto s =
          stub.start_child(config, *image, stub_sock.get(), data_fd.get(), "stubfuzz-stub", mark);
      !s)
    return s.error();
  if (auto s = stub.await_ready(config); !s) return s.error();
  mark(&SpawnPhases::stub_ready);
  if (auto s = stub.take_over(config); !s) return s.error();
  mark(&SpawnPhases::listener_pulled);
  return stub;
}

Result<Stub> Stub::fork_from(Stub& template_stub, const StubConfig& config) {
  if (auto c = check_config(config); !c) return c.error();
  if (config.layout.stub_start != template_stub.layout_.stub_start)
    return Error{"a factory stub must have its template's layout", EINVAL};
  Stub stub;
  stub.layout_ = config.layout;
  const auto t0 = Clock::now();
  auto mark = [&](int64_t SpawnPhases::*field) {
    if (config.phases) config.phases->*field = (Clock::now() - t0).count();
  };
  // The safety net came with the template: the child installs the filter.
  auto fds = stub.prepare_pages_and_socket(config, /*with_net=*/false);
  if (!fds) return fds.error();
  mark(&SpawnPhases::setup_done);
  // The template forks a child that takes these two fds (stub_abi.h,
  // STUB_MODE_TEMPLATE) and answers with its pidfd.
  const int pass[2] = {fds->second.get(), fds->first.get()};
  const uint8_t request = 1;
  if (auto s = kernel::send_fds(template_stub.sock_.get(), {&request, 1}, pass); !s)
    return Error{"stub factory: the template is gone (" + s.error().message + ")", EPIPE};
  fds->second.reset();
  fds->first.reset();
  int32_t err = 0;
  const auto bound = kernel::paced(config.ready_timeout);
  auto pidfd = kernel::recv_with_fd(template_stub.sock_.get(), &err, sizeof(err), bound);
  if (!pidfd && pidfd.error().err == ETIMEDOUT) {
    // A late answer would be taken for the next request's, and its child
    // (ours, by CLONE_PARENT) would stay a zombie: wait once more for it,
    // end the child, and have the factory start another template.
    int32_t late = 0;
    if (auto again = kernel::recv_with_fd(template_stub.sock_.get(), &late, sizeof(late), bound);
        again && again->has_value()) {
      (void)kernel::pidfd_send_signal((*again)->get(), SIGKILL);
      (void)kernel::reap((*again)->get(), kReapTimeout);
    }
    return Error{
        "stub factory: the template did not answer within " + std::to_string(bound.count()) + " ms",
        EPIPE};
  }
  // Anything else means the template has gone (EPIPE: the factory starts
  // another).
  if (!pidfd) return Error{"stub factory: " + pidfd.error().message, EPIPE};
  if (err < 0 || !pidfd->has_value())
    return Error::from_errno("stub factory: clone(CLONE_PARENT) in the template", -err);
  auto pid = kernel::pidfd_pid((*pidfd)->get());
  if (!pid) return pid.error();
  stub.pid_ = *pid;
  stub.pidfd_ = std::move(**pidfd);
  mark(&SpawnPhases::clone_returned);
  mark(&SpawnPhases::pidfd_opened);
  if (auto s = stub.await_ready(config); !s) return s.error();
  mark(&SpawnPhases::stub_ready);
  if (auto s = stub.take_over(config); !s) return s.error();
  mark(&SpawnPhases::listener_pulled);
  return stub;
}

Result<std::pair<Fd, Fd>> Stub::prepare_pages_and_socket(const StubConfig& config, bool with_net) {
  auto data_fd = kernel::memfd_create("stubfuzz-data", MFD_CLOEXEC);
  if (!data_fd) return data_fd.error();
  if (ftruncate(data_fd->get(), STUB_DATA_PAGES * STUB_PAGE_SIZE) < 0)
    return Error::from_errno("ftruncate(stub data memfd)");
  void* data = mmap(nullptr, STUB_DATA_PAGES * STUB_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                    data_fd->get(), 0);
  if (data == MAP_FAILED) return Error::from_errno("mmap(stub data memfd)");
  data_ = static_cast<stub_data*>(data);
  data_->sync = STUB_SYNC_BOOTING;
  int socks[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, socks) < 0)
    return Error::from_errno("socketpair(AF_UNIX)");
  sock_.reset(socks[0]);
  Fd stub_sock(socks[1]);
  if (auto s = send_init(sock_.get(), config, with_net); !s) return s.error();
  return std::pair<Fd, Fd>(std::move(*data_fd), std::move(stub_sock));
}

// The UML way: clone(CLONE_VM|CLONE_VFORK) into the sandbox, execveat of the
// sealed image; then a pidfd, unless clone made one.
Status Stub::start_child(const StubConfig& config, int image, int stub_sock, int data_fd,
                         const char* name, const Mark& mark) {
  auto sandbox = sandbox_child(config.sandbox);
  if (!sandbox) return sandbox.error();
  if (auto j = sandbox_join_pid_ns(config.sandbox); !j) return j.error();
  SandboxChild child = *sandbox;
  // RLIMIT_NPROC 1 would refuse the second thread: the stub sets it itself
  // once the thread runs (stub.c).
  // The factory's template forks every stub: each sets the limit itself.
  if (config.second_thread || config.factory_template)
    for (auto& [resource, limit] : child.limits)
      if (resource == RLIMIT_NPROC) resource = RLIMIT_CORE, limit = {0, 0};
  ChildArgs args{image, stub_sock, data_fd, &child, name, 0};
  alignas(16) char child_stack[16384];
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | sandbox->clone_flags;
  int pidfd = -1;
  if (config.spawn == SpawnMethod::kClonePidfd) flags |= CLONE_PIDFD;
  // The child's fds from low slots, not a copy of the whole table; without
  // slots (no fds left to reserve them) the clone copies it as before.
  SpawnSlots* slots = nullptr;
  std::unique_lock<std::mutex> held;
  // The monitor must not keep the stub's socket end (its EOF) or data.
  auto let_go = [&] {
    (void)slots->place(SpawnSlots::kSocket, -1);
    (void)slots->place(SpawnSlots::kData, -1);
  };
  if (auto got = SpawnSlots::get(); got) {
    slots = *got;
    held = std::unique_lock(slots->lock());
    Status placed = slots->place(SpawnSlots::kImage, image);
    if (placed) placed = slots->place(SpawnSlots::kSocket, stub_sock);
    if (placed) placed = slots->place(SpawnSlots::kData, data_fd);
    for (size_t i = 0; placed && i < child.ns_fds.size(); i++) {
      const int slot = SpawnSlots::kFirstNamespace + static_cast<int>(i);
      if (child.ns_fds[i] < 0) continue;
      placed = slots->place(slot, child.ns_fds[i]);
      child.ns_fds[i] = slots->fd(slot);
    }
    if (!placed) {
      let_go();
      return placed.error();
    }
    args.image_fd = slots->fd(SpawnSlots::kImage);
    args.sock_fd = slots->fd(SpawnSlots::kSocket);
    args.data_fd = slots->fd(SpawnSlots::kData);
    args.keep_below = slots->end();
    flags |= CLONE_FILES;
  }
  pid_ = clone(spawn_child, child_stack + sizeof(child_stack), flags, &args, &pidfd);
  if (slots) {
    let_go();
    held.unlock();
  }
  if (pid_ < 0)
    return Error::from_errno(config.sandbox.enabled ? "clone(CLONE_VM|CLONE_VFORK|CLONE_NEW*)"
                                                    : "clone(CLONE_VM|CLONE_VFORK)");
  mark(&SpawnPhases::clone_returned);
  if (config.spawn == SpawnMethod::kClonePidfd) {
    pidfd_.reset(pidfd);
  } else {
    auto p = kernel::pidfd_open(pid_);
    if (!p) return p.error();  // the child is reaped by ~Stub only with a pidfd
    pidfd_ = std::move(*p);
  }
  mark(&SpawnPhases::pidfd_opened);
  if (args.failed_errno) {
    (void)wait_exit(kReapTimeout);
    return Error::from_errno("stub child: sandbox or execveat(stub memfd)", args.failed_errno);
  }
  return {};
}

// Until the stub's command loop runs (it clears `sync`); a failed init names
// its step.
Status Stub::await_ready(const StubConfig& config) {
  const auto bound = kernel::paced(config.ready_timeout);
  const auto deadline = Clock::now() + bound;
  for (;;) {
    const uint32_t v = __atomic_load_n(&data_->sync, __ATOMIC_ACQUIRE);
    if (v == 0) return {};
    auto reaped = wait_exit(milliseconds(0));
    if ((v & FUTEX_OWNER_DIED) || (reaped && *reaped)) break;
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero())
      return Error{"stub pid " + std::to_string(pid_) + " not ready within " +
                       std::to_string(bound.count()) + " ms",
                   ETIMEDOUT};
    (void)kernel::futex_wait(&data_->sync, v, std::min<Clock::duration>(left, kLivenessSlice));
  }
  (void)wait_exit(kReapTimeout);
  const int step = data_->init_error;
  if (step == STUB_INIT_SECCOMP) {
    const int e = static_cast<int>(-data_->seccomp_ret);
    return Error{std::string("stub init: seccomp(SECCOMP_SET_MODE_FILTER): ") + errno_name(e), e};
  }
  return Error{std::string("stub init failed: ") + init_error_name(step) + " (" +
                   (exit_ ? kernel::describe(*exit_) : "not reaped") + ")",
               0};
}

// The stub page laid out as stub_abi.h says, and the seed's hand-over: the
// listener at fd 1, pulled with pidfd_getfd.
Status Stub::take_over(const StubConfig& config) {
  const StubLayout& l = config.layout;
  // Hardened filters allow exact instruction addresses: the build must lay
  // out the stub page as stub_abi.h says.
  if (data_->stub_gate[STUB_ABI_X86_64] != l.stub_start + STUB_GATE_X86_64_OFFSET ||
      data_->stub_gate[STUB_ABI_I386] != l.stub_start + STUB_GATE_I386_OFFSET ||
      data_->restorer_syscall != l.stub_start + STUB_RESTORER_SYSCALL_OFFSET)
    return Error{"the stub page's syscall instructions are not where stub_abi.h puts them", 0};
  if (!config.install_filter || !(config.seccomp_flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) ||
      !config.pull_listener)
    return {};
  // The stub reports the number; the seed assumes it. Both must agree.
  if (seccomp_ret() != kStubListenerFd)
    return Error{"stub reports its listener at fd " + std::to_string(seccomp_ret()) +
                     ", the seed expects fd 1",
                 0};
  auto fd = kernel::pidfd_getfd(pidfd_.get(), kStubListenerFd, pid_);
  if (!fd) return fd.error();
  auto listener = kernel::Listener::adopt(std::move(*fd));
  if (!listener) return listener.error();
  listener_.emplace(std::move(*listener));
  return {};
}

Stub::Stub(Stub&& o) noexcept { *this = std::move(o); }

Stub& Stub::operator=(Stub&& o) noexcept {
  if (this == &o) return *this;
  release();
  pid_ = std::exchange(o.pid_, -1);
  pidfd_ = std::move(o.pidfd_);
  sock_ = std::move(o.sock_);
  data_ = std::exchange(o.data_, nullptr);
  layout_ = o.layout_;
  listener_ = std::move(o.listener_);
  o.listener_.reset();
  exit_ = std::exchange(o.exit_, std::nullopt);
  second_started_ = o.second_started_.load();
  uml_ = std::move(o.uml_);
  arenas_written_ = std::exchange(o.arenas_written_, 0);
  return *this;
}

Stub::~Stub() { release(); }

void Stub::release() {
  if (pidfd_.valid() && !exit_) (void)kill();
  if (uml_) {
    release_uml();
    data_ = nullptr;
  }
  if (data_) munmap(data_, STUB_DATA_PAGES * STUB_PAGE_SIZE);
  data_ = nullptr;
  listener_.reset();
  pidfd_.reset();
  sock_.reset();
}

std::optional<kernel::Listener> Stub::take_listener() {
  return std::exchange(listener_, std::nullopt);
}

bool Stub::alive_word_ok() const {
  return data_ && !(__atomic_load_n(&data_->alive, __ATOMIC_ACQUIRE) & FUTEX_OWNER_DIED);
}

Status Stub::post(std::span<const stub_record> records, std::chrono::microseconds spin_handoff) {
  if (records.size() > STUB_MAX_RECORDS)
    return Error{"batch of " + std::to_string(records.size()) + " records; at most " +
                     std::to_string(STUB_MAX_RECORDS),
                 EINVAL};
  if (exit_ || !alive_word_ok()) {
    (void)wait_exit(kLivenessSlice);
    return Error{"stub pid " + std::to_string(pid_) + " has ended" +
                     (exit_ ? ": " + kernel::describe(*exit_) : ""),
                 ESRCH};
  }
  if (uml_) uml_->ensure_running();
  const auto n = static_cast<uint32_t>(records.size());
  arenas_written_ |= arenas_written_by(records);
  // An empty batch (a reset's refill alone) has no records to copy.
  if (!records.empty()) std::memcpy(data_->records, records.data(), records.size_bytes());
  std::memset(data_->results, 0, n * sizeof(stub_result));
  data_->nrecords = n;
  // No record running yet in either thread (the stub sets each as it starts).
  __atomic_store_n(&data_->current, STUB_MAX_RECORDS, __ATOMIC_RELAXED);
  __atomic_store_n(&data_->current2, STUB_MAX_RECORDS, __ATOMIC_RELAXED);
  second_started_ = false;
  __atomic_store_n(&data_->pending_id, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&data_->spin_handoff_us,
                   static_cast<uint32_t>(std::clamp<int64_t>(spin_handoff.count(), 0, 999999)),
                   __ATOMIC_RELEASE);
  __atomic_store_n(&data_->sync, data_->stub_tid | FUTEX_WAITERS, __ATOMIC_RELEASE);
  kernel::futex_wake(&data_->sync, INT_MAX);
  return {};
}

uint32_t Stub::arenas_written_by(std::span<const stub_record> records) const {
  uint32_t mask = 0;
  for (const stub_record& r : records) {
    if (r.origin != STUB_ORIGIN_ADDRESS) continue;
    // At most 3 bytes from addr (the instruction and a ret), stub_page.c.
    for (uint32_t a = 0; a < data_->narenas && a < STUB_MAX_ARENAS; a++) {
      const stub_arena& arena = data_->arenas[a];
      if (r.addr < arena.addr + arena.len && r.addr + 3 > arena.addr) mask |= 1u << a;
    }
  }
  return mask;
}

Status Stub::reset() {
  if (uml_) return Error{"UML's stub is not reset: its data page is the driver's mirror", ENOTSUP};
  if (!usable()) return Error{"stub pid " + std::to_string(pid_) + " has ended", ESRCH};
  if (__atomic_load_n(&data_->sync, __ATOMIC_ACQUIRE) != 0 ||
      __atomic_load_n(&data_->sync2, __ATOMIC_ACQUIRE) != 0)
    return Error{"stub pid " + std::to_string(pid_) + " is running a batch", EBUSY};
  // As the stub's init left them: zero (the memfd's pages were new).
  std::memset(data_->records, 0, sizeof(data_->records));
  std::memset(data_->results, 0, sizeof(data_->results));
  std::memset(data_->scratch, 0, sizeof(data_->scratch));
  data_->nrecords = 0;
  data_->current = 0;
  data_->current2 = 0;
  data_->batches = 0;
  data_->pending_id = 0;
  data_->spin_handoff_us = 0;
  second_started_ = false;
  __atomic_store_n(&data_->refill_arenas, arenas_written_, __ATOMIC_RELEASE);
  arenas_written_ = 0;
  return {};
}

bool Stub::thread_gone(int thread) const {
  const uint32_t v = __atomic_load_n(done_word(thread), __ATOMIC_ACQUIRE);
  if (exit_ || (v & FUTEX_OWNER_DIED)) return true;
  // The second thread's word is not robust: its tid (CLONE_CHILD_CLEARTID)
  // and the stub's alive word tell.
  return thread &&
         (!alive_word_ok() || __atomic_load_n(&data_->thread2_tid, __ATOMIC_ACQUIRE) == 0);
}

uint64_t Stub::records_progress() const {
  return uint64_t{__atomic_load_n(&data_->current, __ATOMIC_RELAXED)} +
         (uint64_t{__atomic_load_n(&data_->current2, __ATOMIC_RELAXED)} << 8);
}

void Stub::read_results(std::span<stub_result> out) const {
  std::memcpy(out.data(), data_->results,
              std::min<size_t>(out.size(), STUB_MAX_RECORDS) * sizeof(stub_result));
}

bool Stub::has_second_thread() const { return data_ && data_->thread2_stack_hi != 0; }

Status Stub::start_second_thread(uint64_t pending_id) {
  if (!has_second_thread()) return Error{"the stub has no second thread", EINVAL};
  if (second_started_.exchange(true)) return {};
  __atomic_store_n(&data_->pending_id, pending_id, __ATOMIC_RELEASE);
  __atomic_store_n(&data_->sync2, 1, __ATOMIC_RELEASE);
  kernel::futex_wake(&data_->sync2, INT_MAX);
  return {};
}

Status Stub::write_scratch(std::span<const uint8_t> bytes, size_t offset) {
  if (offset > STUB_SCRATCH_SIZE || bytes.size() > STUB_SCRATCH_SIZE - offset)
    return Error{"scratch write past the buffer's " + std::to_string(STUB_SCRATCH_SIZE) + " bytes",
                 EINVAL};
  if (uml_) return uml_write_scratch(bytes, offset);
  std::memcpy(data_->scratch + offset, bytes.data(), bytes.size());
  return {};
}

std::string Stub::fd_target(int fd) const { return kernel::fd_target(pid_, fd); }

Result<kernel::Exit> Stub::kill() {
  if (exit_) return *exit_;
  if (!pidfd_.valid()) return Error{"stub has no pidfd", EBADF};
  if (auto s = kernel::pidfd_send_signal(pidfd_.get(), SIGKILL); !s && s.error().err != ESRCH)
    return s.error();
  auto r = wait_exit(kReapTimeout);
  if (!r) return r.error();
  if (!*r) return Error{"stub pid " + std::to_string(pid_) + " survived SIGKILL", ETIMEDOUT};
  return **r;
}

Result<std::optional<kernel::Exit>> Stub::wait_exit(milliseconds timeout) {
  if (exit_) return exit_;
  auto r = kernel::reap(pidfd_.get(), timeout);
  if (r && r->has_value()) exit_ = **r;
  return r;
}

}  // namespace stubfuzz
