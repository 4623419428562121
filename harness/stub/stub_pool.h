// Stubs spawned ahead on another thread (the other core), so that a stub the
// fuzzer used up or that its filter killed costs little. Used stubs go back
// to the same thread to be killed and reaped off the hot path.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "stub/stub.h"

namespace stubfuzz {

class StubPool {
 public:
  // The pool thread is the stubs' parent: PR_SET_PDEATHSIG kills them if it
  // ends, so it lives as long as the pool.
  static constexpr size_t kDefaultDepth = 4;
  // Where fresh stubs come from: the seed's spawn path, or the stub factory
  // (stub/factory.h) where it supports the config.
  enum class Source { kSeedPath, kFactory };
  explicit StubPool(StubConfig config, size_t depth = kDefaultDepth,
                    Source source = Source::kSeedPath);
  ~StubPool();
  StubPool(const StubPool&) = delete;
  StubPool& operator=(const StubPool&) = delete;

  // A ready stub, waiting at most `timeout` for one; a spawn failure is
  // returned as the error.
  Result<Stub> take(milliseconds timeout = milliseconds(5000));
  // Kills and reaps `stub` on the pool thread.
  void retire(Stub&& stub);

  const StubConfig& config() const { return config_; }
  uint64_t spawned() const;
  Source source() const { return source_; }

 private:
  void run();

  const StubConfig config_;
  const size_t depth_;
  const Source source_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Stub> ready_;
  std::deque<Stub> retired_;
  std::optional<Error> last_error_;
  uint64_t spawned_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace stubfuzz
