#include "fuzz/minimize.h"

#include <algorithm>

#include "fuzz/replay.h"

namespace stubfuzz::fuzz {

std::optional<BreachKey> breach_key(const Judgement& j) {
  if (const Breach* b = j.first_violation()) return BreachKey{b->claim, std::nullopt};
  if (!j.breaches.empty()) return BreachKey{j.breaches.front().claim, j.breaches.front().cls};
  return std::nullopt;
}

Result<Minimized> minimize(Executor& executor, const Profile& profile, const Program& program,
                           int max_runs) {
  auto first = replay(executor, profile, program);
  if (!first) return first.error();
  const auto key = breach_key(first->judgement);
  if (!key) return Error{"the program breaks no claim and shows no known finding", EINVAL};

  Minimized m{program, *key, 1};
  // Whether `candidate` still shows the same breach.
  auto keeps = [&](const Program& candidate) -> Result<bool> {
    if (candidate.records.empty() || m.runs >= max_runs) return false;
    m.runs++;
    auto r = replay(executor, profile, candidate);
    if (!r) return r.error();
    return std::any_of(
        r->judgement.breaches.begin(), r->judgement.breaches.end(), [&](const Breach& b) {
          return BreachKey{b.claim, b.known ? std::optional(b.cls) : std::nullopt} == *key;
        });
  };

  // Records, from the last: later ones rarely matter to an earlier breach.
  for (size_t i = m.program.records.size(); i-- > 0;) {
    Program c = m.program;
    c.records.erase(c.records.begin() + static_cast<long>(i));
    auto k = keeps(c);
    if (!k) return k.error();
    if (*k) m.program = c;
  }
  // Then arguments and site offsets, to the plainest value that still works.
  for (auto& rec : m.program.records) {
    for (Arg& a : rec.args) {
      if (a == Arg{}) continue;
      const Arg saved = a;
      a = Arg{};
      auto k = keeps(m.program);
      if (!k) return k.error();
      if (!*k) a = saved;
    }
    if (rec.site.offset) {
      const uint16_t saved = rec.site.offset;
      rec.site.offset = 0;
      auto k = keeps(m.program);
      if (!k) return k.error();
      if (!*k) rec.site.offset = saved;
    }
  }
  return m;
}

}  // namespace stubfuzz::fuzz
