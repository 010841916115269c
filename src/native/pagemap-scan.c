/* pagemapScan: one PAGEMAP_SCAN ioctl, for probes and single calls. Walks that resume across calls
 * are pagemap-walk.c's, which tests drive through a fake ioctl (src/proc/pagemap-ioctl.ts). */
#define _GNU_SOURCE
#include "functions.h"
#include "kernel-abi.h"
#include "napi-util.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

/* pagemapScan(fd, start, end, flags, categoryMask, categoryInvertedMask, categoryAnyofMask,
 *             returnMask, maxPages, out: BigUint64Array) → { count, walkEnd }
 * out receives `count` (start, end, categories) triples. On failure the thrown error also carries
 * `count` and `walkEnd`: with PM_SCAN_WP_MATCHING the kernel may already have write-protected (and
 * written out) some regions before failing, and those must not be dropped. */
napi_value dt_pagemap_scan(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  if (!dt_args(env, info, 10, argv)) return NULL;
  int64_t fd;
  uint64_t start, end, flags, mask, inverted, anyof, ret_mask, max_pages;
  if (!dt_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) || !dt_get_u64(env, argv[1], "start", &start) ||
      !dt_get_u64(env, argv[2], "end", &end) || !dt_get_u64(env, argv[3], "flags", &flags) ||
      !dt_get_u64(env, argv[4], "categoryMask", &mask) ||
      !dt_get_u64(env, argv[5], "categoryInvertedMask", &inverted) ||
      !dt_get_u64(env, argv[6], "categoryAnyofMask", &anyof) ||
      !dt_get_u64(env, argv[7], "returnMask", &ret_mask) || !dt_get_u64(env, argv[8], "maxPages", &max_pages))
    return NULL;

  bool is_typed = false;
  NAPI_CALL(env, napi_is_typedarray(env, argv[9], &is_typed));
  if (!is_typed) return dt_throw_type(env, "argument 'out' must be a BigUint64Array");
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  NAPI_CALL(env, napi_get_typedarray_info(env, argv[9], &type, &length, &data, NULL, NULL));
  if (type != napi_biguint64_array || length < 3)
    return dt_throw_type(env, "argument 'out' must be a BigUint64Array of at least 3 elements");

  size_t vec_len = length / 3;
  /* Zeroed so that after a failure the regions written so far can be counted (end is never 0). */
  memset(data, 0, vec_len * sizeof(struct page_region));
  struct pm_scan_arg arg = {
      .size = sizeof arg,
      .flags = flags,
      .start = start,
      .end = end,
      .vec = (uint64_t)(uintptr_t)data,
      .vec_len = vec_len,
      .max_pages = max_pages,
      .category_inverted = inverted,
      .category_mask = mask,
      .category_anyof_mask = anyof,
      .return_mask = ret_mask,
  };
  long n;
  do n = ioctl((int)fd, PAGEMAP_SCAN, &arg);
  while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : 0;

  if (err) {
    const struct page_region *r = data;
    size_t written = 0;
    while (written < vec_len && r[written].end != 0) written++;
    n = (long)written;
  }
  napi_value result, count, walk_end;
  NAPI_CALL(env, napi_create_int64(env, n, &count));
  NAPI_CALL(env, napi_create_bigint_uint64(env, arg.walk_end, &walk_end));
  if (err) {
    result = dt_errno_error(env, err, "ioctl(PAGEMAP_SCAN)");
    if (!result) return NULL;
  } else {
    NAPI_CALL(env, napi_create_object(env, &result));
  }
  if (!dt_set_named(env, result, "count", count) || !dt_set_named(env, result, "walkEnd", walk_end))
    return NULL;
  if (err) {
    NAPI_CALL(env, napi_throw(env, result));
    return NULL;
  }
  return result;
}
