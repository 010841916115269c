/* injectSyscall: make another process execute one system call, e.g. userfaultfd() or close(fd).
 *
 * The ptrace work runs in a short-lived forked helper, not in Node's thread: if the target never
 * stops (uninterruptible sleep, a vfork parent), killing the helper makes the kernel detach the
 * target cleanly, whereas a tracer that gives up but lives on leaves a stopped target behind. The
 * helper only makes raw system calls (no malloc, no locks), as a child of a threaded process must.
 *
 * Steps (x86-64): PTRACE_SEIZE; PTRACE_INTERRUPT; wait for the PTRACE_EVENT_STOP (signals that are
 * reported first are delivered as usual); save the registers; point rip at an existing `syscall`
 * instruction (the caller finds one, normally in the vDSO: nothing in the target is written), set
 * rax = nr, the arguments in rdi, rsi, rdx, r10, r8, r9, and orig_rax = -1 so that an interrupted
 * system call of the target is not restarted over ours; PTRACE_SINGLESTEP over the instruction;
 * read rax; restore the saved registers (with them the interrupted call's -ERESTART* value and
 * orig_rax, so the kernel restarts it exactly as it would have); PTRACE_DETACH. Signals that
 * arrive while stepping are held and re-delivered at detach. Only the thread given is stopped:
 * the other threads of a multi-threaded target keep running.
 *
 * seccompFilters runs the same attach-and-stop, reads the thread's seccomp filters with
 * PTRACE_SECCOMP_GET_FILTER (needs CAP_SYS_ADMIN and a stopped tracee) into memory shared with the
 * parent, and detaches without touching a register. injectSyscall can be given the number of filters
 * that were checked: it then verifies, while the thread is stopped and before any register changes,
 * that no filter was added since (seccomp filters are only ever added).
 *
 * Over 300 lines on purpose: the helper's attach, stop, step, restore and detach, and the parent that
 * watches it, are one protocol whose every error path must be read together. */
#define _GNU_SOURCE
#include "functions.h"

#if defined(__x86_64__)

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <linux/filter.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PTRACE_SEIZE
#define PTRACE_SEIZE 0x4206
#endif
#ifndef PTRACE_INTERRUPT
#define PTRACE_INTERRUPT 0x4207
#endif
#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

/* The kernel caps the instructions of all filters of a thread at 32768 (MAX_INSNS_PER_PATH). */
#define MAX_FILTER_INSNS 32768
#define MAX_FILTERS 8192

struct filters {
  uint32_t count;
  uint32_t total;
  uint32_t len[MAX_FILTERS]; /* len[0] is the newest filter (index 0 of PTRACE_SECCOMP_GET_FILTER) */
  struct sock_filter insns[MAX_FILTER_INSNS];
};

enum op { OP_INJECT, OP_FILTERS };

struct job {
  enum op op;
  pid_t pid;
  uint64_t sc_addr, nr, a[6];
  int64_t expect_filters; /* OP_INJECT: -1, or the number of filters the caller checked */
  struct filters *filters; /* OP_FILTERS: shared with the parent */
};

#define USER_CS_64 0x33 /* x86-64 user code segment; 0x23 is a 32-bit (compat) process */
#define MAX_HELD_SIGNALS 8
#define MAX_STOPS 256

/* How far the helper got, so the parent can say what state a timed-out target is in. */
enum stage { ST_START, ST_SEIZED, ST_STOPPED, ST_MODIFIED, ST_RESTORED, ST_DONE };

struct report {
  int32_t stage;
  int32_t err; /* errno of the failed step, 0 on success */
  int64_t result; /* rax after the injected system call */
  char step[64];  /* the failed step, e.g. "ptrace(PTRACE_SEIZE)" */
};

static void send_report(int fd, const struct report *r) {
  ssize_t n;
  do n = write(fd, r, sizeof *r); /* <= PIPE_BUF: atomic */
  while (n < 0 && errno == EINTR);
}

static int fail(int fd, struct report *r, int err, const char *step) {
  r->err = err;
  snprintf(r->step, sizeof r->step, "%s", step);
  send_report(fd, r);
  return -1;
}

static pid_t wait_tracee(pid_t pid, int *status) {
  pid_t r;
  do r = waitpid(pid, status, __WALL);
  while (r < 0 && errno == EINTR);
  return r;
}

/* Reads every filter of the stopped `pid` into f; 0, or -1 with errno and the step in *step. */
static int read_filters(pid_t pid, struct filters *f, const char **step) {
  f->count = f->total = 0;
  for (unsigned long i = 0;; i++) {
    long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, i, NULL);
    if (n < 0 && errno == ENOENT) return 0; /* past the oldest filter */
    *step = "ptrace(PTRACE_SECCOMP_GET_FILTER)";
    if (n < 0) return -1;
    if (i >= MAX_FILTERS || n > MAX_FILTER_INSNS - (long)f->total) {
      errno = E2BIG;
      return -1;
    }
    if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, i, &f->insns[f->total]) != n) return -1;
    f->len[f->count++] = (uint32_t)n;
    f->total += (uint32_t)n;
  }
}

/* Whether the stopped `pid` still has exactly `expect` filters (filters are only ever added). */
static bool same_filters(pid_t pid, int64_t expect) {
  if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (unsigned long)expect, NULL) >= 0) return false;
  if (expect == 0) return true; /* EINVAL: no filter mode; EACCES: not checkable, and none were seen */
  return errno == ENOENT && ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (unsigned long)expect - 1, NULL) >= 0;
}

/* Runs in the helper. Reports progress on `out` and ends with one final report. */
static void helper(int out, const struct job *job) {
  pid_t pid = job->pid;
  uint64_t sc_addr = job->sc_addr, nr = job->nr;
  const uint64_t *a = job->a;
  struct report r = {.stage = ST_START};
  int held[MAX_HELD_SIGNALS], nheld = 0, status = 0;
  struct user_regs_struct saved, regs;

  if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0) {
    fail(out, &r, errno, "ptrace(PTRACE_SEIZE)");
    return;
  }
  r.stage = ST_SEIZED;
  send_report(out, &r);
  if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) {
    fail(out, &r, errno, "ptrace(PTRACE_INTERRUPT)");
    return;
  }
  for (int i = 0;; i++) {
    if (wait_tracee(pid, &status) < 0) {
      fail(out, &r, errno, "waitpid");
      return;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      fail(out, &r, ESRCH, "waitpid (target exited)");
      return;
    }
    if (!WIFSTOPPED(status)) continue;
    if (status >> 16 == PTRACE_EVENT_STOP) break; /* the interrupt, or a group-stop: either will do */
    /* A signal-delivery-stop came first: let the signal through untouched. */
    int sig = (status >> 16) == 0 ? WSTOPSIG(status) : 0;
    if (i >= MAX_STOPS || ptrace(PTRACE_CONT, pid, 0, sig) < 0) {
      fail(out, &r, i >= MAX_STOPS ? EAGAIN : errno, "ptrace(PTRACE_CONT) while waiting for the stop");
      return;
    }
  }
  r.stage = ST_STOPPED;
  send_report(out, &r);

  if (job->op == OP_FILTERS) {
    const char *step = "";
    if (read_filters(pid, job->filters, &step) < 0) fail(out, &r, errno, step);
    goto detach;
  }
  if (ptrace(PTRACE_GETREGS, pid, 0, &saved) < 0) {
    fail(out, &r, errno, "ptrace(PTRACE_GETREGS)");
    goto detach;
  }
  if (saved.cs != USER_CS_64) {
    fail(out, &r, ENOEXEC, "32-bit target (x86-64 only)");
    goto detach;
  }
  if (job->expect_filters >= 0 && !same_filters(pid, job->expect_filters)) {
    fail(out, &r, ESTALE, "seccomp filters changed since they were checked");
    goto detach;
  }
  regs = saved;
  regs.rip = sc_addr;
  regs.rax = nr;
  regs.orig_rax = (unsigned long long)-1;
  regs.rdi = a[0], regs.rsi = a[1], regs.rdx = a[2], regs.r10 = a[3], regs.r8 = a[4], regs.r9 = a[5];
  if (ptrace(PTRACE_SETREGS, pid, 0, &regs) < 0) {
    fail(out, &r, errno, "ptrace(PTRACE_SETREGS)");
    goto detach;
  }
  r.stage = ST_MODIFIED;
  send_report(out, &r);

  for (int i = 0;; i++) {
    int sig = 0;
    if (i >= MAX_STOPS) {
      fail(out, &r, EAGAIN, "too many stops while stepping");
      goto restore;
    }
    if (ptrace(PTRACE_SINGLESTEP, pid, 0, 0) < 0) {
      fail(out, &r, errno, "ptrace(PTRACE_SINGLESTEP)");
      goto restore;
    }
    if (wait_tracee(pid, &status) < 0) {
      fail(out, &r, errno, "waitpid");
      return;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      fail(out, &r, ESRCH, "waitpid (target exited while stepping)");
      return;
    }
    if (!WIFSTOPPED(status)) continue;
    if (status >> 16 == 0) sig = WSTOPSIG(status);
    if (ptrace(PTRACE_GETREGS, pid, 0, &regs) < 0) {
      fail(out, &r, errno, "ptrace(PTRACE_GETREGS)");
      goto restore;
    }
    if (regs.rip == sc_addr + 2) {
      /* The instruction ran. The stop is our step's SIGTRAP, or a signal that came after it. */
      if (sig && sig != SIGTRAP && nheld < MAX_HELD_SIGNALS) held[nheld++] = sig;
      break;
    }
    /* Stopped before the instruction ran (a signal arrived): hold the signal, step again. */
    if (sig && nheld < MAX_HELD_SIGNALS) held[nheld++] = sig;
  }
  r.result = (int64_t)regs.rax;

restore:
  if (ptrace(PTRACE_SETREGS, pid, 0, &saved) < 0) {
    fail(out, &r, errno, "ptrace(PTRACE_SETREGS) restoring the registers");
    return; /* do not detach: the target would resume in the wrong place; the helper's exit does */
  }
  r.stage = ST_RESTORED;
  send_report(out, &r);

detach:
  if (ptrace(PTRACE_DETACH, pid, 0, nheld ? held[0] : 0) < 0 && !r.err) {
    fail(out, &r, errno, "ptrace(PTRACE_DETACH)");
    return;
  }
  for (int i = 1; i < nheld; i++) kill(pid, held[i]);
  if (r.err) return; /* the failure report was already sent */
  r.stage = ST_DONE;
  send_report(out, &r);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *stage_name(int stage) {
  switch (stage) {
  case ST_START: return "not attached";
  case ST_SEIZED: return "attached, not yet stopped: nothing was changed";
  case ST_STOPPED: return "stopped, registers untouched";
  case ST_MODIFIED: return "stopped with modified registers: the target may crash";
  case ST_RESTORED: return "registers restored";
  default: return "done";
  }
}

/* Runs `job` in a forked helper and waits for its last report, at most timeout_ms. Returns true on
 * success; otherwise throws the JS error (with .stage) and returns false. */
static bool run_helper(napi_env env, const struct job *job, int64_t timeout_ms, struct report *done) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return dt_throw_errno(env, errno, "pipe2"), false;
  pid_t child = fork();
  if (child < 0) {
    int err = errno;
    close(fds[0]), close(fds[1]);
    return dt_throw_errno(env, err, "fork"), false;
  }
  if (child == 0) {
    close(fds[0]);
    helper(fds[1], job);
    _exit(0);
  }
  close(fds[1]);

  /* Read reports until the helper closes the pipe (it exited) or the time is up. */
  struct report last = {.stage = ST_START, .err = EIO};
  snprintf(last.step, sizeof last.step, "injection helper");
  size_t have = 0;
  struct report buf;
  bool timed_out = false;
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    int pr = poll(&p, 1, (int)left);
    if (pr < 0 && errno == EINTR) continue;
    if (pr == 0) {
      timed_out = true;
      break;
    }
    ssize_t n = read(fds[0], (char *)&buf + have, sizeof buf - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += (size_t)n;
    if (have == sizeof buf) last = buf, have = 0;
  }
  close(fds[0]);
  if (timed_out) kill(child, SIGKILL); /* the kernel detaches the target as the helper dies */
  int st;
  while (waitpid(child, &st, 0) < 0 && errno == EINTR) {}

  if (!timed_out && last.stage == ST_DONE && !last.err) {
    *done = last;
    return true;
  }
  char step[160];
  int err = timed_out ? ETIMEDOUT : last.err ? last.err : EIO;
  if (timed_out)
    snprintf(step, sizeof step, "ptrace injection timed out after %lld ms (%s)", (long long)timeout_ms,
             stage_name(last.stage));
  else
    snprintf(step, sizeof step, "%s", last.step);
  napi_value error = dt_errno_error(env, err, step), stage;
  if (!error) return false;
  if (napi_create_string_utf8(env, stage_name(last.stage), NAPI_AUTO_LENGTH, &stage) != napi_ok) return false;
  if (!dt_set_named(env, error, "stage", stage)) return false;
  napi_throw(env, error);
  return false;
}

/* injectSyscall(pid, syscallAddr, nr, args: bigint[6], timeoutMs, expectFilters) → bigint: the raw
 * return value (-errno on failure of the injected call). Throws, with .code/.errno/.syscall and
 * .stage, when the injection itself fails. expectFilters: -1, or the seccomp filters checked. */
napi_value dt_inject_syscall(napi_env env, napi_callback_info info) {
  napi_value argv[6], result;
  int64_t pid, timeout_ms, expect;
  struct job job = {.op = OP_INJECT};
  if (!dt_args(env, info, 6, argv) || !dt_get_int(env, argv[0], "pid", 1, INT32_MAX, &pid) ||
      !dt_get_u64(env, argv[1], "syscallAddr", &job.sc_addr) || !dt_get_u64(env, argv[2], "nr", &job.nr) ||
      !dt_get_int(env, argv[4], "timeoutMs", 1, INT32_MAX, &timeout_ms) ||
      !dt_get_int(env, argv[5], "expectFilters", -1, MAX_FILTERS, &expect))
    return NULL;
  bool is_array = false;
  uint32_t len = 0;
  NAPI_CALL(env, napi_is_array(env, argv[3], &is_array));
  if (is_array) NAPI_CALL(env, napi_get_array_length(env, argv[3], &len));
  if (!is_array || len != 6) return dt_throw_type(env, "argument 'args' must be an array of 6 BigInts");
  for (uint32_t i = 0; i < 6; i++) {
    napi_value v;
    NAPI_CALL(env, napi_get_element(env, argv[3], i, &v));
    if (!dt_get_u64(env, v, "args[i]", &job.a[i])) return NULL;
  }
  job.pid = (pid_t)pid;
  job.expect_filters = expect;
  struct report done;
  if (!run_helper(env, &job, timeout_ms, &done)) return NULL;
  NAPI_CALL(env, napi_create_bigint_int64(env, done.result, &result));
  return result;
}

/* seccompFilters(tid, timeoutMs) → Buffer[]: the classic BPF programs (struct sock_filter[]) of
 * thread `tid`, newest first, as PTRACE_SECCOMP_GET_FILTER returns them. */
napi_value dt_seccomp_filters(napi_env env, napi_callback_info info) {
  napi_value argv[2], list;
  int64_t pid, timeout_ms;
  if (!dt_args(env, info, 2, argv) || !dt_get_int(env, argv[0], "tid", 1, INT32_MAX, &pid) ||
      !dt_get_int(env, argv[1], "timeoutMs", 1, INT32_MAX, &timeout_ms))
    return NULL;
  struct filters *f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (f == MAP_FAILED) return dt_throw_errno(env, errno, "mmap");
  struct job job = {.op = OP_FILTERS, .pid = (pid_t)pid, .expect_filters = -1, .filters = f};
  struct report done;
  napi_value ret = NULL;
  if (run_helper(env, &job, timeout_ms, &done) && napi_create_array_with_length(env, f->count, &list) == napi_ok) {
    ret = list;
    for (uint32_t i = 0, at = 0; i < f->count && ret; at += f->len[i], i++) {
      napi_value b;
      if (napi_create_buffer_copy(env, f->len[i] * sizeof f->insns[0], &f->insns[at], NULL, &b) != napi_ok ||
          napi_set_element(env, list, i, b) != napi_ok)
        ret = NULL;
    }
  }
  munmap(f, sizeof *f);
  return ret;
}

#else /* not x86-64: register layout and instruction differ; no injection */
#include <errno.h>
napi_value dt_inject_syscall(napi_env env, napi_callback_info info) {
  (void)info;
  return dt_throw_errno(env, ENOSYS, "injectSyscall (x86-64 only)");
}
napi_value dt_seccomp_filters(napi_env env, napi_callback_info info) {
  (void)info;
  return dt_throw_errno(env, ENOSYS, "seccompFilters (x86-64 only)");
}
#endif
