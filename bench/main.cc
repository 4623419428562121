// stubfuzz_bench: the Google Benchmark suite. Also the zygote helper when
// started with --stubfuzz-zygote (see zygote.h).
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <cstring>

#include "zygote.h"

namespace stubfuzz::bench {
void register_spawn_benchmarks();
void register_listener_benchmarks();
void register_command_benchmarks();
void register_notify_benchmarks();
void register_scale_benchmarks();
void register_fuzz_benchmarks();
void register_throughput_benchmarks();
void register_profile_benchmarks();
void release_idle_stubs();
}  // namespace stubfuzz::bench

namespace {

void on_sigusr1(int) {}

}  // namespace

int main(int argc, char** argv) {
  using namespace stubfuzz::bench;
  if (argc == 3 && std::strcmp(argv[1], kZygoteFlag) == 0) return zygote_main(std::atoi(argv[2]));

  // 1000 live stubs hold ~3 fds each in the monitor.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // Breaks a monitor thread's blocking NOTIF_RECV (no SA_RESTART).
  struct sigaction sa {};
  sa.sa_handler = on_sigusr1;
  sigaction(SIGUSR1, &sa, nullptr);

  utsname u{};
  uname(&u);
  benchmark::AddCustomContext("kernel", u.release);
  benchmark::AddCustomContext("rlimit_nofile", std::to_string(nofile.rlim_cur));

  register_spawn_benchmarks();
  register_listener_benchmarks();
  register_command_benchmarks();
  register_notify_benchmarks();
  register_scale_benchmarks();
  register_fuzz_benchmarks();
  register_throughput_benchmarks();
  register_profile_benchmarks();

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  release_idle_stubs();
  zygote_stop();
  return 0;
}
