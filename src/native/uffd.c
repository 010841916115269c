/* userfaultfd(2) and its ioctls. The descriptor may belong to another process's mm (taken with
 * pidfd_getfd): every uffd ioctl acts on the mm that created the descriptor, not on ours. */
#define _GNU_SOURCE
#include "functions.h"
#include "kernel-abi.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static long ioctl_retry(int fd, unsigned long request, void *arg) {
  long r;
  do r = ioctl(fd, request, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

/* userfaultfd(flags) → fd, in this process (for probing). */
napi_value dt_userfaultfd(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int64_t flags;
  if (!dt_args(env, info, 1, argv) || !dt_get_int(env, argv[0], "flags", 0, INT32_MAX, &flags)) return NULL;
  long fd = syscall(SYS_userfaultfd, (int)flags);
  if (fd < 0) return dt_throw_errno(env, errno, "userfaultfd");
  NAPI_CALL(env, napi_create_int32(env, (int32_t)fd, &result));
  return result;
}

/* uffdApi(fd, features) → the features the kernel reports as available. Fails (EINVAL) when a
 * requested feature is unknown to the kernel, or when the handshake was already done. */
napi_value dt_uffd_api(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int64_t fd;
  uint64_t features;
  if (!dt_args(env, info, 2, argv) || !dt_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
      !dt_get_u64(env, argv[1], "features", &features))
    return NULL;
  struct uffdio_api api = {.api = UFFD_API, .features = features};
  if (ioctl_retry((int)fd, UFFDIO_API, &api) < 0) return dt_throw_errno(env, errno, "ioctl(UFFDIO_API)");
  NAPI_CALL(env, napi_create_bigint_uint64(env, api.features, &result));
  return result;
}

static bool get_range(napi_env env, napi_value *argv, int64_t *fd, uint64_t *start, uint64_t *len) {
  return dt_get_int(env, argv[0], "fd", 0, INT32_MAX, fd) && dt_get_u64(env, argv[1], "start", start) &&
         dt_get_u64(env, argv[2], "len", len);
}

/* uffdRegister(fd, start, len, mode) → the ioctls available on the range (bit mask). */
napi_value dt_uffd_register(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  int64_t fd;
  uint64_t start, len, mode;
  if (!dt_args(env, info, 4, argv) || !get_range(env, argv, &fd, &start, &len) ||
      !dt_get_u64(env, argv[3], "mode", &mode))
    return NULL;
  struct uffdio_register reg = {.range = {.start = start, .len = len}, .mode = mode};
  if (ioctl_retry((int)fd, UFFDIO_REGISTER, &reg) < 0) return dt_throw_errno(env, errno, "ioctl(UFFDIO_REGISTER)");
  NAPI_CALL(env, napi_create_bigint_uint64(env, reg.ioctls, &result));
  return result;
}

/* uffdUnregister(fd, start, len) */
napi_value dt_uffd_unregister(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int64_t fd;
  uint64_t start, len;
  if (!dt_args(env, info, 3, argv) || !get_range(env, argv, &fd, &start, &len)) return NULL;
  struct uffdio_range range = {.start = start, .len = len};
  if (ioctl_retry((int)fd, UFFDIO_UNREGISTER, &range) < 0)
    return dt_throw_errno(env, errno, "ioctl(UFFDIO_UNREGISTER)");
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}

/* uffdWriteprotect(fd, start, len, wp) */
napi_value dt_uffd_writeprotect(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  int64_t fd;
  uint64_t start, len;
  bool wp;
  if (!dt_args(env, info, 4, argv) || !get_range(env, argv, &fd, &start, &len) ||
      !dt_get_bool(env, argv[3], "wp", &wp))
    return NULL;
  struct uffdio_writeprotect arg = {.range = {.start = start, .len = len},
                                    .mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
  if (ioctl_retry((int)fd, UFFDIO_WRITEPROTECT, &arg) < 0)
    return dt_throw_errno(env, errno, "ioctl(UFFDIO_WRITEPROTECT)");
  NAPI_CALL(env, napi_get_undefined(env, &result));
  return result;
}
