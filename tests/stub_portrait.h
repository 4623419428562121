// A stub as the kernel shows it, for tests that prove two stubs the same
// (stub_factory_test: factory against seed path; stub_reset_test: reset
// against fresh): memory map, fd table, status (credentials, capabilities,
// signal masks and dispositions, seccomp), namespaces, limits and, as root,
// the installed filters read back with PTRACE_SECCOMP_GET_FILTER.
#pragma once

#include <linux/filter.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "kernel/proc.h"
#include "stub/stub.h"

namespace stubfuzz::testing_support {

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// /proc/<pid>/maps without inode numbers: address range, protections, path.
inline std::string mappings(pid_t pid) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/maps"));
  std::string line, out;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string range, perms, offset, dev, inode, path;
    f >> range >> perms >> offset >> dev >> inode;
    std::getline(f, path);
    path.erase(0, path.find_first_not_of(' '));
    // The second thread's stack: anonymous, wherever mmap put it.
    const auto dash = range.find('-');
    if (path.empty() && perms == "rw-p" && dash != std::string::npos &&
        std::stoull(range.substr(dash + 1), nullptr, 16) -
                std::stoull(range.substr(0, dash), nullptr, 16) ==
            STUB_THREAD2_STACK_SIZE)
      range = "(thread stack)";
    // The stack and vdso move with ASLR; their presence is compared.
    if (path == "[stack]" || path == "[vdso]" || path == "[vvar]" || path == "[vsyscall]" ||
        path == "[vvar_vclock]")
      range = "-";
    out += range + " " + perms + " " + path + "\n";
  }
  return out;
}

// The lines of /proc/<pid>/status that make a stub what it is.
inline std::string status_lines(pid_t pid) {
  std::istringstream in(slurp("/proc/" + std::to_string(pid) + "/status"));
  std::string line, out;
  const std::regex keep(
      "^(Uid|Gid|Groups|NoNewPrivs|Seccomp|Seccomp_filters|Threads|SigBlk|SigIgn|SigCgt|CapInh|"
      "CapPrm|CapEff|CapBnd|CapAmb|Speculation_Store_Bypass):.*");
  while (std::getline(in, line))
    if (std::regex_match(line, keep)) out += line + "\n";
  return out;
}

inline std::string fd_table(const Stub& s) {
  std::string out;
  for (int fd = 0; fd < 8; fd++) {
    std::string t = s.fd_target(fd);
    if (t.rfind("socket:", 0) == 0) t = "socket";
    out += std::to_string(fd) + "=" + t + "\n";
  }
  return out;
}

inline std::string namespaces(pid_t pid) {
  std::string out;
  for (const char* ns : {"user", "mnt", "net", "ipc", "uts", "pid", "cgroup"}) {
    char target[128] = {};
    const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + ns;
    (void)!readlink(path.c_str(), target, sizeof(target) - 1);
    out += std::string(ns) + "=" + target + "\n";
  }
  return out;
}

// Every filter installed, newest first, as root can read them.
inline std::string filters(pid_t pid) {
  if (geteuid() != 0) return "(not root)";
  auto all = kernel::seccomp_filters(pid);
  if (!all) return "(" + all.error().message + ")";
  std::string out;
  for (size_t i = 0; i < all->size(); i++) {
    out += "filter " + std::to_string(i) + ":";
    for (const sock_filter& f : (*all)[i])
      out += " " + std::to_string(f.code) + "/" + std::to_string(f.jt) + "/" +
             std::to_string(f.jf) + "/" + std::to_string(f.k);
    out += "\n";
  }
  return out;
}

inline std::map<std::string, std::string> portrait(const Stub& s) {
  const pid_t pid = s.pid();
  std::map<std::string, std::string> p;
  p["maps"] = mappings(pid);
  p["status"] = status_lines(pid);
  p["fds"] = fd_table(s);
  p["namespaces"] = namespaces(pid);
  p["limits"] = slurp("/proc/" + std::to_string(pid) + "/limits");
  p["filters"] = filters(pid);
  p["seccomp_ret"] = std::to_string(s.seccomp_ret());
  return p;
}

}  // namespace stubfuzz::testing_support
