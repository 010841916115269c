/* seccomp-target --action A [--call userfaultfd|close] [--pages N]: installs a seccomp filter that
 * answers one system call with action A (allow: a filter that allows everything; strict: seccomp
 * strict mode, where only read, write, _exit and sigreturn are allowed) and every other call with ALLOW, then serves the lockstep protocol (write, check) plus `status`, which reports the
 * SIGSYS signals received (a TRAP handler counts them). The filter kills the process for any
 * architecture but x86-64, as sandboxes do. */
#define _GNU_SOURCE
#include "lockstep.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#ifndef SECCOMP_RET_LOG
#define SECCOMP_RET_LOG 0x7ffc0000U
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

static volatile sig_atomic_t sigsys_count;
static int listener = -1;

static void on_sigsys(int sig) {
  (void)sig;
  sigsys_count++;
}

static bool handle(const char *cmd, char *args) {
  if (hostile_handle(cmd, args)) return true;
  if (strcmp(cmd, "status") != 0) return false;
  out_begin("ok");
  out_str("cmd", "status");
  out_raw(",\"sigsys\":%d,\"listener\":%d", (int)sigsys_count, listener);
  out_end();
  return true;
}

static uint32_t action_of(const char *name) {
  static const struct { const char *name; uint32_t ret; } actions[] = {
      {"kill_process", SECCOMP_RET_KILL_PROCESS}, {"kill_thread", SECCOMP_RET_KILL_THREAD},
      {"trap", SECCOMP_RET_TRAP}, {"errno", SECCOMP_RET_ERRNO | EPERM}, {"trace", SECCOMP_RET_TRACE},
      {"user_notif", SECCOMP_RET_USER_NOTIF}, {"log", SECCOMP_RET_LOG}, {"allow", SECCOMP_RET_ALLOW}};
  for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
    if (strcmp(name, actions[i].name) == 0) return actions[i].ret;
  die_usage("unknown --action %s", name);
}

int main(int argc, char **argv) {
  static const char *const values[] = {"--pages", "--action", "--call", NULL};
  static const char *const flags[] = {NULL};
  hostile_init(argc, argv, "seccomp-target --action kill_process|kill_thread|trap|errno|trace|user_notif|log|allow [--call userfaultfd|close] [--pages N]", values, flags);
  const char *action = arg_value("--action");
  if (!action) die_usage("--action is required");
  if (strcmp(action, "strict") == 0) {
    /* stdio must not allocate or fstat later: give it its buffers now. */
    static char inbuf[4096], outbuf[4096];
    setvbuf(stdin, inbuf, _IOFBF, sizeof inbuf);
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    free(malloc(1 << 16)); /* the heap holds what getline and the replies need */
    emit_ready_begin(); /* getpid: before strict mode. A driver waits for Seccomp: 1 in /proc/PID/status. */
    out_end();
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) < 0) die_errno("prctl(PR_SET_SECCOMP)");
    command_loop(handle, NULL); /* its exit(0) is exit_group: strict mode kills the process then */
  }
  const char *call = arg_value("--call") ? arg_value("--call") : "userfaultfd";
  uint32_t nr = strcmp(call, "close") == 0 ? __NR_close : strcmp(call, "userfaultfd") == 0 ? __NR_userfaultfd : (die_usage("unknown --call %s", call), 0);
  uint32_t ret = action_of(action);

  if (ret == SECCOMP_RET_TRAP) {
    struct sigaction sa = {.sa_handler = on_sigsys};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) < 0) die_errno("sigaction");
  }
  struct sock_filter only[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, ret),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_filter all[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  bool allow = ret == SECCOMP_RET_ALLOW;
  struct sock_fprog prog = {.len = allow ? 1 : sizeof only / sizeof only[0], .filter = allow ? all : only};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die_errno("prctl(PR_SET_NO_NEW_PRIVS)");
  unsigned long fflags = ret == SECCOMP_RET_USER_NOTIF ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
  long r = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, fflags, &prog);
  if (r < 0) die_errno("seccomp");
  if (fflags) listener = (int)r; /* nobody answers it: a notified call would wait forever */

  emit_ready_begin();
  out_end();
  command_loop(handle, NULL);
}
