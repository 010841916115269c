/* c-uffd-scan: the C reference for dirtytrack's uffd-wp backend scan (src/backends/uffd-wp.ts) on
 * another process whose memory someone else has already registered for async userfaultfd
 * write-protection (UFFD_FEATURE_WP_ASYNC). One scan reads /proc/PID/maps, skips what pagemap cannot
 * describe (as c-scan does), opens /proc/PID/pagemap and, for every mapping, issues PAGEMAP_SCAN
 * (Linux 6.7+) with category PAGE_IS_WRITTEN and PM_SCAN_CHECK_WPASYNC, resuming at walk_end while
 * the output vector fills, coalescing the regions into page ranges as they come; then closes both.
 * A mapping without async uffd-wp fails with EPERM: counted as unregistered, and the scan goes on.
 * Kernel bug (see src/native/pagemap-walk.c): when a call fills the kernel's internal buffer more
 * than once and then finishes, walk_end is left where the last internal pass began, not at the end,
 * so the next call returns that tail again; add_range absorbs the repeats (and calls counts them).
 * Three modes, timed alternately (one scan of each per rep, after W untimed warm-up scans of each):
 *   plain      return mask PAGE_IS_WRITTEN
 *   populated  return mask WRITTEN|PRESENT|SWAPPED, keeping regions that are present or swapped
 *              (what the uffd-wp backend asks by default: written and populated)
 *   checked    the populated answer in two passes: plain (the kernel's fast path) over each mapping,
 *              then populated over only what it returned, runs less than CHECK_GAP pages apart in one
 *              call (the same answer as long as the fast path misses nothing the populated walk finds)
 *
 *   c-uffd-scan --pid P [--reps R] [--warmup W] [--vec V] [--main START_PAGE END_PAGE]
 *
 * --vec V: regions in the PAGEMAP_SCAN output vector (default 4096), allocated once.
 * --main: found pages inside [START_PAGE, END_PAGE) (the target's big mapping) are also counted apart.
 * Prints one JSON line:
 *   {"plainNs":[wall-clock ns per scan...],"plainCpuNs":[CPU ns (user+system) per scan...],
 *    "populatedNs":[...],"populatedCpuNs":[...],"checkedNs":[...],"checkedCpuNs":[...],"plainPages":n,"populatedPages":n,"plainMainPages":n,
 *    "populatedMainPages":n,"checkedMainPages":n,"plainRanges":n,"populatedRanges":n,"checkedCalls":n,
 *    "regions":n,"unregistered":n,"calls":n}
 * Counts are those of the last scan of each mode; regions (mappings scanned), unregistered and calls
 * (ioctl calls) are those of the last populated scan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* Linux 6.7+ ABI that Debian 12's headers lack: the addon's own definitions, so both sides agree. */
#include "../src/native/kernel-abi.h"
#include "proc-maps.h"

#define PAGE_SHIFT 12

struct range {
  uint64_t start, end;
};

/* What one scan found; one per mode, so the last scan of each is still there at the end. */
struct scan_state {
  struct range *ranges;
  size_t nranges, cap_ranges;
  uint64_t pages, regions, unregistered, calls;
};

static struct page_region *vec;
static size_t vec_len = 4096;

static void die(const char *what) {
  fprintf(stderr, "c-uffd-scan: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Append [s, e) in ascending order, extending the last range when contiguous (RangeBuilder.add). */
static void add_range(struct scan_state *st, uint64_t s, uint64_t e) {
  if (st->nranges && s <= st->ranges[st->nranges - 1].end) {
    if (e > st->ranges[st->nranges - 1].end) {
      st->pages += e - st->ranges[st->nranges - 1].end;
      st->ranges[st->nranges - 1].end = e;
    }
    return;
  }
  if (st->nranges == st->cap_ranges) {
    st->cap_ranges = st->cap_ranges ? st->cap_ranges * 2 : 1024;
    st->ranges = realloc(st->ranges, st->cap_ranges * sizeof *st->ranges);
    if (!st->ranges) die("realloc");
  }
  st->ranges[st->nranges++] = (struct range){s, e};
  st->pages += e - s;
}

/* Written pages of [start, end) (bytes). Returns 0, or -1 if the mapping is not registered for async
 * uffd-wp (EPERM from PM_SCAN_CHECK_WPASYNC). keep_any: keep only regions with one of these categories. */
static int scan_mapping(struct scan_state *st, int fd, uint64_t start, uint64_t end, uint64_t return_mask,
                        uint64_t keep_any) {
  uint64_t pos = start;
  while (pos < end) {
    struct pm_scan_arg arg = {
        .size = sizeof arg,
        .flags = PM_SCAN_CHECK_WPASYNC,
        .start = pos,
        .end = end,
        .vec = (uint64_t)(uintptr_t)vec,
        .vec_len = vec_len,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = return_mask,
    };
    long n = ioctl(fd, PAGEMAP_SCAN, &arg);
    st->calls++;
    if (n < 0) {
      if (errno == EPERM) return -1;
      die("ioctl(PAGEMAP_SCAN)");
    }
    for (long i = 0; i < n; i++) {
      if (keep_any && !(vec[i].categories & keep_any)) continue;
      uint64_t s = vec[i].start < pos ? pos : vec[i].start, e = vec[i].end > end ? end : vec[i].end;
      if (s < e) add_range(st, s >> PAGE_SHIFT, e >> PAGE_SHIFT);
    }
    uint64_t next = arg.walk_end;
    if (next <= pos) { /* no walk_end progress: go past what came back, never loop in place */
      next = n > 0 ? vec[n - 1].end : pos;
      if (next <= pos) {
        fprintf(stderr, "c-uffd-scan: PAGEMAP_SCAN made no progress at 0x%" PRIx64 " (walk_end 0x%" PRIx64 ")\n",
                pos, (uint64_t)arg.walk_end);
        exit(1);
      }
    }
    if (next >= end) break;
    pos = next;
  }
  return 0;
}

#define POPULATED_MASK (PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_SWAPPED)
#define POPULATED_KEEP (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)
/* Checked mode: returned runs closer than this (pages) are checked in one call, which then also walks
 * the gap between them. One PMD: about where one more call costs as much as walking the gap. */
#define CHECK_GAP 512

struct mapping_args {
  struct scan_state *st;
  int fd;
  uint64_t return_mask, keep_any;
  bool checked;
};

/* Checked mode's first pass, one mapping at a time (kept between scans, as st's arrays are). */
static struct scan_state fast;

static void scan_one_mapping(void *ctx, uint64_t start, uint64_t end) {
  struct mapping_args *a = ctx;
  a->st->regions++;
  if (!a->checked) {
    if (scan_mapping(a->st, a->fd, start, end, a->return_mask, a->keep_any) < 0) a->st->unregistered++;
    return;
  }
  fast.nranges = 0;
  fast.calls = 0;
  if (scan_mapping(&fast, a->fd, start, end, PAGE_IS_WRITTEN, 0) < 0) {
    a->st->unregistered++;
    return;
  }
  a->st->calls += fast.calls;
  for (size_t i = 0; i < fast.nranges;) {
    uint64_t s = fast.ranges[i].start, e = fast.ranges[i].end;
    for (i++; i < fast.nranges && fast.ranges[i].start - e < CHECK_GAP; i++) e = fast.ranges[i].end;
    scan_mapping(a->st, a->fd, s << PAGE_SHIFT, e << PAGE_SHIFT, a->return_mask, a->keep_any);
  }
}

/* One scan, as a library call would do it: open maps and pagemap, scan each mapping, close. */
static void scan_once(struct scan_state *st, int pid, uint64_t return_mask, uint64_t keep_any, bool checked) {
  char path[64];
  st->nranges = 0;
  st->pages = st->regions = st->unregistered = st->calls = 0;
  snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  struct mapping_args a = {st, fd, return_mask, keep_any, checked};
  for_each_mapping(pid, scan_one_mapping, &a);
  close(fd);
}

/* Found pages inside [ms, me) (page numbers). */
static uint64_t pages_within(const struct scan_state *st, uint64_t ms, uint64_t me) {
  uint64_t n = 0;
  for (size_t i = 0; i < st->nranges; i++) {
    uint64_t s = st->ranges[i].start > ms ? st->ranges[i].start : ms;
    uint64_t e = st->ranges[i].end < me ? st->ranges[i].end : me;
    if (s < e) n += e - s;
  }
  return n;
}

static void print_ns(const char *key, const uint64_t *v, int n, int first) {
  printf("%s\"%s\":[", first ? "" : ",", key);
  for (int i = 0; i < n; i++) printf("%s%" PRIu64, i ? "," : "", v[i]);
  printf("]");
}

enum { PLAIN, POPULATED, CHECKED, MODES };

int main(int argc, char **argv) {
  int pid = 0, reps = 5, warmup = 1;
  uint64_t ms = 0, me = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--pid") && i + 1 < argc) pid = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--vec") && i + 1 < argc) vec_len = strtoull(argv[++i], NULL, 0);
    else if (!strcmp(argv[i], "--main") && i + 2 < argc) {
      ms = strtoull(argv[++i], NULL, 0);
      me = strtoull(argv[++i], NULL, 0);
    } else {
      fprintf(stderr, "usage: c-uffd-scan --pid P [--reps R] [--warmup W] [--vec V] [--main START_PAGE END_PAGE]\n");
      return 2;
    }
  }
  if (pid <= 0 || reps < 1 || warmup < 0 || vec_len == 0) return 2;
  vec = calloc(vec_len, sizeof *vec);
  if (!vec) die("calloc");

  static const uint64_t return_mask[MODES] = {
      [PLAIN] = PAGE_IS_WRITTEN,
      [POPULATED] = POPULATED_MASK,
      [CHECKED] = POPULATED_MASK,
  };
  static const uint64_t keep_any[MODES] = {[PLAIN] = 0, [POPULATED] = POPULATED_KEEP, [CHECKED] = POPULATED_KEEP};
  struct scan_state st[MODES] = {{0}};
  uint64_t *wall[MODES], *cpu[MODES];
  for (int m = 0; m < MODES; m++) {
    wall[m] = calloc((size_t)reps, sizeof *wall[m]);
    cpu[m] = calloc((size_t)reps, sizeof *cpu[m]);
    if (!wall[m] || !cpu[m]) die("calloc");
  }

  for (int i = 0; i < warmup; i++)
    for (int m = 0; m < MODES; m++) scan_once(&st[m], pid, return_mask[m], keep_any[m], m == CHECKED);
  for (int i = 0; i < reps; i++)
    for (int m = 0; m < MODES; m++) {
      uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
      scan_once(&st[m], pid, return_mask[m], keep_any[m], m == CHECKED);
      cpu[m][i] = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
      wall[m][i] = clock_ns(CLOCK_MONOTONIC) - t0;
    }

  printf("{");
  print_ns("plainNs", wall[PLAIN], reps, 1);
  print_ns("plainCpuNs", cpu[PLAIN], reps, 0);
  print_ns("populatedNs", wall[POPULATED], reps, 0);
  print_ns("populatedCpuNs", cpu[POPULATED], reps, 0);
  print_ns("checkedNs", wall[CHECKED], reps, 0);
  print_ns("checkedCpuNs", cpu[CHECKED], reps, 0);
  printf(",\"plainPages\":%" PRIu64 ",\"populatedPages\":%" PRIu64 ",\"plainMainPages\":%" PRIu64
         ",\"populatedMainPages\":%" PRIu64 ",\"plainRanges\":%zu,\"populatedRanges\":%zu",
         st[PLAIN].pages, st[POPULATED].pages, pages_within(&st[PLAIN], ms, me),
         pages_within(&st[POPULATED], ms, me), st[PLAIN].nranges, st[POPULATED].nranges);
  printf(",\"checkedMainPages\":%" PRIu64 ",\"checkedCalls\":%" PRIu64, pages_within(&st[CHECKED], ms, me), st[CHECKED].calls);
  printf(",\"regions\":%" PRIu64 ",\"unregistered\":%" PRIu64 ",\"calls\":%" PRIu64 "}\n", st[POPULATED].regions,
         st[POPULATED].unregistered, st[POPULATED].calls);
  return 0;
}
