/* Argument and error helpers shared by the addon's functions. Every Node-API status is checked:
 * a failed call throws (unless an exception is already pending) and the function returns NULL. */
#ifndef DIRTYTRACK_NAPI_UTIL_H
#define DIRTYTRACK_NAPI_UTIL_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAPI_CALL(env, call)                                                                       \
  do {                                                                                             \
    napi_status dt_status_ = (call);                                                               \
    if (dt_status_ != napi_ok) {                                                                   \
      dt_throw_napi((env), dt_status_, #call);                                                     \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

/* Same, for helpers that return bool. */
#define NAPI_CALL_BOOL(env, call)                                                                  \
  do {                                                                                             \
    napi_status dt_status_ = (call);                                                               \
    if (dt_status_ != napi_ok) {                                                                   \
      dt_throw_napi((env), dt_status_, #call);                                                     \
      return false;                                                                                \
    }                                                                                              \
  } while (0)

void dt_throw_napi(napi_env env, napi_status status, const char *what);

/* A JS Error shaped like Node's system errors: message "<syscall>: <strerror>", .code = errno name,
 * .errno = -err (Node's sign), .syscall. Returns NULL (not thrown) on failure to build it. */
napi_value dt_errno_error(napi_env env, int err, const char *syscall);
/* Builds and throws it; always returns NULL so callers can `return dt_throw_errno(...)`. */
napi_value dt_throw_errno(napi_env env, int err, const char *syscall);
napi_value dt_throw_type(napi_env env, const char *message);

/* Exactly `n` arguments into argv, else TypeError. */
bool dt_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv);
/* Integer arguments: a JS number holding an integer in range. */
bool dt_get_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out);
/* Unsigned 64-bit: a BigInt (lossless) or a non-negative safe-integer number. */
bool dt_get_u64(napi_env env, napi_value v, const char *name, uint64_t *out);
bool dt_get_bool(napi_env env, napi_value v, const char *name, bool *out);

/* A new TypedArray of `length` elements of `elem` bytes over a new ArrayBuffer; *data points at its bytes. */
bool dt_typed_array(napi_env env, napi_typedarray_type type, size_t length, size_t elem, void **data, napi_value *out);

struct runs;
/* The runs as a new Float64Array [start0, end0, …]: copied when small (the list is kept for the next
 * call), handed over whole when large (the list is emptied). */
bool dt_runs_array(napi_env env, struct runs *r, napi_value *out);

bool dt_set_named(napi_env env, napi_value obj, const char *name, napi_value value);

#endif
