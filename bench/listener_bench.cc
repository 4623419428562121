// Handing the listener over, on one live stub: what the harness does
// (pidfd_getfd of fd 1 after checking seccomp_ret, then Listener::adopt),
// the bare pidfd_getfd of the assumed fd 1 (the floor), and pidfd_getfd of
// the number the stub wrote in the data page. Each pulled fd is closed.
// An SCM_RIGHTS hand-over is not measured: the stub has no sendmsg, and its
// filter kills sendmsg from the stub page, so it would need a stub change.
//
// And the filter installs themselves, in a plain forked child (floor only:
// the stub installs exactly one filter, a second would need a stub change).
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel/listener.h"
#include "kernel/sys.h"
#include "plain.h"
#include "profile/profile.h"
#include "stub/stub.h"

namespace stubfuzz::bench {

namespace {

enum class Pull { kHarnessAdopt, kAssumeFd1, kFromDataPage };

void handover(benchmark::State& s, Pull pull) {
  StubConfig c = seed_config("listener");
  c.pull_listener = false;
  auto stub = Stub::spawn(c);
  if (!stub) {
    s.SkipWithError(stub.error().message.c_str());
    return;
  }
  const int pidfd = stub->pidfd();
  const volatile int64_t* seccomp_ret = &stub->data().seccomp_ret;
  for (auto _ : s) {
    switch (pull) {
      case Pull::kHarnessAdopt: {
        if (*seccomp_ret != kStubListenerFd) s.SkipWithError("listener is not fd 1");
        auto fd = kernel::pidfd_getfd(pidfd, kStubListenerFd, stub->pid());
        auto l = kernel::Listener::adopt(std::move(*fd));
        benchmark::DoNotOptimize(l);
        break;
      }
      case Pull::kAssumeFd1:
        close(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, 1, 0)));
        break;
      case Pull::kFromDataPage:
        close(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, static_cast<int>(*seccomp_ret), 0)));
        break;
    }
  }
}

// Times the filter installs in a fresh child: the first with `first_flags`,
// then (when `second`) one more with mainline's flags: a second NEW_LISTENER
// would be EBUSY. Syscalls after the first go through the gadget page.
void filter_install(benchmark::State& s, uint64_t first_flags, bool second) {
  SharedPage page;
  auto* out = page.as<int64_t>();
  const auto prog = gadget_filter({SYS_seccomp, SYS_exit_group});
  const uint64_t second_flags = mainline_flags();
  Samples samples(s);
  for (auto _ : s) {
    out[0] = out[1] = out[2] = out[3] = -1;
    Child child([&] {
      // steady_clock reads the vDSO (clocksource tsc): no syscall to trap.
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      sock_fprog f{static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())};
      auto t0 = Clock::now();
      out[2] = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, first_flags, &f);
      out[0] = since_ns(t0);
      if (second) {
        t0 = Clock::now();
        out[3] = bench_gadget(SYS_seccomp, SECCOMP_SET_MODE_FILTER, static_cast<long>(second_flags),
                              reinterpret_cast<long>(&f));
        out[1] = since_ns(t0);
      }
      bench_gadget(SYS_exit_group, 0);
    });
    child.wait_exit();
    if (out[2] < 0 || (second && out[3] < 0)) {
      s.SkipWithError("seccomp(SECCOMP_SET_MODE_FILTER) failed in the child");
      break;
    }
    const int64_t ns = second ? out[1] : out[0];
    s.SetIterationTime(static_cast<double>(ns) * 1e-9);
    samples.add(ns);
  }
  samples.report(s);
}

}  // namespace

void register_listener_benchmarks() {
  reg("BM_Handover/harness_adopt", Timing::kReal,
      [](benchmark::State& s) { handover(s, Pull::kHarnessAdopt); });
  reg("BM_Handover/floor_getfd_fd1", Timing::kReal,
      [](benchmark::State& s) { handover(s, Pull::kAssumeFd1); });
  reg("BM_Handover/alt_getfd_data_page", Timing::kReal,
      [](benchmark::State& s) { handover(s, Pull::kFromDataPage); });

  reg("BM_FilterInstall/floor_first_listener", Timing::kManual,
      [](benchmark::State& s) { filter_install(s, listener_flags(), false); });
  reg("BM_FilterInstall/floor_first_mainline", Timing::kManual,
      [](benchmark::State& s) { filter_install(s, mainline_flags(), false); });
  reg("BM_FilterInstall/floor_second_after_listener", Timing::kManual,
      [](benchmark::State& s) { filter_install(s, listener_flags(), true); });
}

}  // namespace stubfuzz::bench
