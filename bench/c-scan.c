/* c-scan: the C reference for dirtytrack's pread reader (src/pagemap.ts). One scan does what
 * SoftDirtyBackend.scan does: read /proc/PID/maps, skip what pagemap cannot describe, open
 * /proc/PID/pagemap, pread each region in chunks of 64K entries (512 KiB), test bit 55 and
 * present|swapped in the high 32-bit half of each entry, coalesce dirty pages into ranges, close.
 *
 *   c-scan --pid P [--reps R] [--warmup W] [--chunk ENTRIES] [--range START_PAGE END_PAGE]
 *
 * --range walks [START_PAGE, END_PAGE) whole instead of the maps ranges (maps is not read).
 * Prints one JSON line: {"ns":[wall-clock ns per scan...],"cpuNs":[CPU ns (user+system) per scan...],
 *                        "entries":n,"regions":n,"dirtyPages":n,"ranges":n}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc-maps.h"

#define HI_SOFT_DIRTY (1u << (55 - 32))
#define HI_PRESENT_OR_SWAPPED ((1u << (63 - 32)) | (1u << (62 - 32)))

struct range {
  uint64_t start, end;
};

static struct range *ranges;
static size_t nranges, cap_ranges;
static uint64_t dirty_pages, entries_read, regions_scanned;

static void die(const char *what) {
  fprintf(stderr, "c-scan: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* Append [s, e) in ascending order, extending the last range when contiguous (RangeBuilder.add). */
static void add_range(uint64_t s, uint64_t e) {
  if (nranges && s <= ranges[nranges - 1].end) {
    if (e > ranges[nranges - 1].end) {
      dirty_pages += e - ranges[nranges - 1].end;
      ranges[nranges - 1].end = e;
    }
    return;
  }
  if (nranges == cap_ranges) {
    cap_ranges = cap_ranges ? cap_ranges * 2 : 1024;
    ranges = realloc(ranges, cap_ranges * sizeof *ranges);
    if (!ranges) die("realloc");
  }
  ranges[nranges++] = (struct range){s, e};
  dirty_pages += e - s;
}

static void scan_pages(int fd, uint32_t *buf, size_t chunk, uint64_t start, uint64_t end) {
  const uint32_t need = HI_PRESENT_OR_SWAPPED;
  for (uint64_t b = start; b < end; b += chunk) {
    size_t n = end - b < chunk ? (size_t)(end - b) : chunk;
    ssize_t got = pread(fd, buf, n * 8, (off_t)(b * 8));
    if (got != (ssize_t)(n * 8)) {
      if (got < 0) die("pread");
      fprintf(stderr, "c-scan: short read at page 0x%" PRIx64 ": %zd of %zu\n", b, got, n * 8);
      exit(1);
    }
    entries_read += n;
    long run = -1;
    for (size_t i = 0; i < n; i++) {
      uint32_t h = buf[2 * i + 1];
      if ((h & HI_SOFT_DIRTY) && (h & need)) {
        if (run < 0) run = (long)i;
      } else if (run >= 0) {
        add_range(b + (uint64_t)run, b + i);
        run = -1;
      }
    }
    if (run >= 0) add_range(b + (uint64_t)run, b + n);
  }
}

struct scan_args {
  int fd;
  uint32_t *buf;
  size_t chunk;
};

static void scan_mapping(void *ctx, uint64_t start, uint64_t end) {
  struct scan_args *a = ctx;
  scan_pages(a->fd, a->buf, a->chunk, start >> 12, end >> 12);
  regions_scanned++;
}

/* One scan, as a library call would do it: open, allocate, read, free, close. */
static void scan_once(int pid, size_t chunk, int whole, uint64_t rs, uint64_t re) {
  char path[64];
  nranges = 0;
  dirty_pages = entries_read = regions_scanned = 0;
  uint32_t *buf = malloc(chunk * 8);
  if (!buf) die("malloc");
  snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) die(path);
  if (whole) {
    scan_pages(fd, buf, chunk, rs, re);
    regions_scanned = 1;
  } else {
    struct scan_args a = {fd, buf, chunk};
    for_each_mapping(pid, scan_mapping, &a);
  }
  close(fd);
  free(buf);
}

static uint64_t clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  int pid = 0, reps = 5, warmup = 1, whole = 0;
  size_t chunk = 65536;
  uint64_t rs = 0, re = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--pid") && i + 1 < argc) pid = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--chunk") && i + 1 < argc) chunk = strtoull(argv[++i], NULL, 0);
    else if (!strcmp(argv[i], "--range") && i + 2 < argc) {
      whole = 1;
      rs = strtoull(argv[++i], NULL, 0);
      re = strtoull(argv[++i], NULL, 0);
    } else {
      fprintf(stderr, "usage: c-scan --pid P [--reps R] [--warmup W] [--chunk N] [--range START_PAGE END_PAGE]\n");
      return 2;
    }
  }
  if (pid <= 0 || reps < 1 || chunk == 0) return 2;
  for (int i = 0; i < warmup; i++) scan_once(pid, chunk, whole, rs, re);
  uint64_t *wall = calloc((size_t)reps, sizeof *wall), *cpu = calloc((size_t)reps, sizeof *cpu);
  if (!wall || !cpu) die("calloc");
  for (int i = 0; i < reps; i++) {
    uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    scan_once(pid, chunk, whole, rs, re);
    cpu[i] = clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
    wall[i] = clock_ns(CLOCK_MONOTONIC) - t0;
  }
  printf("{\"ns\":[");
  for (int i = 0; i < reps; i++) printf("%s%" PRIu64, i ? "," : "", wall[i]);
  printf("],\"cpuNs\":[");
  for (int i = 0; i < reps; i++) printf("%s%" PRIu64, i ? "," : "", cpu[i]);
  printf("],\"entries\":%" PRIu64 ",\"regions\":%" PRIu64 ",\"dirtyPages\":%" PRIu64 ",\"ranges\":%zu}\n",
         entries_read, regions_scanned, dirty_pages, nranges);
  return 0;
}
