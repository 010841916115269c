/* pagemapScanWalk: every page of each given range that PAGEMAP_SCAN matches, with as many ioctl
 * calls as it takes, merged into sorted page runs. The loop lives here, not in TypeScript, because
 * a scan can return a million regions, and a process has dozens of mappings: here each region costs
 * a few nanoseconds and no object, and a whole scan is one call from JS.
 *
 * The ioctl stops early when the vector is full and says where in walk_end, so the walk resumes
 * there. Known kernel bug (seen on 6.12 and 6.18): the last regions of a call can end past that
 * call's walk_end (1 GiB, every 100th page written, 4096-region vector: 62 of 2,622 pages returned
 * twice; the kernel refills an internal buffer several times per call and leaves walk_end where its
 * last refill began). Resuming from walk_end re-examines those pages: with WP_MATCHING they are
 * protected by then and do not match again; without, they come back. Resuming from the last
 * region's end instead would skip pages the kernel may not have examined, so walk_end is trusted
 * for progress, and what a call returns past it (the overshoot) is held back and merged in order
 * with the next call's regions, which start at that walk_end. Runs thus arrive in order and are
 * merged as they come.
 *
 * For tests the ioctl can be a JS function (start, end, out: BigUint64Array) → { count, walkEnd }
 * that throws errors shaped like the addon's (negative .errno, .count, .walkEnd) to fail.
 *
 * One file past 300 lines on purpose: the resume loop, the overshoot hold-back and the run merge share
 * one per-call state; split apart, each would take all of it as arguments. */
#define _GNU_SOURCE
#include "functions.h"
#include "kernel-abi.h"
#include "napi-util.h"
#include "runs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define PAGE_SHIFT 12

static int cmp_run(const void *a, const void *b) {
  const struct run *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* Sort and merge overlapping or touching runs v[0..n), in place; returns how many are left. */
static size_t runs_normalize(struct run *v, size_t n) {
  if (n < 2) return n;
  qsort(v, n, sizeof *v, cmp_run);
  size_t k = 0;
  for (size_t i = 1; i < n; i++) {
    if (v[i].start <= v[k].end) {
      if (v[i].end > v[k].end) v[k].end = v[i].end;
    } else {
      v[++k] = v[i];
    }
  }
  return k + 1;
}

struct walk {
  struct runs out;  /* the answer: the current range's runs start at out.v[first] */
  size_t first;
  size_t written;   /* vector entries the last call wrote: zeroed before the next, so a failure can be counted */
  struct runs held; /* returned past the last walk_end: merged once the walk has passed them */
  struct runs next;
  double pages;     /* in the current range's runs, while in order */
  bool disordered;  /* a kernel breaking the order: sorted and counted at the end instead */
  bool nomem;
  uint64_t calls, overshoots;
};

static inline void walk_add(struct walk *w, double s, double e) {
  if (e <= s) return;
  if (w->out.n > w->first) {
    struct run *last = &w->out.v[w->out.n - 1];
    if (s >= last->start && s <= last->end) {
      if (e > last->end) {
        w->pages += e - last->end;
        last->end = e;
      }
      return;
    }
    if (s < last->start) w->disordered = true;
  }
  if (!runs_push(&w->out, s, e)) w->nomem = true;
  w->pages += e - s;
}

/* Take one call's `count` regions; returns the largest region end seen (bytes). */
static uint64_t walk_collect(struct walk *w, const struct page_region *vec, size_t count, uint64_t walk_end,
                             double start_page, double end_page, uint64_t keep) {
  double we = (double)(walk_end >> PAGE_SHIFT);
  uint64_t last_end = 0;
  size_t h = 0;
  w->next.n = 0;
  for (size_t i = 0; i < count; i++) {
    double s = (double)(vec[i].start >> PAGE_SHIFT), e = (double)(vec[i].end >> PAGE_SHIFT);
    if (e > we) w->overshoots++;
    if (vec[i].end > last_end) last_end = vec[i].end;
    if (keep && !(vec[i].categories & keep)) continue;
    if (s < start_page) s = start_page;
    if (e > end_page) e = end_page;
    if (e <= s) continue;
    while (h < w->held.n && w->held.v[h].start <= s) {
      walk_add(w, w->held.v[h].start, w->held.v[h].end);
      h++;
    }
    if (e > we && we > 0) {
      if (s < we) walk_add(w, s, we);
      if (!runs_push(&w->next, s > we ? s : we, e)) w->nomem = true;
    } else {
      walk_add(w, s, e);
    }
  }
  /* Held runs not yet passed stay held, ahead of this call's overshoot (both ascend). */
  memmove(w->held.v, w->held.v + h, (w->held.n - h) * sizeof *w->held.v);
  w->held.n -= h;
  for (size_t i = 0; i < w->next.n; i++)
    if (!runs_push(&w->held, w->next.v[i].start, w->next.v[i].end)) w->nomem = true;
  w->held.n = runs_normalize(w->held.v, w->held.n);
  return last_end;
}

/* ---- the call: the real ioctl or a JS stand-in ---- */

struct caller {
  napi_env env;
  int fd;             /* the real ioctl when >= 0 */
  napi_value fake;    /* else this JS function */
  napi_value out;     /* BigUint64Array over the vector, for the fake */
  napi_value pending; /* an exception from the fake that is not an ioctl failure: rethrown */
};

/* 0, or the errno of a failed call; -1 when a JS exception must be rethrown. *n: regions written. */
static int call_scan(struct caller *c, struct pm_scan_arg *arg, size_t *n) {
  if (c->fd >= 0) {
    long r;
    do r = ioctl(c->fd, PAGEMAP_SCAN, arg);
    while (r < 0 && errno == EINTR);
    if (r < 0) return errno;
    *n = (size_t)r;
    return 0;
  }
  napi_env env = c->env;
  napi_value argv[3], global, result;
  if (napi_create_bigint_uint64(env, arg->start, &argv[0]) != napi_ok ||
      napi_create_bigint_uint64(env, arg->end, &argv[1]) != napi_ok || napi_get_global(env, &global) != napi_ok)
    return -1;
  argv[2] = c->out;
  bool threw = napi_call_function(env, global, c->fake, 3, argv, &result) != napi_ok;
  if (threw) {
    if (napi_get_and_clear_last_exception(env, &result) != napi_ok) return -1;
    c->pending = result;
  }
  napi_value count, walk_end, errno_v;
  int64_t cnt = 0, err = 0;
  uint64_t we = 0;
  bool lossless;
  if (napi_get_named_property(env, result, "count", &count) != napi_ok ||
      napi_get_value_int64(env, count, &cnt) != napi_ok ||
      napi_get_named_property(env, result, "walkEnd", &walk_end) != napi_ok ||
      napi_get_value_bigint_uint64(env, walk_end, &we, &lossless) != napi_ok)
    return -1;
  if (threw && (napi_get_named_property(env, result, "errno", &errno_v) != napi_ok ||
                napi_get_value_int64(env, errno_v, &err) != napi_ok || err >= 0))
    return -1;
  c->pending = NULL;
  *n = (size_t)cnt;
  arg->walk_end = we;
  return threw ? (int)-err : 0;
}

/* ---- one range ---- */

struct query {
  uint64_t flags, mask, inverted, anyof, ret_mask, keep;
};

/* Walk [start, end) into w->out (its runs from w->first on). Returns 0, the errno of a failed call
 * (w->out holds what the kernel returned before), -1 when a JS exception is pending, or -2 when
 * walk_end stopped advancing with nothing returned (*stalled_at says where). */
static int walk_range(struct walk *w, struct caller *c, struct page_region *vec, size_t vec_len, uint64_t start,
                      uint64_t end, const struct query *q, uint64_t *stalled_at) {
  double start_page = (double)(start >> PAGE_SHIFT), end_page = (double)(end >> PAGE_SHIFT);
  uint64_t pos = start;
  int err = 0;
  w->held.n = 0;
  w->pages = 0;
  w->disordered = false;
  while (pos < end && !w->nomem) {
    memset(vec, 0, w->written * sizeof *vec);
    w->written = 0;
    struct pm_scan_arg arg = {
        .size = sizeof arg,
        .flags = q->flags,
        .start = pos,
        .end = end,
        .vec = (uint64_t)(uintptr_t)vec,
        .vec_len = vec_len,
        .category_inverted = q->inverted,
        .category_mask = q->mask,
        .category_anyof_mask = q->anyof,
        .return_mask = q->ret_mask,
    };
    size_t n = 0;
    w->calls++;
    err = call_scan(c, &arg, &n);
    if (err < 0) return -1;
    if (err) { /* what the kernel wrote out before failing (with WP_MATCHING: already protected) */
      n = 0;
      while (n < vec_len && vec[n].end != 0) n++;
      w->written = n;
      walk_collect(w, vec, n, arg.walk_end ? arg.walk_end : pos, start_page, end_page, q->keep);
      break;
    }
    if (n > vec_len) n = vec_len;
    w->written = n;
    uint64_t last_end = walk_collect(w, vec, n, arg.walk_end, start_page, end_page, q->keep);
    if (arg.walk_end > pos) pos = arg.walk_end;
    else if (last_end > pos) pos = last_end; /* no walk_end progress but output: never loop in place */
    else {
      *stalled_at = pos;
      err = -2;
      break;
    }
  }
  for (size_t i = 0; i < w->held.n; i++) walk_add(w, w->held.v[i].start, w->held.v[i].end);
  if (w->disordered) {
    struct run *v = w->out.v + w->first;
    w->out.n = w->first + runs_normalize(v, w->out.n - w->first);
    w->pages = 0;
    for (size_t i = w->first; i < w->out.n; i++) w->pages += w->out.v[i].end - w->out.v[i].start;
  }
  return err;
}

/* ---- the export ---- */

/* Kept from one call to the next (per thread: workers have their own), so that scans do not fault
 * in fresh memory for the vector and the run lists each time. */
static __thread struct {
  struct page_region *vec;
  size_t vec_cap;
  size_t vec_dirty; /* entries the last call may have left non-zero: only those are zeroed again */
  struct runs out, held, next;
} scratch;

/* pagemapScanWalk(fdOrFake, ranges: BigUint64Array [start0, end0, …] (page-aligned, ascending),
 *                 flags, categoryMask, categoryInvertedMask, categoryAnyofMask, returnMask, keepAnyOf,
 *                 vecRegions)
 *   → { runs: Float64Array [start, end, …] in page numbers, sorted and merged within each range;
 *       bounds: Uint32Array: range i's runs are runs[2 * bounds[i] .. 2 * bounds[i + 1]);
 *       pages: Float64Array, per range; errnos: Int32Array, per range: 0, or the errno that stopped
 *       its walk (its runs hold what came before; after any errno but EPERM the later ranges are
 *       not walked and read -1); calls, overshoots; stalledAt?: bigint (walk_end stopped advancing
 *       there with nothing returned: that range reads EIO and the walk stops) }
 * keepAnyOf: drop regions whose categories include none of these (0: keep all). EPERM (with
 * PM_SCAN_CHECK_WPASYNC: a mapping without async uffd-wp) stops only its own range. */
napi_value dt_pagemap_scan_walk(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!dt_args(env, info, 9, argv)) return NULL;
  struct caller c = {.env = env, .fd = -1};
  napi_valuetype kind;
  NAPI_CALL(env, napi_typeof(env, argv[0], &kind));
  int64_t fd = -1, vec_regions;
  if (kind == napi_function) c.fake = argv[0];
  else if (!dt_get_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  c.fd = (int)fd;
  bool is_typed = false;
  NAPI_CALL(env, napi_is_typedarray(env, argv[1], &is_typed));
  if (!is_typed) return dt_throw_type(env, "argument 'ranges' must be a BigUint64Array");
  napi_typedarray_type type;
  size_t length = 0;
  void *ranges_data = NULL;
  NAPI_CALL(env, napi_get_typedarray_info(env, argv[1], &type, &length, &ranges_data, NULL, NULL));
  if (type != napi_biguint64_array || length % 2) return dt_throw_type(env, "argument 'ranges' must be a BigUint64Array of (start, end) pairs");
  const uint64_t *ranges = ranges_data;
  size_t nranges = length / 2;
  struct query q;
  if (!dt_get_u64(env, argv[2], "flags", &q.flags) || !dt_get_u64(env, argv[3], "categoryMask", &q.mask) ||
      !dt_get_u64(env, argv[4], "categoryInvertedMask", &q.inverted) ||
      !dt_get_u64(env, argv[5], "categoryAnyofMask", &q.anyof) || !dt_get_u64(env, argv[6], "returnMask", &q.ret_mask) ||
      !dt_get_u64(env, argv[7], "keepAnyOf", &q.keep) || !dt_get_int(env, argv[8], "vecRegions", 1, 1 << 20, &vec_regions))
    return NULL;
  uint64_t most_pages = 0;
  for (size_t i = 0; i < nranges; i++) {
    uint64_t start = ranges[2 * i], end = ranges[2 * i + 1];
    if ((start | end) & ((1u << PAGE_SHIFT) - 1) || end < start || (i && start < ranges[2 * i - 1]))
      return dt_throw_type(env, "ranges must be page-aligned, each start <= end, ascending and disjoint");
    if ((end - start) >> PAGE_SHIFT > most_pages) most_pages = (end - start) >> PAGE_SHIFT;
  }

  /* No more regions per call than pages in the largest range. */
  size_t vec_len = (size_t)(most_pages < (uint64_t)vec_regions ? (most_pages ? most_pages : 1) : (uint64_t)vec_regions);
  struct page_region *vec;
  if (c.fake) { /* a JS-visible vector */
    void *data;
    if (!dt_typed_array(env, napi_biguint64_array, vec_len * 3, sizeof(uint64_t), &data, &c.out)) return NULL;
    vec = data;
  } else {
    if (scratch.vec_cap < vec_len) {
      free(scratch.vec);
      scratch.vec_cap = scratch.vec_dirty = 0;
      if (!(scratch.vec = calloc(vec_len, sizeof *vec))) return dt_throw_errno(env, ENOMEM, "pagemapScanWalk");
      scratch.vec_cap = vec_len;
    }
    vec = scratch.vec;
  }

  void *data;
  napi_value bounds_v, pages_v, errnos_v;
  if (!dt_typed_array(env, napi_uint32_array, nranges + 1, sizeof(uint32_t), &data, &bounds_v)) return NULL;
  uint32_t *bounds = data;
  if (!dt_typed_array(env, napi_float64_array, nranges, sizeof(double), &data, &pages_v)) return NULL;
  double *pages = data;
  if (!dt_typed_array(env, napi_int32_array, nranges, sizeof(int32_t), &data, &errnos_v)) return NULL;
  int32_t *errnos = data;

  /* walk_range zeroes the entries the previous call wrote before each call: the vector is all zero. */
  struct walk w = {.out = scratch.out, .held = scratch.held, .next = scratch.next, .written = c.fake ? 0 : scratch.vec_dirty};
  w.out.n = 0;
  uint64_t stalled_at = 0;
  bool stalled = false, pending = false;
  size_t i = 0;
  for (; i < nranges && !w.nomem; i++) {
    w.first = w.out.n;
    bounds[i] = (uint32_t)w.first;
    int err = walk_range(&w, &c, vec, vec_len, ranges[2 * i], ranges[2 * i + 1], &q, &stalled_at);
    pages[i] = w.pages;
    if (err == -1) {
      pending = true;
      break;
    }
    errnos[i] = err == -2 ? EIO : err;
    if (err == -2) stalled = true;
    if (err && err != EPERM) {
      i++;
      break;
    }
  }
  for (size_t j = i; j < nranges; j++) {
    bounds[j] = (uint32_t)w.out.n;
    errnos[j] = -1;
  }
  bounds[nranges] = (uint32_t)w.out.n;
  scratch.out = w.out;
  if (!c.fake) scratch.vec_dirty = w.written; /* never above vec_cap */
  scratch.held = w.held;
  scratch.next = w.next;
  runs_trim(&scratch.held);
  runs_trim(&scratch.next);

  if (w.nomem || pending || w.out.n > UINT32_MAX) {
    runs_trim(&scratch.out);
    if (pending && c.pending) NAPI_CALL(env, napi_throw(env, c.pending));
    if (pending) return NULL; /* a Node-API failure: its exception is pending */
    return dt_throw_errno(env, ENOMEM, "pagemapScanWalk");
  }
  napi_value runs_v, result, v;
  if (!dt_runs_array(env, &scratch.out, &runs_v)) return NULL;
  NAPI_CALL(env, napi_create_object(env, &result));
  if (!dt_set_named(env, result, "runs", runs_v) || !dt_set_named(env, result, "bounds", bounds_v) ||
      !dt_set_named(env, result, "pages", pages_v) || !dt_set_named(env, result, "errnos", errnos_v))
    return NULL;
  NAPI_CALL(env, napi_create_double(env, (double)w.calls, &v));
  if (!dt_set_named(env, result, "calls", v)) return NULL;
  NAPI_CALL(env, napi_create_double(env, (double)w.overshoots, &v));
  if (!dt_set_named(env, result, "overshoots", v)) return NULL;
  if (stalled) {
    NAPI_CALL(env, napi_create_bigint_uint64(env, stalled_at, &v));
    if (!dt_set_named(env, result, "stalledAt", v)) return NULL;
  }
  return result;
}
