#include "zygote.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "raw_stub_child.h"
#include "stub/stub_image.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace stubfuzz::bench {

namespace {

int g_zygote_sock = -1;
int g_zygote_pidfd = -1;

struct Reply {
  int32_t pid;
  int32_t err;
};

}  // namespace

// A message with up to two fds; returns the fd count, or -1.
int recv_fds(int sock, void* buf, size_t len, int fds[2]) {
  iovec iov{buf, len};
  alignas(cmsghdr) char ctl[CMSG_SPACE(2 * sizeof(int))];
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl;
  m.msg_controllen = sizeof(ctl);
  if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) <= 0) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  if (!c || c->cmsg_type != SCM_RIGHTS) return 0;
  const int n = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
  memcpy(fds, CMSG_DATA(c), n * sizeof(int));
  return n;
}

bool send_fds(int sock, const void* buf, size_t len, const int* fds, int n) {
  iovec iov{const_cast<void*>(buf), len};
  alignas(cmsghdr) char ctl[CMSG_SPACE(2 * sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (n > 0) {
    m.msg_control = ctl;
    m.msg_controllen = CMSG_SPACE(n * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, n * sizeof(int));
  }
  return sendmsg(sock, &m, MSG_NOSIGNAL) >= 0;
}

int zygote_main(int sock) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto image = stub_image_fd();
  if (!image) return 1;
  alignas(16) static char stack[16384];
  for (;;) {
    char req = 0;
    int fds[2] = {-1, -1};
    if (recv_fds(sock, &req, 1, fds) != 2) return 0;
    ChildArgs args{*image, fds[0], fds[1], 0, false};
    int pidfd = -1;
    // CLONE_PARENT: the stub is the benchmark's child, which reaps it.
    pid_t pid = clone(exec_stub_child, stack + sizeof(stack),
                      CLONE_VM | CLONE_VFORK | CLONE_PARENT | CLONE_PIDFD, &args, &pidfd);
    Reply r{pid, pid < 0 ? errno : args.failed_errno};
    close(fds[0]);
    close(fds[1]);
    send_fds(sock, &r, sizeof(r), &pidfd, pidfd >= 0 ? 1 : 0);
    if (pidfd >= 0) close(pidfd);
  }
}

std::string zygote_start() {
  if (g_zygote_sock >= 0) return "";
  int s[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s) < 0)
    return std::string("socketpair: ") + strerror(errno);
  pid_t pid = fork();
  if (pid < 0) return std::string("fork: ") + strerror(errno);
  if (pid == 0) {
    // fd 3 without close-on-exec: the zygote's end.
    if (dup3(s[1], 3, 0) < 0 && s[1] != 3) _exit(126);
    if (s[1] == 3) fcntl(3, F_SETFD, 0);
    const char* argv[] = {"stubfuzz_bench", kZygoteFlag, "3", nullptr};
    execv("/proc/self/exe", const_cast<char* const*>(argv));
    _exit(127);
  }
  close(s[1]);
  g_zygote_sock = s[0];
  g_zygote_pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return "";
}

void zygote_stop() {
  if (g_zygote_pidfd >= 0) {
    syscall(SYS_pidfd_send_signal, g_zygote_pidfd, SIGKILL, nullptr, 0);
    siginfo_t si{};
    waitid(static_cast<idtype_t>(P_PIDFD), g_zygote_pidfd, &si, WEXITED);
    close(g_zygote_pidfd);
  }
  if (g_zygote_sock >= 0) close(g_zygote_sock);
  g_zygote_pidfd = g_zygote_sock = -1;
}

std::string zygote_spawn(int stub_sock, int data_fd, pid_t* pid, int* pidfd) {
  if (auto e = zygote_start(); !e.empty()) return e;
  const int fds[2] = {stub_sock, data_fd};
  const char req = 'S';
  if (!send_fds(g_zygote_sock, &req, 1, fds, 2))
    return std::string("sendmsg(zygote): ") + strerror(errno);
  Reply r{};
  int got[2] = {-1, -1};
  if (recv_fds(g_zygote_sock, &r, sizeof(r), got) != 1)
    return "zygote: no pidfd in its reply (errno " + std::to_string(r.err) + ")";
  if (r.err) {
    close(got[0]);
    return std::string("zygote: clone/execveat: ") + strerror(r.err);
  }
  *pid = r.pid;
  *pidfd = got[0];
  return "";
}

}  // namespace stubfuzz::bench
