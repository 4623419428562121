#include "stub/stub_pool.h"

#include <optional>

#include "stub/factory.h"

namespace stubfuzz {

StubPool::StubPool(StubConfig config, size_t depth, Source source)
    : config_(std::move(config)),
      depth_(depth),
      source_(source == Source::kFactory && factory_supports(config_) ? Source::kFactory
                                                                      : Source::kSeedPath),
      thread_([this] { run(); }) {}

StubPool::~StubPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

uint64_t StubPool::spawned() const {
  std::lock_guard lock(mu_);
  return spawned_;
}

Result<Stub> StubPool::take(milliseconds timeout) {
  std::unique_lock lock(mu_);
  const bool got =
      changed_.wait_for(lock, timeout, [&] { return !ready_.empty() || last_error_.has_value(); });
  if (!ready_.empty()) {
    Stub s = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    changed_.notify_all();
    return s;
  }
  if (last_error_) {
    Error e = *std::exchange(last_error_, std::nullopt);
    lock.unlock();
    changed_.notify_all();  // let the thread try again
    return e;
  }
  (void)got;
  return Error{"no stub ready within " + std::to_string(timeout.count()) + " ms", ETIMEDOUT};
}

void StubPool::retire(Stub&& stub) {
  {
    std::lock_guard lock(mu_);
    retired_.push_back(std::move(stub));
  }
  changed_.notify_all();
}

void StubPool::run() {
  // On this thread: the factory's template and its stubs are its children.
  std::optional<StubFactory> factory;
  if (source_ == Source::kFactory) factory.emplace(config_);
  std::unique_lock lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] {
      return stopping_ || !retired_.empty() || (ready_.size() < depth_ && !last_error_);
    });
    if (stopping_) break;
    if (!retired_.empty()) {
      std::deque<Stub> done;
      done.swap(retired_);
      lock.unlock();
      done.clear();  // ~Stub kills and reaps
      lock.lock();
      continue;
    }
    lock.unlock();
    auto s = factory ? factory->make() : Stub::spawn(config_);
    lock.lock();
    if (s) {
      ready_.push_back(std::move(*s));
      spawned_++;
    } else {
      last_error_ = s.error();
    }
    changed_.notify_all();
  }
  // Stubs die with their parent thread anyway; reap them here, not as zombies.
  std::deque<Stub> all;
  all.swap(ready_);
  std::deque<Stub> old;
  old.swap(retired_);
  lock.unlock();
  all.clear();
  old.clear();
  factory.reset();  // the template after its stubs
}

}  // namespace stubfuzz
