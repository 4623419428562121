// What each profile's validation costs per call: Monitor::run of a batch of
// one queued mmap (MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS, one page below the
// stub) and, separately, of one queued munmap of that page, with the
// profile's filter and monitor rules. Each iteration maps then unmaps, so
// every timed call has the same work; only the named call is timed (manual
// time), the other runs untimed through the same monitor.
//
// References in the same run: harness_allowed/listener (the call allowed by
// the filter, no monitor thread), and floors in a plain child under the UML
// filter with the call notified (floor_notified: the raw ioctl CONTINUE loop,
// no SYNC_WAKE_UP, as the monitor sets none) or allowed (floor_allowed).
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "filter/uml_filter.h"
#include "monitor/monitor.h"
#include "plain.h"
#include "profile/profile.h"
#include "stub/record.h"

namespace stubfuzz::bench {

namespace {

// Below the stub (5/7 allows munmap only there) and unused by the stub and
// by this binary (checked with MAP_FIXED_NOREPLACE before the first
// iteration, in the stub and in the floor's child).
constexpr uint64_t kGuestPage = 0x200000000;
constexpr std::chrono::milliseconds kBound{1000};

enum class Call { kMmap, kMunmap };

QueuedCall queued_mmap(uint64_t extra_flags = 0) {
  return {SYS_mmap,
          {kGuestPage, 4096, PROT_READ | PROT_WRITE,
           MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, static_cast<uint64_t>(-1), 0}};
}
QueuedCall queued_munmap() { return {SYS_munmap, {kGuestPage, 4096}}; }

// As the executor builds a queued record: from the stub page, x86-64.
stub_record record_of(const QueuedCall& q) {
  stub_record r = from_stub(q.nr);
  std::copy(std::begin(q.args), std::end(q.args), r.args);
  return r;
}

bool notifies(const MonitorRules& rules, Call c) {
  return c == Call::kMmap ? rules.answers_mmap : rules.validates_munmap;
}

// One stub spawned with the profile's config and a monitor with its rules.
class ProfiledStub {
 public:
  ProfiledStub(const Profile& p, bool sandboxed) : monitor_(p.monitor) {
    auto spawned = Stub::spawn(seed_config(p.name.c_str(), sandboxed));
    if (!spawned) {
      error = spawned.error().message;
      return;
    }
    stub_.emplace(std::move(*spawned));
    // The page must be free in the stub: NOREPLACE fails with EEXIST if not.
    error = call(queued_mmap(MAP_FIXED_NOREPLACE), kGuestPage);
    if (error.empty()) error = call(queued_munmap(), 0);
  }

  // Monitor::run of one queued call; "" if it returned `expect` with the
  // answers the rules promise.
  std::string call(const QueuedCall& q, uint64_t expect) {
    const stub_record rec = record_of(q);
    auto out = monitor_.run(*stub_, {&rec, 1}, {&q, 1}, kBound);
    if (!out) return out.error().message;
    const stub_result& r = out->outcome.results[0];
    if (out->outcome.end != BatchEnd::kCompleted) return "the batch did not complete";
    if (out->hang != MonitorHang::kNone) return to_string(out->hang);
    if (r.status != STUB_RESULT_DONE || r.trapped || static_cast<uint64_t>(r.ret) != expect)
      return "the queued call returned " + std::to_string(r.ret);
    const bool notified =
        notifies(monitor_.rules(), q.nr == SYS_mmap ? Call::kMmap : Call::kMunmap);
    if (out->answers.size() != (notified ? 1u : 0u) ||
        (notified && out->answers[0].answer != Answer::kContinued))
      return "the monitor did not answer as its rules say";
    notifications_ += out->answers.size();
    return "";
  }

  std::string error;
  uint64_t notifications() const { return notifications_; }

 private:
  std::optional<Stub> stub_;  // killed and reaped by its destructor
  Monitor monitor_;           // declared last: its thread stops first
  uint64_t notifications_ = 0;
};

void report_per_call(benchmark::State& s, Samples& samples, uint64_t notifications) {
  samples.report(s);
  s.counters["notified_per_call"] = static_cast<double>(notifications) /
                                    static_cast<double>(std::max<int64_t>(1, s.iterations()));
}

void harness_profile(benchmark::State& s, const char* profile, Call timed, bool sandboxed) {
  auto p = find_profile(profile);
  if (!p) {
    s.SkipWithError(p.error().message.c_str());
    return;
  }
  ProfiledStub ps(**p, sandboxed);
  if (!ps.error.empty()) {
    s.SkipWithError(ps.error.c_str());
    return;
  }
  const QueuedCall map = queued_mmap(), unmap = queued_munmap();
  Samples samples(s);
  uint64_t timed_notifications = 0;
  for (auto _ : s) {
    std::string err;
    int64_t ns = 0;
    for (Call c : {Call::kMmap, Call::kMunmap}) {
      const uint64_t before = ps.notifications();
      const auto t0 = Clock::now();
      err = c == Call::kMmap ? ps.call(map, kGuestPage) : ps.call(unmap, 0);
      if (c == timed) {
        ns = since_ns(t0);
        timed_notifications += ps.notifications() - before;
      }
      if (!err.empty()) break;
    }
    if (!err.empty()) {
      s.SkipWithError(err.c_str());
      break;
    }
    s.SetIterationTime(static_cast<double>(ns) * 1e-9);
    samples.add(ns);
  }
  // The untimed companion may be notified too; count only the timed call's.
  report_per_call(s, samples, timed_notifications);
}

// The floor: a plain child under the UML filter (stub page = the gadget
// page) maps or unmaps the page on command; `notified` moves the timed
// call's ALLOW to USER_NOTIF, answered CONTINUE with raw ioctls.
struct FloorPage {
  uint32_t word;
  uint32_t op;  // a Call
  int64_t ret;
  int32_t listener;
};

void floor_op(void* arg) {
  auto* fp = static_cast<FloorPage*>(arg);
  const QueuedCall q =
      fp->op == static_cast<uint32_t>(Call::kMmap) ? queued_mmap() : queued_munmap();
  const uint64_t* a = q.args;
  fp->ret = bench_gadget(q.nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

filter::Program floor_filter(Call timed, bool notified) {
  const uint32_t nr = timed == Call::kMmap ? SYS_mmap : SYS_munmap;
  const auto gadget = reinterpret_cast<uint64_t>(bench_gadget_page);
  if (!notified) return filter::uml_stub_filter(gadget);
  std::vector<uint32_t> allow;
  for (uint32_t x : filter::uml_stub_allowlist())
    if (x != nr) allow.push_back(x);
  return filter::uml_stub_filter(gadget, allow, {nr});
}

bool floor_call(FloorPage* fp, Call c) {
  fp->op = static_cast<uint32_t>(c);
  fp->ret = -1;
  ping(&fp->word);
  return static_cast<uint64_t>(fp->ret) == (c == Call::kMmap ? kGuestPage : 0);
}

void floor_profile(benchmark::State& s, Call timed, bool notified) {
  // The child inherits this address space: the page must be free here too.
  void* probe = mmap(reinterpret_cast<void*>(kGuestPage), 4096, PROT_NONE,
                     MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe != reinterpret_cast<void*>(kGuestPage)) {
    if (probe != MAP_FAILED) munmap(probe, 4096);
    s.SkipWithError("the guest page is in use in the benchmark process");
    return;
  }
  munmap(probe, 4096);
  SharedPage page;
  auto* fp = page.as<FloorPage>();
  fp->word = 2;
  fp->listener = -1;
  const auto prog = floor_filter(timed, notified);
  Child child([&] {
    long fd = install_filter(prog, static_cast<unsigned>(listener_flags()));
    if (fd < 0) _exit(121);
    fp->listener = static_cast<int32_t>(fd);
    pong_loop(&fp->word, floor_op, fp);
  });
  wait_idle(&fp->word);
  const int listener =
      notified ? static_cast<int>(syscall(SYS_pidfd_getfd, child.pidfd(), fp->listener, 0)) : -1;
  if (notified && listener < 0) {
    s.SkipWithError("pidfd_getfd(child listener) failed");
    return;
  }
  std::unique_ptr<Answerer> answerer;
  if (notified) answerer = std::make_unique<Answerer>([=] { return answer_raw(listener); });
  Samples samples(s);
  for (auto _ : s) {
    bool ok = true;
    int64_t ns = 0;
    for (Call c : {Call::kMmap, Call::kMunmap}) {
      const auto t0 = Clock::now();
      ok = floor_call(fp, c);
      if (c == timed) ns = since_ns(t0);
      if (!ok) break;
    }
    if (!ok) {
      s.SkipWithError("the floor child's call failed");
      break;
    }
    s.SetIterationTime(static_cast<double>(ns) * 1e-9);
    samples.add(ns);
  }
  const uint64_t answered = answerer ? answerer->answered() : 0;
  answerer.reset();
  child.end();
  if (listener >= 0) close(listener);
  report_per_call(s, samples, answered);
}

}  // namespace

void register_profile_benchmarks() {
  const char* const profiles[] = {"listener",      "notify-mmap", "notify-drain",
                                  "notify-munmap", "watchdog",    "hardened"};
  for (Call c : {Call::kMmap, Call::kMunmap}) {
    const std::string family = c == Call::kMmap ? "BM_ProfileMmap/" : "BM_ProfileMunmap/";
    for (const char* p : profiles) {
      // harness_notified/X pairs with floor_notified, harness_allowed/X with
      // floor_allowed (bench/report.py).
      const bool notified = notifies((*find_profile(p))->monitor, c);
      reg(family + (notified ? "harness_notified/" : "harness_allowed/") + p, Timing::kManual,
          [=](benchmark::State& s) { harness_profile(s, p, c, false); });
    }
    reg(family + "floor_notified", Timing::kManual,
        [=](benchmark::State& s) { floor_profile(s, c, true); });
    reg(family + "floor_allowed", Timing::kManual,
        [=](benchmark::State& s) { floor_profile(s, c, false); });
    // What stubfuzz itself runs: hardened inside the sandbox, with the net.
    reg(family + "cost_sandboxed/hardened", Timing::kManual,
        [=](benchmark::State& s) { harness_profile(s, "hardened", c, true); });
  }
}

}  // namespace stubfuzz::bench
