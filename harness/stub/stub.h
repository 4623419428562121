// A live stub and everything the monitor owns of it: the process (by pidfd),
// the control socket, the shared data pages and the listener pulled from it.
// The handle kills, reaps and closes all of it on every path.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>

#include "base/fd.h"
#include "base/result.h"
#include "filter/program.h"
#include "kernel/listener.h"
#include "kernel/sys.h"
#include "stub/sandbox.h"
#include "stub_abi.h"

namespace stubfuzz {

using std::chrono::milliseconds;

// The seed: close_range() leaves only fd 0, so seccomp() returns fd 1.
inline constexpr int kStubListenerFd = 1;

// Where the stub and its guest-code arenas live.
struct StubLayout {
  uint64_t stub_start = 0x7e0010000000;
  uint64_t page_below() const { return stub_start - STUB_PAGE_SIZE; }
  uint64_t page_above() const { return stub_start + STUB_REGION_SIZE; }
  // Differs from the stub page only in the upper 32 bits.
  uint64_t alias_page() const { return stub_start + (uint64_t{1} << 32); }
  uint64_t data_start() const { return stub_start + STUB_PAGE_SIZE; }
  uint64_t scratch() const;  // the data page's scratch buffer, in the stub
};

enum class SpawnMethod {
  kUmlClone,    // clone(CLONE_VM|CLONE_VFORK) + pidfd_open, as UML and the seed
  kClonePidfd,  // the same clone with CLONE_PIDFD: no pidfd_open
};

// Where spawn's time goes, for the benchmarks (nanoseconds since spawn began).
struct SpawnPhases {
  int64_t setup_done = 0;      // memfd, socket, init data written
  int64_t clone_returned = 0;  // the child has exec'd (CLONE_VFORK)
  int64_t pidfd_opened = 0;
  int64_t stub_ready = 0;  // filter installed, command loop running
  int64_t listener_pulled = 0;
};

struct StubConfig {
  filter::Program filter;
  // Installed before `filter`, without a listener: denies with an errno the
  // calls that could reach outside the sandbox (filter/safety_net.h).
  filter::Program safety_net;
  uint64_t seccomp_flags = 0;
  bool install_filter = true;
  // Pull fd 1 with pidfd_getfd when the flags ask for a listener.
  bool pull_listener = true;
  // Start a second thread before the filters (TSYNC covers it) to run the
  // records with thread == 1 (stub_abi.h).
  bool second_thread = false;
  StubLayout layout;
  SpawnMethod spawn = SpawnMethod::kUmlClone;
  Sandbox sandbox;
  milliseconds ready_timeout{2000};
  SpawnPhases* phases = nullptr;  // filled in when set
};

enum class BatchEnd {
  kCompleted,  // every record returned
  kStubDied,   // the stub ended while a record ran (see exit)
  kTimedOut,   // a record blocked past the bound: the stub was killed
  kWatchdog,   // no progress for the watchdog's bound: the monitor killed it
};
const char* to_string(BatchEnd e);

struct BatchOutcome {
  BatchEnd end = BatchEnd::kCompleted;
  std::optional<kernel::Exit> exit;
  uint32_t count = 0;
  std::array<stub_result, STUB_MAX_RECORDS> results{};
  std::span<const stub_result> view() const { return {results.data(), count}; }
};

// What a monitor (monitor/) adds to a batch's wait.
struct RunHooks {
  // The series' 6/7: kill the stub when it makes no progress for this long.
  std::optional<milliseconds> watchdog;
  // The harness's own bound: a stub that makes no progress for this long is
  // blocked (BatchEnd::kTimedOut), however long the batch's timeout.
  std::optional<milliseconds> stall_bound;
  // Progress the stub makes outside its records (notifications answered).
  std::function<uint64_t()> progress;
  // Called when the bound expires, before the stub is killed.
  std::function<void()> before_timeout_kill;
};

class Stub {
 public:
  static Result<Stub> spawn(const StubConfig& config);
  // Makes the process-wide pieces spawn uses (the stub image memfd, the
  // sandbox's namespaces); they live until exit. spawn() does it on demand.
  static Status prepare(const StubConfig& config);

  Stub(Stub&& o) noexcept;
  Stub& operator=(Stub&& o) noexcept;
  Stub(const Stub&) = delete;
  Stub& operator=(const Stub&) = delete;
  ~Stub();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_.get(); }
  const StubLayout& layout() const { return layout_; }
  // seccomp()'s return value in the stub: the listener fd, 0, or -errno.
  int64_t seccomp_ret() const { return data_->seccomp_ret; }
  kernel::Listener* listener() { return listener_ ? &*listener_ : nullptr; }
  std::optional<kernel::Listener> take_listener();
  const stub_data& data() const { return *data_; }

  // Fills the start of the data page's scratch buffer (at layout().scratch()
  // in the stub), for records whose pointer arguments point there.
  Status write_scratch(std::span<const uint8_t> bytes, size_t offset = 0);

  // Runs `records` in the stub; every wait is bounded by `timeout`.
  Result<BatchOutcome> run(std::span<const stub_record> records,
                           milliseconds timeout = milliseconds(1000),
                           const RunHooks* hooks = nullptr);
  Result<BatchOutcome> run(std::initializer_list<stub_record> records,
                           milliseconds timeout = milliseconds(1000)) {
    return run(std::span<const stub_record>(records.begin(), records.size()), timeout);
  }
  bool usable() const { return !exit_ && alive_word_ok(); }

  // The second thread: run() starts it on the batch's thread-2 records when
  // thread 1 is done, unless the monitor started it earlier, while thread 1
  // waited in a notification whose id is `pending_id`. Bounded wait.
  bool has_second_thread() const;
  Status start_second_thread(uint64_t pending_id);
  bool wait_second_thread(milliseconds timeout);

  // What fd `fd` of the stub is, as /proc/<pid>/fd names it ("" if closed).
  std::string fd_target(int fd) const;

  // Kills (SIGKILL through the pidfd) and reaps; idempotent.
  Result<kernel::Exit> kill();
  // Reaps a stub that is ending by itself, at most `timeout`.
  Result<std::optional<kernel::Exit>> wait_exit(milliseconds timeout);
  const std::optional<kernel::Exit>& exit() const { return exit_; }

 private:
  Stub() = default;
  // spawn()'s steps after the init data is on its way.
  template <class Mark>
  Status start_child(const StubConfig& config, int image, int stub_sock, int data_fd, Mark& mark);
  Status await_ready(const StubConfig& config);
  Status take_over(const StubConfig& config);
  enum class SyncWait { kIdle, kDied, kTimedOut, kStalled };
  SyncWait wait_sync(milliseconds timeout, const RunHooks* hooks = nullptr);
  SyncWait wait_second(milliseconds timeout, const RunHooks* hooks);
  SyncWait wait_word(uint32_t* word, milliseconds timeout, const RunHooks* hooks);
  // CPU time of all the stub's threads (/proc/.../schedstat), and whether
  // each sleeps in a syscall (state S in /proc/.../stat).
  struct SchedSample {
    uint64_t cpu_ns = 0;
    bool all_asleep = true;
    bool dying = false;  // exiting, dumping core, or a fatal signal pending
  };
  SchedSample sched_sample() const;
  bool alive_word_ok() const;
  void release();

  pid_t pid_ = -1;
  Fd pidfd_;
  Fd sock_;
  stub_data* data_ = nullptr;
  StubLayout layout_;
  std::optional<kernel::Listener> listener_;
  std::optional<kernel::Exit> exit_;
  // This batch's thread-2 records started (the monitor's thread may do it).
  std::atomic<bool> second_started_{false};
};

}  // namespace stubfuzz
