/* pagemapReadWalk: the soft-dirty pages of every given range in one call, reading each pagemap
 * entry with pread as the plain TypeScript reader does (src/proc/pagemap.ts, which stays the reader
 * without the addon). Here a region costs its pread and nothing else: no call from JavaScript per
 * region or per chunk, no object. Entries are read in chunks of 64K (512 KiB, as
 * tools/mm/page-types.c does) into one buffer kept between calls. */
#define _GNU_SOURCE
#include "functions.h"
#include "napi-util.h"
#include "runs.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define CHUNK_ENTRIES 65536
#define PM_SOFT_DIRTY (1ull << 55)
#define PM_PRESENT_OR_SWAPPED ((1ull << 63) | (1ull << 62))

static __thread struct {
  uint64_t *buf;
  struct runs out;
} scratch;

/* A read that did not return every byte asked for: where, and the errno (0 for a short read). */
struct failure {
  double page;
  int err;
  ssize_t got, want;
};

/* Soft-dirty pages of [start, end) appended to *out (merged with its last run when they touch).
 * Returns the pages found, or -1 with *f filled when a read fails. */
static double read_range(int fd, uint64_t start, uint64_t end, uint64_t need, struct runs *out, size_t first,
                         struct failure *f, bool *nomem) {
  uint64_t *buf = scratch.buf;
  double pages = 0;
  for (uint64_t base = start; base < end; base += CHUNK_ENTRIES) {
    size_t n = end - base < CHUNK_ENTRIES ? (size_t)(end - base) : CHUNK_ENTRIES;
    ssize_t want = (ssize_t)(n * 8), got;
    do got = pread(fd, buf, (size_t)want, (off_t)(base * 8));
    while (got < 0 && errno == EINTR);
    if (got != want) {
      *f = (struct failure){.page = (double)base, .err = got < 0 ? errno : 0, .got = got < 0 ? 0 : got, .want = want};
      return -1;
    }
    size_t j = 0;
    while (j < n) {
      /* Almost every entry is clean: skip four at a time while none is soft-dirty. */
      while (j + 4 <= n && !((buf[j] | buf[j + 1] | buf[j + 2] | buf[j + 3]) & PM_SOFT_DIRTY)) j += 4;
      if (j >= n) break;
      uint64_t e = buf[j];
      if (!(e & PM_SOFT_DIRTY) || (need && !(e & need))) {
        j++;
        continue;
      }
      size_t k = j + 1;
      while (k < n && (buf[k] & PM_SOFT_DIRTY) && (!need || (buf[k] & need))) k++;
      double s = (double)(base + j), e_ = (double)(base + k);
      pages += e_ - s;
      if (out->n > first && out->v[out->n - 1].end == s) out->v[out->n - 1].end = e_;
      else if (!runs_push(out, s, e_)) *nomem = true;
      j = k;
    }
  }
  return pages;
}

/* pagemapReadWalk(fd, ranges: Float64Array [startPage0, endPage0, …] (ascending), includeUnpopulated)
 *   → { runs: Float64Array [start, end, …] in page numbers, sorted and merged within each range;
 *       bounds: Uint32Array: range i's runs are runs[2 * bounds[i] .. 2 * bounds[i + 1]);
 *       pages: Float64Array, dirty pages per range;
 *       failure?: { range, page, errno, got, want }: a pread that failed (errno) or came back short
 *       (errno 0) at page `page` of range `range`; the walk stopped there }
 * A page counts when bit 55 is set and, unless includeUnpopulated, bit 63 or 62 (present or swapped). */
napi_value dt_pagemap_read_walk(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!dt_args(env, info, 3, argv)) return NULL;
  int64_t fd;
  bool include_unpopulated, is_typed = false;
  if (!dt_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd) ||
      !dt_get_bool(env, argv[2], "includeUnpopulated", &include_unpopulated))
    return NULL;
  NAPI_CALL(env, napi_is_typedarray(env, argv[1], &is_typed));
  napi_typedarray_type type;
  size_t length = 0;
  void *ranges_data = NULL;
  if (is_typed) NAPI_CALL(env, napi_get_typedarray_info(env, argv[1], &type, &length, &ranges_data, NULL, NULL));
  if (!is_typed || type != napi_float64_array || length % 2)
    return dt_throw_type(env, "argument 'ranges' must be a Float64Array of (startPage, endPage) pairs");
  const double *ranges = ranges_data;
  size_t nranges = length / 2;
  for (size_t i = 0; i < nranges; i++) {
    double s = ranges[2 * i], e = ranges[2 * i + 1];
    if (!(s >= 0) || !(e >= s) || e > 9007199254740992.0 || s != (double)(uint64_t)s || e != (double)(uint64_t)e ||
        (i && s < ranges[2 * i - 1]))
      return dt_throw_type(env, "ranges must be whole page numbers, each start <= end, ascending and disjoint");
  }
  if (!scratch.buf && !(scratch.buf = malloc(CHUNK_ENTRIES * 8))) return dt_throw_errno(env, ENOMEM, "pagemapReadWalk");

  void *data;
  napi_value bounds_v, pages_v, result;
  if (!dt_typed_array(env, napi_uint32_array, nranges + 1, sizeof(uint32_t), &data, &bounds_v)) return NULL;
  uint32_t *bounds = data;
  if (!dt_typed_array(env, napi_float64_array, nranges, sizeof(double), &data, &pages_v)) return NULL;
  double *pages = data;

  struct runs *out = &scratch.out;
  out->n = 0;
  struct failure f = {0};
  bool nomem = false, failed = false;
  size_t i = 0;
  uint64_t need = include_unpopulated ? 0 : PM_PRESENT_OR_SWAPPED;
  for (; i < nranges && !nomem; i++) {
    bounds[i] = (uint32_t)out->n;
    double got = read_range((int)fd, (uint64_t)ranges[2 * i], (uint64_t)ranges[2 * i + 1], need, out, out->n, &f, &nomem);
    if (got < 0) {
      failed = true;
      break;
    }
    pages[i] = got;
  }
  for (size_t j = i; j <= nranges; j++) bounds[j] = (uint32_t)out->n;
  if (nomem || out->n > UINT32_MAX) {
    runs_trim(out);
    return dt_throw_errno(env, ENOMEM, "pagemapReadWalk");
  }
  napi_value runs_v, v;
  if (!dt_runs_array(env, out, &runs_v)) return NULL;
  NAPI_CALL(env, napi_create_object(env, &result));
  if (!dt_set_named(env, result, "runs", runs_v) || !dt_set_named(env, result, "bounds", bounds_v) ||
      !dt_set_named(env, result, "pages", pages_v))
    return NULL;
  if (failed) {
    napi_value fo;
    NAPI_CALL(env, napi_create_object(env, &fo));
    const struct { const char *name; double value; } fields[] = {
        {"range", (double)i}, {"page", f.page}, {"errno", f.err}, {"got", (double)f.got}, {"want", (double)f.want}};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
      NAPI_CALL(env, napi_create_double(env, fields[k].value, &v));
      if (!dt_set_named(env, fo, fields[k].name, v)) return NULL;
    }
    if (!dt_set_named(env, result, "failure", fo)) return NULL;
  }
  return result;
}
