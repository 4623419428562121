// A harness stub whose mmap from the stub page is notified, allowed or
// unfiltered, with a monitor thread answering CONTINUE: shared by the
// notification and the scaling benchmarks.
#pragma once

#include <benchmark/benchmark.h>

#include <memory>
#include <optional>
#include <string>

#include "plain.h"
#include "stub/stub.h"

namespace stubfuzz::bench {

enum class Mmap { kNotified, kAllowed, kUnfiltered };

struct NotifiedStub {
  NotifiedStub(Mmap mode, bool sync_wake_up);
  // One Stub::run of the mmap record; true if it mapped the target page.
  bool run_mmap();

  std::string error;
  stub_record record{};
  std::optional<Stub> stub;
  std::optional<kernel::Listener> listener;
  std::unique_ptr<Answerer> answerer;  // declared last: stops first
};

void harness_notify(benchmark::State& s, Mmap mode, bool sync_wake_up);

}  // namespace stubfuzz::bench
