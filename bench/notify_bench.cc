// Notification round trip: Stub::run of one mmap from the stub page whose
// filter returns USER_NOTIF, answered with CONTINUE by a monitor thread (run
// blocks the caller), with and without SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP;
// the same mmap allowed by the filter, and with no filter. Floors: the same
// ping-pong in a plain forked child under the same filters, and the bare
// notification loop (the child mmaps in a loop, the benchmark answers).
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>

#include "filter/uml_filter.h"
#include "monitor/batch.h"
#include "notify_setup.h"
#include "plain.h"
#include "profile/profile.h"
#include "stub/record.h"

namespace stubfuzz::bench {

namespace {

void mmap_op(void*) {
  const MmapArgs m = mmap_args();
  bench_gadget(SYS_mmap, m.a[0], m.a[1], m.a[2], m.a[3], m.a[4], m.a[5]);
}

struct FloorPage {
  uint32_t word;
  int32_t listener;  // the child's, once installed
};

// The child's filter: none, the UML filter, or with mmap → USER_NOTIF.
filter::Program floor_filter(Mmap mode) {
  return mode == Mmap::kNotified ? notify_mmap(gadget_filter()) : gadget_filter();
}

// Forks a child under `mode`'s filter serving mmap commands; pulls its
// listener into *listener when notified.
std::unique_ptr<Child> floor_child(FloorPage* fp, Mmap mode, int* listener) {
  fp->word = 2;
  fp->listener = -1;
  const auto prog = floor_filter(mode);
  auto child = std::make_unique<Child>([&] {
    if (mode != Mmap::kUnfiltered) {
      long fd = install_filter(prog, static_cast<unsigned>(listener_flags()));
      if (fd < 0) _exit(121);
      fp->listener = static_cast<int32_t>(fd);
    }
    pong_loop(&fp->word, mmap_op, fp);
  });
  wait_idle(&fp->word);
  *listener = -1;
  if (mode == Mmap::kNotified)
    *listener = static_cast<int>(syscall(SYS_pidfd_getfd, child->pidfd(), fp->listener, 0));
  return child;
}

void floor_notify(benchmark::State& s, Mmap mode, bool sync_wake_up) {
  SharedPage page;
  auto* fp = page.as<FloorPage>();
  int listener = -1;
  auto child = floor_child(fp, mode, &listener);
  if (mode == Mmap::kNotified && listener < 0) {
    s.SkipWithError("pidfd_getfd(child listener) failed");
    return;
  }
  if (sync_wake_up &&
      ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0) {
    s.SkipWithError("SECCOMP_IOCTL_NOTIF_SET_FLAGS failed");
    return;
  }
  std::unique_ptr<Answerer> answerer;
  if (listener >= 0) answerer = std::make_unique<Answerer>([=] { return answer_raw(listener); });
  Samples samples(s);
  for (auto _ : s) {
    const auto t0 = Clock::now();
    ping(&fp->word);
    samples.add(since_ns(t0));
  }
  answerer.reset();
  child->end();
  if (listener >= 0) close(listener);
  samples.report(s);
}

// The bare loop: the child mmaps continuously; the benchmark thread answers.
void floor_notify_loop(benchmark::State& s, bool sync_wake_up) {
  SharedPage page;
  auto* fp = page.as<FloorPage>();
  fp->listener = -1;
  const auto prog = notify_mmap(gadget_filter());
  Child child([&] {
    long fd = install_filter(prog, static_cast<unsigned>(listener_flags()));
    if (fd < 0) _exit(121);
    __atomic_store_n(&fp->listener, static_cast<int32_t>(fd), __ATOMIC_RELEASE);
    for (;;) mmap_op(nullptr);
  });
  while (__atomic_load_n(&fp->listener, __ATOMIC_ACQUIRE) < 0) usleep(100);
  const int listener = static_cast<int>(syscall(SYS_pidfd_getfd, child.pidfd(), fp->listener, 0));
  if (listener < 0 || (sync_wake_up && ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                                             SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0)) {
    s.SkipWithError("listener set-up failed");
    return;
  }
  Samples samples(s);
  for (auto _ : s) {
    const auto t0 = Clock::now();
    if (!answer_raw(listener)) s.SkipWithError("NOTIF_RECV/SEND failed");
    samples.add(since_ns(t0));
  }
  child.end();
  close(listener);
  samples.report(s);
}

}  // namespace

NotifiedStub::NotifiedStub(Mmap mode, bool sync_wake_up) {
  StubConfig c = seed_config("listener");
  if (mode == Mmap::kNotified) c.filter = notify_mmap(c.filter);
  if (mode == Mmap::kUnfiltered) c.install_filter = false;
  auto spawned = Stub::spawn(c);
  if (!spawned) {
    error = spawned.error().message;
    return;
  }
  stub.emplace(std::move(*spawned));
  const MmapArgs m = mmap_args();
  record = from_stub(SYS_mmap, {m.a[0], m.a[1], m.a[2], m.a[3], m.a[4], m.a[5]});
  if (mode != Mmap::kNotified) return;
  listener = stub->take_listener();
  if (!listener) {
    error = "the stub has no listener";
    return;
  }
  if (sync_wake_up)
    if (auto st = listener->set_flags(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP); !st) {
      error = st.error().message;
      return;
    }
  kernel::Listener* l = &*listener;
  answerer = std::make_unique<Answerer>([l] {
    auto n = l->receive(std::chrono::milliseconds(100));
    return n && l->send({n->id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE}).ok();
  });
}

bool NotifiedStub::run_mmap() {
  auto out = run_batch(*stub, {record});
  return out && out->end == BatchEnd::kCompleted &&
         out->results[0].ret == static_cast<int64_t>(kMmapTarget);
}

void harness_notify(benchmark::State& s, Mmap mode, bool sync_wake_up) {
  NotifiedStub ns(mode, sync_wake_up);
  if (!ns.error.empty()) {
    s.SkipWithError(ns.error.c_str());
    return;
  }
  Samples samples(s);
  for (auto _ : s) {
    const auto t0 = Clock::now();
    const bool ok = ns.run_mmap();
    samples.add(since_ns(t0));
    if (!ok) {
      s.SkipWithError("mmap record did not map the target page");
      break;
    }
  }
  samples.report(s);
}

void register_notify_benchmarks() {
  const struct {
    const char* suffix;
    Mmap mode;
    bool sync;
  } cases[] = {
      {"sync_wake_up", Mmap::kNotified, true},
      {"plain_wake_up", Mmap::kNotified, false},
      {"mmap_allowed", Mmap::kAllowed, false},
      {"mmap_unfiltered", Mmap::kUnfiltered, false},
  };
  for (const auto& c : cases) {
    reg(std::string("BM_Notify/harness_") + c.suffix, Timing::kReal,
        [=](benchmark::State& s) { harness_notify(s, c.mode, c.sync); });
    reg(std::string("BM_Notify/floor_") + c.suffix, Timing::kReal,
        [=](benchmark::State& s) { floor_notify(s, c.mode, c.sync); });
  }
  reg("BM_Notify/loop_sync_wake_up", Timing::kReal,
      [](benchmark::State& s) { floor_notify_loop(s, true); });
  reg("BM_Notify/loop_plain_wake_up", Timing::kReal,
      [](benchmark::State& s) { floor_notify_loop(s, false); });
}

}  // namespace stubfuzz::bench
