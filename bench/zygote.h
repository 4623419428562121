// The zygote strategy. The stub cannot serve as a zygote (it reads its init
// data once and goes straight to its filter), so the template is a helper:
// this binary re-exec'd with --stubfuzz-zygote. Per stub it receives the
// socket and data memfd by SCM_RIGHTS, clone()s with CLONE_PARENT (the stub
// becomes the benchmark's child, so waitid(P_PIDFD) reaps it) and execveat's
// the image, and sends back the pidfd.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace stubfuzz::bench {

inline constexpr const char* kZygoteFlag = "--stubfuzz-zygote";

// The helper's main: serves requests on `sock_fd` until it closes.
int zygote_main(int sock_fd);

// Starts the helper on first use; "" or what failed.
std::string zygote_start();
// Kills and reaps the helper, if started.
void zygote_stop();
// One stub from the helper: pid and a pidfd, both owned by the caller.
std::string zygote_spawn(int stub_sock, int data_fd, pid_t* pid, int* pidfd);

// SCM_RIGHTS, shared with the factory floor (raw_stub.cc): a message with up
// to two fds. recv_fds returns the fd count, or -1.
int recv_fds(int sock, void* buf, size_t len, int fds[2]);
bool send_fds(int sock, const void* buf, size_t len, const int* fds, int n);

}  // namespace stubfuzz::bench
