#include "filter/predict.h"

#include <linux/audit.h>

#include "filter/syscall_names.h"

namespace stubfuzz::filter {

Path path_of(const kernel::Facts& facts, uint32_t audit_arch, uint32_t nr) {
  if (audit_arch == AUDIT_ARCH_I386 && !facts.i386_abi) return Path::kNoAbi;
  if (facts.exempt(audit_arch, nr)) return Path::kExempt;
  return Path::kFiltered;
}

Prediction predict(const Program& filter, const Program& net, const kernel::Facts& facts,
                   const seccomp_data& data, const EvalOptions& options) {
  Prediction p;
  p.path = path_of(facts, data.arch, static_cast<uint32_t>(data.nr));
  if (p.path != Path::kFiltered) return p;
  p.model = evaluate(filter, data, options);
  p.ret = p.model.ret;
  if (!net.empty()) {
    const uint32_t rets[] = {evaluate(net, data, {false, false}).ret,
                             p.model.ret};  // install order
    p.ret = combine_returns(rets);
    p.denied_by_net = p.ret != p.model.ret;
  }
  return p;
}

std::string path_reason(const Prediction& p) {
  switch (p.path) {
    case Path::kFiltered:
      return "";
    case Path::kExempt:
      return "exempt from seccomp on this kernel: runs unfiltered";
    case Path::kNoAbi:
      return "i386 ABI absent: int $0x80 faults before seccomp";
  }
  return "";
}

std::string describe(const Prediction& p) {
  switch (p.path) {
    case Path::kFiltered:
      return action_name(p.ret) + (p.denied_by_net ? " (safety net)" : "");
    case Path::kExempt:
      return "UNFILTERED (exempt from seccomp)";
    case Path::kNoAbi:
      return "FAULT (no i386 ABI)";
  }
  return "?";
}

}  // namespace stubfuzz::filter
