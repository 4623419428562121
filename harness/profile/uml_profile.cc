#include "profile/uml_profile.h"

#include <linux/seccomp.h>

#include <map>
#include <mutex>

#include "kernel/proc.h"
#include "stub/uml_stub.h"

namespace stubfuzz {

namespace {

// The filter the tree's stub installs at `layout`'s stub page (UML builds it
// from the init data's stub_start), read from a stub spawned for it.
Result<filter::Program> read_installed_filter(const std::shared_ptr<const uml::Tree>& tree,
                                              const StubLayout& layout, bool sandboxed) {
  StubConfig c;
  c.uml = tree;
  c.layout = layout;
  c.sandbox.enabled = sandboxed;
  c.pull_listener = false;
  auto stub = Stub::spawn(c);
  if (!stub) return stub.error();
  auto filters = kernel::seccomp_filters(stub->pid());
  if (!filters)
    return Error{"reading the filter of the tree's stub: " + filters.error().message,
                 filters.error().err};
  if (filters->empty()) return Error{"the tree's stub runs with no seccomp filter", ENOENT};
  // Newest first: the one stub_exe installed.
  return filter::Program(filters->front().begin(), filters->front().end());
}

}  // namespace

Result<Profile> profile_from_uml_tree(const std::string& dir, bool sandboxed) {
  auto tree = uml::read_tree(dir);
  if (!tree) return tree.error();
  auto shared = std::make_shared<const uml::Tree>(std::move(*tree));
  auto base = find_profile(shared->new_listener ? "listener" : "mainline");
  if (!base) return base.error();
  Profile p = **base;
  p.name = "uml-tree:" + shared->dir;
  p.summary = "UML's own stub from " + shared->dir +
              (shared->new_listener ? ", with the series' 1/7 (claims of listener)"
                                    : ", without the series (claims of mainline)");
  p.sandboxed = sandboxed;
  p.uml_tree = shared;
  const StubLayout layout = uml_layout(*shared, StubLayout{});
  auto installed = read_installed_filter(shared, layout, sandboxed);
  if (!installed) return installed.error();
  // Other stub pages get their own filter, read once each.
  struct Cache {
    std::mutex mu;
    std::map<uint64_t, filter::Program> by_start;
  };
  auto cache = std::make_shared<Cache>();
  cache->by_start[layout.stub_start] = *installed;
  p.make_filter = [cache, shared, sandboxed](const StubLayout& l) {
    std::lock_guard lock(cache->mu);
    auto it = cache->by_start.find(l.stub_start);
    if (it != cache->by_start.end()) return it->second;
    auto f = read_installed_filter(shared, uml_layout(*shared, l), sandboxed);
    // A stub that cannot be read at that address is judged by an empty
    // filter: every prediction then fails loudly against the kernel.
    return cache->by_start[l.stub_start] = f ? *f : filter::Program{};
  };
  return p;
}

}  // namespace stubfuzz
