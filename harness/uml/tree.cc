#include "uml/tree.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>

#include "base/fd.h"

namespace stubfuzz::uml {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStubExeSource = "arch/um/kernel/skas/stub_exe.c";
constexpr const char* kStubExe = "arch/um/kernel/skas/stub_exe";
constexpr const char* kStubExeCmd = "arch/um/kernel/skas/.stub_exe.o.cmd";
// A tool that hangs (a compiler waiting on a pipe) must not hang stubfuzz.
constexpr int kToolSeconds = 120;

Result<std::string> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return Error{"cannot read " + p.string(), ENOENT};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `command` with sh in `cwd`; its output (stdout and stderr) and status.
struct ToolRun {
  int status = -1;
  std::string output;
};
ToolRun run_tool(const std::string& cwd, const std::string& command) {
  const std::string line = "cd " + quoted(cwd) + " && timeout " + std::to_string(kToolSeconds) +
                           " sh -c " + quoted(command) + " 2>&1";
  ToolRun r;
  FILE* p = popen(line.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  r.status = pclose(p);
  return r;
}

std::string first_line(const std::string& s) {
  const auto nl = s.find('\n');
  return s.substr(0, nl);
}

// The symbols of the stub page and its bytes, from the built ELF.
struct ElfSymbols {
  std::map<std::string, uint64_t> values;
  std::vector<uint8_t> page;
  uint64_t start = 0, end = 0;
};

Result<ElfSymbols> read_elf(const fs::path& path, uint32_t page_size) {
  if (elf_version(EV_CURRENT) == EV_NONE) return Error{"libelf: " + std::string(elf_errmsg(-1)), 0};
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error::from_errno("open(" + path.string() + ")");
  std::unique_ptr<Elf, int (*)(Elf*)> elf(elf_begin(fd.get(), ELF_C_READ, nullptr), elf_end);
  const std::string what = path.string() + ": ";
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF)
    return Error{what + "not an ELF file (the tree's build did not finish?)", ENOEXEC};
  if (gelf_getclass(elf.get()) != ELFCLASS64)
    return Error{what + "not a 64-bit ELF: stubfuzz drives x86-64 UML", ENOEXEC};
  static const char* const wanted[] = {"__syscall_stub_start", "__syscall_stub_end",
                                       "stub_signal_interrupt", "stub_signal_restorer"};
  ElfSymbols out;
  std::vector<GElf_Shdr> sections;
  for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf.get(), scn));) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh)) return Error{what + "unreadable section header", ENOEXEC};
    sections.push_back(sh);
    if (sh.sh_type != SHT_SYMTAB || sh.sh_entsize == 0) continue;
    Elf_Data* d = elf_getdata(scn, nullptr);
    if (!d) continue;
    for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
      GElf_Sym sym;
      if (!gelf_getsym(d, static_cast<int>(i), &sym)) break;
      const char* name = elf_strptr(elf.get(), sh.sh_link, sym.st_name);
      if (!name) continue;
      for (const char* w : wanted)
        if (std::string_view(name) == w) out.values[w] = sym.st_value;
    }
  }
  for (const char* w : wanted)
    if (!out.values.count(w))
      return Error{
          what + "no symbol " + w + " (a UML build without seccomp mode, or a stripped linux)",
          ENOENT};
  out.start = out.values["__syscall_stub_start"];
  out.end = out.values["__syscall_stub_end"];
  if (out.end <= out.start || out.end - out.start > page_size)
    return Error{what + "the stub code is not within one page", EINVAL};
  for (const char* w : {"stub_signal_interrupt", "stub_signal_restorer"})
    if (out.values[w] < out.start || out.values[w] >= out.end)
      return Error{what + w + " is not in the stub page", EINVAL};
  // The page's bytes: from the section that holds __syscall_stub_start.
  for (const GElf_Shdr& sh : sections) {
    if (sh.sh_type != SHT_PROGBITS || out.start < sh.sh_addr || out.end > sh.sh_addr + sh.sh_size)
      continue;
    Elf_Scn* scn = nullptr;
    for (size_t i = 0; (scn = elf_nextscn(elf.get(), scn)); i++) {
      GElf_Shdr h;
      if (gelf_getshdr(scn, &h) && h.sh_offset == sh.sh_offset && h.sh_addr == sh.sh_addr) break;
    }
    Elf_Data* d = scn ? elf_getdata(scn, nullptr) : nullptr;
    if (!d || !d->d_buf || d->d_size < out.end - sh.sh_addr)
      return Error{what + "the stub page's section has no contents", EINVAL};
    out.page.assign(page_size, 0);
    const auto* bytes = static_cast<const uint8_t*>(d->d_buf) + (out.start - sh.sh_addr);
    std::copy(bytes, bytes + (out.end - out.start), out.page.begin());
    return out;
  }
  return Error{what + "no section holds the stub page", EINVAL};
}

// Every syscall instruction of the page, from objdump's disassembly of the
// built object (bytes that merely look like one inside another instruction
// are added apart).
Result<std::vector<PageSite>> find_sites(const fs::path& linux, const ElfSymbols& e) {
  char range[96];
  std::snprintf(range, sizeof(range), " --start-address=0x%llx --stop-address=0x%llx ",
                static_cast<unsigned long long>(e.start), static_cast<unsigned long long>(e.end));
  const ToolRun r =
      run_tool(".", "objdump -d --no-show-raw-insn" + std::string(range) + quoted(linux.string()));
  if (r.status != 0)
    return Error{"objdump -d " + linux.string() + ": " + first_line(r.output), ENOEXEC};
  std::vector<uint8_t> code(e.page.begin(), e.page.begin() + (e.end - e.start));
  auto sites = parse_sites(r.output, e.start, code);
  if (!sites) return Error{linux.string() + ": " + sites.error().message, sites.error().err};
  return sites;
}

// The layout probe: offsetof/sizeof of every member the monitor touches,
// emitted as assembler text (the kernel's own asm-offsets technique), so
// the tree's compiler and flags need not link or run anything.
constexpr const char* kProbeSource = R"(#include <stddef.h>
#include <stub-data.h>
#define O(n, t, m) asm volatile("\n.ascii \"->" n " %c0 %c1\"" ::"i"(offsetof(t, m)), \
                                "i"(sizeof(((t *)0)->m)))
#define V(n, v) asm volatile("\n.ascii \"->" n " %c0 0\"" ::"i"((unsigned long)(v)))
void stubfuzz_probe(void)
{
	V("page_size", UM_KERN_PAGE_SIZE);
	V("data_pages", STUB_DATA_PAGES);
	V("max_fds", STUB_MAX_FDS);
	V("futex_in_child", FUTEX_IN_CHILD);
	V("futex_in_kern", FUTEX_IN_KERN);
	V("init.size", sizeof(struct stub_init_data));
	O("init.seccomp", struct stub_init_data, seccomp);
	O("init.stub_start", struct stub_init_data, stub_start);
	O("init.stub_code_fd", struct stub_init_data, stub_code_fd);
	O("init.stub_code_offset", struct stub_init_data, stub_code_offset);
	O("init.stub_data_fd", struct stub_init_data, stub_data_fd);
	O("init.stub_data_offset", struct stub_init_data, stub_data_offset);
	O("init.signal_handler", struct stub_init_data, signal_handler);
	O("init.signal_restorer", struct stub_init_data, signal_restorer);
	V("data.size", sizeof(struct stub_data));
	O("data.err", struct stub_data, err);
	O("data.syscall_data_len", struct stub_data, syscall_data_len);
	O("data.syscall_data", struct stub_data, syscall_data);
	O("data.restart_wait", struct stub_data, restart_wait);
	O("data.futex", struct stub_data, futex);
	O("data.signal", struct stub_data, signal);
	O("data.si_offset", struct stub_data, si_offset);
	O("data.mctx_offset", struct stub_data, mctx_offset);
	O("data.sigstack", struct stub_data, sigstack);
	V("call.size", sizeof(struct stub_syscall));
	O("call.addr", struct stub_syscall, mem.addr);
	O("call.length", struct stub_syscall, mem.length);
	O("call.offset", struct stub_syscall, mem.offset);
	O("call.fd", struct stub_syscall, mem.fd);
	O("call.prot", struct stub_syscall, mem.prot);
	O("call.syscall", struct stub_syscall, syscall);
	V("call.mmap", STUB_SYSCALL_MMAP);
	V("call.munmap", STUB_SYSCALL_MUNMAP);
}
)";

// The tree's own compile command, as probe_command() makes it.
Result<std::string> tree_probe_command(const fs::path& dir, const fs::path& probe,
                                       const fs::path& out) {
  auto cmd = slurp(dir / kStubExeCmd);
  if (!cmd)
    return Error{dir.string() + " is not built for ARCH=um: no " + kStubExeCmd +
                     " (run make ARCH=um in the tree)",
                 ENOENT};
  auto c = probe_command(*cmd, probe.string(), out.string());
  if (!c) return Error{std::string(kStubExeCmd) + ": " + c.error().message, c.error().err};
  return c;
}

Result<Layout> probe_layout(const fs::path& dir) {
  char tmpl[] = "/tmp/stubfuzz-probe-XXXXXX";
  if (!mkdtemp(tmpl)) return Error::from_errno("mkdtemp");
  const fs::path tmp(tmpl);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } cleanup{tmp};
  { std::ofstream(tmp / "probe.c") << kProbeSource; }
  auto cmd = tree_probe_command(dir, tmp / "probe.c", tmp / "probe.s");
  if (!cmd) return cmd.error();
  const ToolRun r = run_tool(dir.string(), *cmd);
  if (r.status != 0) {
    std::string why;
    std::istringstream lines(r.output);
    for (std::string l; std::getline(lines, l);)
      if (l.find("error") != std::string::npos) {
        why = l;
        break;
      }
    return Error{
        "the layout probe (stub-data.h with the tree's flags for stub_exe.o) does not "
        "compile: " +
            (why.empty() ? first_line(r.output) : why),
        EINVAL};
  }
  auto s = slurp(tmp / "probe.s");
  if (!s) return s.error();
  return parse_probe_output(*s);
}

}  // namespace

Result<Tree> read_tree(const std::string& dir_arg) {
  std::error_code ec;
  const fs::path dir = fs::absolute(dir_arg, ec);
  if (!fs::is_directory(dir, ec))
    return Error{"--uml-tree " + dir_arg + ": no such directory", ENOENT};
  Tree t;
  t.dir = dir.string();
  auto source = slurp(dir / kStubExeSource);
  if (!source)
    return Error{
        dir_arg + " is not a kernel tree with UML's stub (no " + std::string(kStubExeSource) + ")",
        ENOENT};
  if (source->find("SECCOMP_SET_MODE_FILTER") == std::string::npos)
    return Error{dir_arg +
                     ": UML without the seccomp stub (stub_exe.c installs no filter; "
                     "seccomp mode is in 6.13 and later)",
                 ENOTSUP};
  t.new_listener = source->find("SECCOMP_FILTER_FLAG_NEW_LISTENER") != std::string::npos;
  t.stub_exe = (dir / kStubExe).string();
  if (!fs::is_regular_file(t.stub_exe, ec) || !fs::is_regular_file(dir / "linux", ec))
    return Error{dir_arg + " is not built for ARCH=um: no " +
                     std::string(fs::is_regular_file(t.stub_exe, ec) ? "linux" : kStubExe) +
                     " (run make ARCH=um in the tree)",
                 ENOENT};
  auto layout = probe_layout(dir);
  if (!layout) return Error{dir_arg + ": " + layout.error().message, layout.error().err};
  t.layout = *layout;
  auto elf = read_elf(dir / "linux", t.layout.page_size);
  if (!elf) return elf.error();
  auto sites = find_sites(dir / "linux", *elf);
  if (!sites) return sites.error();
  t.sites = std::move(*sites);
  t.page = std::move(elf->page);
  t.handler_offset = static_cast<uint32_t>(elf->values["stub_signal_interrupt"] - elf->start);
  t.restorer_offset = static_cast<uint32_t>(elf->values["stub_signal_restorer"] - elf->start);
  return t;
}

Result<std::string> probe_command(const std::string& cmd_file, const std::string& probe,
                                  const std::string& out) {
  std::string line = first_line(cmd_file);
  const auto eq = line.find(":=");
  if (line.rfind("savedcmd_", 0) != 0 && line.rfind("cmd_", 0) != 0)
    return Error{"not a kbuild command file", EINVAL};
  if (eq == std::string::npos) return Error{"no command", EINVAL};
  line = line.substr(eq + 2);
  std::istringstream words(line);
  std::string w, rebuilt;
  bool skip_next = false, has_c = false;
  while (words >> w) {
    if (skip_next) {
      skip_next = false;
      continue;
    }
    if (w == "-o" || w == "-MF") {
      skip_next = true;
      continue;
    }
    if (w.rfind("-Wp,-M", 0) == 0 || w == "-MD" || w == "-MMD") continue;
    if (w.size() > 10 && w.compare(w.size() - 10, 10, "stub_exe.c") == 0) continue;
    if (w == "-c") {
      has_c = true;
      w = "-S";
    }
    rebuilt += w + " ";
  }
  if (!has_c) return Error{"no compile (-c) command", EINVAL};
  return rebuilt + "-o " + quoted(out) + " " + quoted(probe);
}

Result<Layout> parse_probe_output(const std::string& assembly) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> v;
  // Values the monitor uses as offsets and sizes: a few digits, or none.
  static const std::regex entry(R"(->([a-z_.]+) \$?([0-9]{1,9}) \$?([0-9]{1,9})\b)");
  for (std::sregex_iterator it(assembly.begin(), assembly.end(), entry), end; it != end; ++it)
    v[(*it)[1]] = {std::stoull((*it)[2]), std::stoull((*it)[3])};
  bool missing = false;
  std::string which;
  auto get = [&](const char* name) -> uint32_t {
    auto it = v.find(name);
    if (it == v.end()) {
      missing = true;
      which = name;
      return 0;
    }
    return static_cast<uint32_t>(it->second.first);
  };
  auto field = [&](const char* name) {
    auto it = v.find(name);
    if (it == v.end()) {
      missing = true;
      which = name;
      return Field{};
    }
    return Field{static_cast<uint32_t>(it->second.first), static_cast<uint32_t>(it->second.second)};
  };
  Layout l;
  l.page_size = get("page_size");
  l.data_pages = get("data_pages");
  l.max_fds = get("max_fds");
  l.futex_in_child = get("futex_in_child");
  l.futex_in_kern = get("futex_in_kern");
  l.init.size = get("init.size");
  l.init.seccomp = field("init.seccomp");
  l.init.stub_start = field("init.stub_start");
  l.init.stub_code_fd = field("init.stub_code_fd");
  l.init.stub_code_offset = field("init.stub_code_offset");
  l.init.stub_data_fd = field("init.stub_data_fd");
  l.init.stub_data_offset = field("init.stub_data_offset");
  l.init.signal_handler = field("init.signal_handler");
  l.init.signal_restorer = field("init.signal_restorer");
  l.data.size = get("data.size");
  l.data.err = field("data.err");
  l.data.syscall_data_len = field("data.syscall_data_len");
  l.data.syscall_data = field("data.syscall_data");
  l.data.restart_wait = field("data.restart_wait");
  l.data.futex = field("data.futex");
  l.data.signal = field("data.signal");
  l.data.si_offset = field("data.si_offset");
  l.data.mctx_offset = field("data.mctx_offset");
  l.data.sigstack = field("data.sigstack");
  l.call.size = get("call.size");
  l.call.addr = field("call.addr");
  l.call.length = field("call.length");
  l.call.offset = field("call.offset");
  l.call.fd = field("call.fd");
  l.call.prot = field("call.prot");
  l.call.syscall = field("call.syscall");
  l.call.mmap = get("call.mmap");
  l.call.munmap = get("call.munmap");
  if (missing) return Error{"the layout probe's output lacks " + which, EINVAL};
  if (l.page_size != 4096 || l.data_pages == 0 || l.data_pages > 64 ||
      l.data.size > l.data_pages * l.page_size || l.data.futex.size != 4 || l.call.size == 0 ||
      l.data.sigstack.size < 1024 || l.init.stub_start.size != 8)
    return Error{"the layout probe read a layout stubfuzz cannot drive (page " +
                     std::to_string(l.page_size) + ", " + std::to_string(l.data_pages) +
                     " data pages, stub_data " + std::to_string(l.data.size) + " bytes)",
                 EINVAL};
  return l;
}

namespace {

// Whether an instruction (AT&T: the destination is the last operand) may
// overwrite rax; compares and tests only read it.
bool writes_rax(const std::string& mnemonic, const std::string& operands) {
  for (const char* reads_only : {"cmp", "test", "j", "nop", "ud2", "int3", "hlt", "push", "bt"})
    if (mnemonic.rfind(reads_only, 0) == 0 && mnemonic.rfind("cmpxchg", 0) != 0) return false;
  for (const char* writes : {"syscall", "cltq", "cwt", "cqt", "xchg", "cpuid", "rdtsc", "mul",
                             "div", "idiv", "imul", "lods", "cmpxchg", "ret", "call", "leave"})
    if (mnemonic.rfind(writes, 0) == 0) return true;
  std::string ops = operands.substr(0, operands.find('#'));
  while (!ops.empty() && std::isspace(static_cast<unsigned char>(ops.back()))) ops.pop_back();
  const auto comma = ops.rfind(',');
  const std::string dest = comma == std::string::npos ? ops : ops.substr(comma + 1);
  for (const char* r : {"%rax", "%eax", "%ax", "%al", "%ah"})
    if (dest == r) return true;
  return false;
}

}  // namespace

Result<std::vector<PageSite>> parse_sites(const std::string& disassembly, uint64_t start,
                                          const std::vector<uint8_t>& page) {
  static const std::regex fn(R"(^[0-9a-f]+ <([^>]+)>:)");
  static const std::regex insn(R"(^\s*([0-9a-f]{1,16}):\s+(syscall|int\s+\$0x80)\b)");
  static const std::regex any_insn(R"(^\s*[0-9a-f]{1,16}:\s+(\S+)\s*(.*)$)");
  std::vector<PageSite> sites;
  std::string current;
  bool after_site = false;
  std::istringstream lines(disassembly);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, fn)) current = m[1];
    if (after_site && std::regex_search(line, m, any_insn)) {
      sites.back().keeps_result = !writes_rax(m[1], m[2]);
      after_site = false;
    }
    if (!std::regex_search(line, m, insn)) continue;
    after_site = true;
    const uint64_t addr = std::stoull(m[1], nullptr, 16);
    if (addr < start || addr - start + 1 >= page.size())
      return Error{"objdump names a syscall at 0x" + m[1].str() + ", outside the stub page",
                   EINVAL};
    sites.push_back(
        {static_cast<uint32_t>(addr - start), m[2].str().rfind("int", 0) == 0, current});
  }
  if (sites.empty()) return Error{"no syscall instruction in the stub page", EINVAL};
  // A hijacked stub may jump into the middle of an instruction: the same
  // two bytes anywhere in the page are sites too.
  for (size_t at = 0; at + 1 < page.size(); at++) {
    const bool x86 = page[at] == 0x0f && page[at + 1] == 0x05;
    const bool ia32 = page[at] == 0xcd && page[at + 1] == 0x80;
    if ((!x86 && !ia32) ||
        std::any_of(sites.begin(), sites.end(), [&](const PageSite& s) { return s.offset == at; }))
      continue;
    sites.push_back({static_cast<uint32_t>(at), ia32, "(inside an instruction)"});
  }
  return sites;
}

std::string init_step(int code) {
  switch (code) {
    case 10:
      return "reading the init data from fd 0";
    case 11:
      return "mapping the stub code page";
    case 12:
      return "mapping the stub data pages";
    case 13:
      return "close_range(1, ~0U) (or, in ptrace mode, the SIGSEGV handler)";
    case 14:
      return "the SIGSEGV handler (ptrace mode)";
    case 15:
      return "the SIGSEGV handler";
    case 16:
      return "the SIGSYS handler";
    case 17:
      return "the SIGALRM handler";
    case 18:
      return "the SIGTRAP handler";
    case 19:
      return "the SIGILL handler";
    case 20:
      return "the SIGFPE handler";
    case 21:
      return "seccomp(SECCOMP_SET_MODE_FILTER)";
    case 30:
      return "its own exit after the filter (the filter did not trap it)";
    default:
      return "an unknown step";
  }
}

}  // namespace stubfuzz::uml
