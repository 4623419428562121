// A user's kernel tree built for ARCH=um, as the source of UML's own stub:
// stub_exe, the stub page (its bytes and symbols in the built `linux` ELF)
// and the layout of the structs they share with UML's monitor. Everything
// is read from the tree and the built objects, never assumed: the layout by
// a probe compiled with the tree's own command line for stub_exe.o.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace stubfuzz::uml {

// Where a member lies in a struct, and how wide it is.
struct Field {
  uint32_t offset = 0;
  uint32_t size = 0;
};

// struct stub_init_data, struct stub_data and struct stub_syscall of the
// tree's arch/um/include/shared/skas/stub-data.h, as its compiler lays them out.
struct Layout {
  uint32_t page_size = 0;
  uint32_t data_pages = 0;  // STUB_DATA_PAGES
  uint32_t max_fds = 0;     // STUB_MAX_FDS: fds one mmap batch may pass
  uint32_t futex_in_child = 0, futex_in_kern = 0;
  struct {
    uint32_t size = 0;
    Field seccomp, stub_start, stub_code_fd, stub_code_offset, stub_data_fd, stub_data_offset,
        signal_handler, signal_restorer;
  } init;
  struct {
    uint32_t size = 0;
    Field err, syscall_data_len, syscall_data, restart_wait, futex, signal, si_offset, mctx_offset,
        sigstack;
  } data;
  struct {
    uint32_t size = 0;  // one entry of syscall_data
    Field addr, length, offset, fd, prot, syscall;
    uint32_t mmap = 0, munmap = 0;  // enum stub_syscall_type
  } call;
  uint32_t syscall_data_entries() const {
    return call.size ? data.syscall_data.size / call.size : 0;
  }
};

// A syscall instruction of the built stub page.
struct PageSite {
  uint32_t offset = 0;   // from the start of the page
  bool i386 = false;     // int $0x80 (else syscall)
  std::string function;  // the symbol it lies in
  // A record run there ends by single-step after the page's next
  // instruction; where that one overwrites rax (or is unknown: a site
  // inside another instruction), the call's result cannot be read.
  bool keeps_result = false;
};

struct Tree {
  std::string dir;
  std::string stub_exe;          // arch/um/kernel/skas/stub_exe
  std::vector<uint8_t> page;     // the stub page, one page, zero-padded
  uint32_t handler_offset = 0;   // stub_signal_interrupt
  uint32_t restorer_offset = 0;  // stub_signal_restorer
  std::vector<PageSite> sites;
  // Patch 1/7 of the series: stub_exe installs its filter with
  // NEW_LISTENER (the listener lands at fd 1). Read from stub_exe.c, and
  // checked against the running stub.
  bool new_listener = false;
  Layout layout;
};

// Reads and checks a tree; an error is one line naming what is missing
// (not a kernel tree, no seccomp stub, not built, a layout the probe
// cannot read).
Result<Tree> read_tree(const std::string& dir);

// What stub_exe's exit code means, for an init that failed: the step.
std::string init_step(int exit_code);

// The text steps of read_tree, apart for the tests and the fuzz target
// (fuzzers/fuzz_uml_tree_text.cc): each takes what a tree or a tool wrote.
// kbuild's .stub_exe.o.cmd made into the probe's compile command.
Result<std::string> probe_command(const std::string& cmd_file, const std::string& probe,
                                  const std::string& out);
// The probe's assembler output read into a layout, and checked.
Result<Layout> parse_probe_output(const std::string& assembly);
// objdump -d of the page [start, start + page.size()) read into its sites,
// and the syscall bytes inside other instructions added.
Result<std::vector<PageSite>> parse_sites(const std::string& disassembly, uint64_t start,
                                          const std::vector<uint8_t>& page);

}  // namespace stubfuzz::uml
