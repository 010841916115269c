#define _GNU_SOURCE
#include "napi-util.h"
#include "runs.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void dt_throw_napi(napi_env env, napi_status status, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  const char *detail = "unknown Node-API error";
  if (napi_get_last_error_info(env, &info) == napi_ok && info && info->error_message)
    detail = info->error_message;
  char msg[256];
  snprintf(msg, sizeof msg, "dirtytrack native: %s failed (status %d: %s)", what, (int)status, detail);
  napi_throw_error(env, NULL, msg);
}

static const char *errno_name(int err, char *buf, size_t len) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(err);
  if (name) return name;
#endif
  snprintf(buf, len, "E%d", err);
  return buf;
}

bool dt_set_named(napi_env env, napi_value obj, const char *name, napi_value value) {
  NAPI_CALL_BOOL(env, napi_set_named_property(env, obj, name, value));
  return true;
}

bool dt_typed_array(napi_env env, napi_typedarray_type type, size_t length, size_t elem, void **data,
                    napi_value *out) {
  napi_value buffer;
  NAPI_CALL_BOOL(env, napi_create_arraybuffer(env, length * elem, data, &buffer));
  NAPI_CALL_BOOL(env, napi_create_typedarray(env, type, length, buffer, 0, out));
  return true;
}

static void free_runs(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* Smaller lists are copied into a new JavaScript array and the walk keeps its list, whose pages are
 * already faulted in: a list handed over is fresh memory every call, faulted in page by page as the
 * walk fills it, which costs more than the copy. Lists this large are handed over instead, so that a
 * million runs are never in memory twice. The same bound as RUNS_KEEP_BYTES: a list kept is never
 * larger than the biggest one copied. */
#define RUNS_HAND_OVER_BYTES RUNS_KEEP_BYTES

bool dt_runs_array(napi_env env, struct runs *r, napi_value *out) {
  size_t bytes = r->n * sizeof *r->v;
  napi_value buffer;
  if (bytes < RUNS_HAND_OVER_BYTES) {
    void *data;
    if (!dt_typed_array(env, napi_float64_array, r->n * 2, sizeof(double), &data, out)) return false;
    if (bytes) memcpy(data, r->v, bytes);
    runs_trim(r);
    return true;
  }
  struct run *v = realloc(r->v, bytes); /* shrink to fit: what JavaScript holds is exactly the answer */
  if (v) r->v = v;
  NAPI_CALL_BOOL(env, napi_create_external_arraybuffer(env, r->v, bytes, free_runs, NULL, &buffer));
  *r = (struct runs){0}; /* the buffer owns the memory now; the next call starts a new list */
  NAPI_CALL_BOOL(env, napi_create_typedarray(env, napi_float64_array, bytes / sizeof(double), buffer, 0, out));
  return true;
}

napi_value dt_errno_error(napi_env env, int err, const char *syscall) {
  char namebuf[16], msg[256];
  const char *name = errno_name(err, namebuf, sizeof namebuf);
  snprintf(msg, sizeof msg, "%s: %s (%s)", syscall, strerror(err), name);
  napi_value message, code, errnum, sc, error;
  NAPI_CALL(env, napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message));
  NAPI_CALL(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code));
  NAPI_CALL(env, napi_create_error(env, NULL, message, &error));
  NAPI_CALL(env, napi_create_int32(env, -err, &errnum));
  NAPI_CALL(env, napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc));
  if (!dt_set_named(env, error, "code", code) || !dt_set_named(env, error, "errno", errnum) ||
      !dt_set_named(env, error, "syscall", sc))
    return NULL;
  return error;
}

napi_value dt_throw_errno(napi_env env, int err, const char *syscall) {
  napi_value error = dt_errno_error(env, err, syscall);
  if (error) {
    napi_status s = napi_throw(env, error);
    if (s != napi_ok) dt_throw_napi(env, s, "napi_throw");
  }
  return NULL;
}

napi_value dt_throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

bool dt_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  NAPI_CALL_BOOL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != n) {
    char msg[64];
    snprintf(msg, sizeof msg, "expected %zu arguments, got %zu", n, argc);
    dt_throw_type(env, msg);
    return false;
  }
  return true;
}

static bool type_error(napi_env env, const char *name, const char *want) {
  char msg[128];
  snprintf(msg, sizeof msg, "argument '%s' must be %s", name, want);
  dt_throw_type(env, msg);
  return false;
}

bool dt_get_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  NAPI_CALL_BOOL(env, napi_typeof(env, v, &t));
  if (t != napi_number) return type_error(env, name, "an integer number");
  double d;
  NAPI_CALL_BOOL(env, napi_get_value_double(env, v, &d));
  if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max)
    return type_error(env, name, "an integer in range");
  *out = (int64_t)d;
  return true;
}

bool dt_get_u64(napi_env env, napi_value v, const char *name, uint64_t *out) {
  napi_valuetype t;
  NAPI_CALL_BOOL(env, napi_typeof(env, v, &t));
  if (t == napi_bigint) {
    bool lossless = false;
    NAPI_CALL_BOOL(env, napi_get_value_bigint_uint64(env, v, out, &lossless));
    if (!lossless) return type_error(env, name, "a BigInt in [0, 2^64)");
    return true;
  }
  int64_t i;
  if (t != napi_number) return type_error(env, name, "a BigInt or a non-negative integer");
  if (!dt_get_int(env, v, name, 0, 9007199254740991LL, &i)) return false;
  *out = (uint64_t)i;
  return true;
}

bool dt_get_bool(napi_env env, napi_value v, const char *name, bool *out) {
  napi_valuetype t;
  NAPI_CALL_BOOL(env, napi_typeof(env, v, &t));
  if (t != napi_boolean) return type_error(env, name, "a boolean");
  NAPI_CALL_BOOL(env, napi_get_value_bool(env, v, out));
  return true;
}
