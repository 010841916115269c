/* pidfd_open(2) and pidfd_getfd(2): how the tracker takes a copy of a descriptor that lives in the
 * target (needs PTRACE_MODE_ATTACH_REALCREDS over it, like ptrace). */
#define _GNU_SOURCE
#include "functions.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* pidfdOpen(pid, flags) → pidfd (close-on-exec). flags: 0, or PIDFD_THREAD (O_EXCL, Linux 6.9+) for
 * one thread, e.g. a live thread of a process whose leader has exited (its descriptor table is gone). */
napi_value dt_pidfd_open(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int64_t pid, flags;
  if (!dt_args(env, info, 2, argv) || !dt_get_int(env, argv[0], "pid", 1, INT32_MAX, &pid) ||
      !dt_get_int(env, argv[1], "flags", 0, INT32_MAX, &flags))
    return NULL;
  long fd = syscall(SYS_pidfd_open, (pid_t)pid, (unsigned int)flags);
  if (fd < 0) return dt_throw_errno(env, errno, "pidfd_open");
  NAPI_CALL(env, napi_create_int32(env, (int32_t)fd, &result));
  return result;
}

/* pidfdGetfd(pidfd, targetFd) → a new descriptor here for the same open file (close-on-exec) */
napi_value dt_pidfd_getfd(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int64_t pidfd, target_fd;
  if (!dt_args(env, info, 2, argv) || !dt_get_int(env, argv[0], "pidfd", 0, INT32_MAX, &pidfd) ||
      !dt_get_int(env, argv[1], "targetFd", 0, INT32_MAX, &target_fd))
    return NULL;
  long fd = syscall(SYS_pidfd_getfd, (int)pidfd, (int)target_fd, 0);
  if (fd < 0) return dt_throw_errno(env, errno, "pidfd_getfd");
  NAPI_CALL(env, napi_create_int32(env, (int32_t)fd, &result));
  return result;
}
