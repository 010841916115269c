/* fork-writer [--pages N]: lockstep (write, check) in the parent; `fork` starts a child (same memory,
 * copied), which the parent then drives: `child-write` and `child-check` do in the child what `write`
 * and `check` do in the parent (the child prints its own reply; its values are 1000 + phase). The
 * child dies with the parent. A child inherits every descriptor of its parent, a tracker's
 * userfaultfd too: the target of "a child is its own process". */
#define _GNU_SOURCE
#include "lockstep.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t child = -1;
static int to_child = -1, from_child = -1;

static void child_loop(int in, int out) {
  char c;
  hostile_value_base = 1000;
  while (read(in, &c, 1) == 1) {
    hostile_handle(c == 'w' ? "write" : "check", "");
    if (write(out, &c, 1) != 1) break;
  }
  _exit(0);
}

static bool ask_child(char c) {
  if (child < 0) {
    emit_error("no child: send fork first");
    return true;
  }
  if (write(to_child, &c, 1) != 1 || read(from_child, &c, 1) != 1) emit_error("child gone");
  return true;
}

static bool handle(const char *cmd, char *args) {
  if (hostile_handle(cmd, args)) return true;
  if (strcmp(cmd, "child-write") == 0) return ask_child('w');
  if (strcmp(cmd, "child-check") == 0) return ask_child('c');
  if (strcmp(cmd, "fork") != 0) return false;
  if (child >= 0) {
    emit_error("already forked");
    return true;
  }
  int down[2], up[2];
  if (pipe(down) < 0 || pipe(up) < 0) die_errno("pipe");
  pid_t parent = getpid();
  child = fork();
  if (child < 0) die_errno("fork");
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    close(down[1]), close(up[0]);
    child_loop(down[0], up[1]);
  }
  close(down[0]), close(up[1]);
  to_child = down[1], from_child = up[0];
  out_begin("ok");
  out_str("cmd", "fork");
  out_raw(",\"child\":%d", (int)child);
  out_end();
  return true;
}

static void on_exit_kill_child(void) {
  if (child > 0) kill(child, SIGKILL), waitpid(child, NULL, 0);
}

int main(int argc, char **argv) {
  static const char *const values[] = {"--pages", NULL};
  static const char *const flags[] = {NULL};
  hostile_init(argc, argv, "fork-writer [--pages N]", values, flags);
  emit_ready_begin();
  out_end();
  command_loop(handle, on_exit_kill_child);
}
