/* big-target: the process the bench scans. It maps N anonymous private regions (MAP_NORESERVE, 4 KiB
 * pages: MADV_NOHUGEPAGE) of equal size, separated by unmapped gaps, touches one page in K, then
 * answers commands on stdin, one JSON line each on stdout.
 *
 *   big-target --region-pages P [--regions N] [--gap-bytes G] [--populate-every K] [--populate-run R]
 *
 *   --regions N         N separate mappings (default 1); each is one line of /proc/PID/maps
 *   --gap-bytes G       unmapped bytes between two regions (default one page; multiple of 4 KiB):
 *                       the address span grows with G while the mapped size stays the same
 *   --populate-every K  touch (write) one run of pages in K before "ready" (0: touch none)
 *   --populate-run R    run length in pages (default 1): page i is touched when (i / R) % K == 0, so
 *                       R = 1 spreads the touched pages over every page table, R = 512 clusters them
 *                       in 2 MiB blocks and leaves the rest without page tables
 *
 * Commands:
 *   write E     store once to every E-th populated page (E = 1: all of them); replies {"event":"wrote","pages":n}
 *   exit        replies {"event":"exit"} and exits
 *
 * Ready line: {"event":"ready","pid":..,"regions":N,"regionPages":P,"first":"0x..","spanEnd":"0x..",
 *              "mappedPages":..,"populatedPages":..}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t page;
static uint8_t *base;
static size_t nregions = 1, region_pages, stride_bytes, populate_every, populate_run = 1;
static uint64_t generation;

static void die(const char *what) {
  fprintf(stderr, "big-target: %s: %s\n", what, strerror(errno));
  exit(1);
}

static size_t arg_size(int argc, char **argv, const char *name, size_t def) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return (size_t)strtoull(argv[i + 1], NULL, 0);
  return def;
}

static size_t write_every(size_t every) {
  size_t n = 0;
  generation++;
  if (populate_every == 0) return 0;
  for (size_t r = 0; r < nregions; r++) {
    uint8_t *start = base + r * stride_bytes;
    size_t k = 0;
    for (size_t i = 0; i < region_pages; i++) {
      if ((i / populate_run) % populate_every != 0) continue;
      if (k++ % every != 0) continue;
      *(volatile uint64_t *)(start + i * page) = generation;
      n++;
    }
  }
  return n;
}

int main(int argc, char **argv) {
  page = (size_t)sysconf(_SC_PAGESIZE);
  region_pages = arg_size(argc, argv, "--region-pages", 0);
  nregions = arg_size(argc, argv, "--regions", 1);
  size_t gap = arg_size(argc, argv, "--gap-bytes", page);
  populate_every = arg_size(argc, argv, "--populate-every", 0);
  populate_run = arg_size(argc, argv, "--populate-run", 1);
  if (region_pages == 0 || nregions == 0 || gap == 0 || gap % page != 0 || populate_run == 0) {
    fprintf(stderr, "usage: big-target --region-pages P [--regions N] [--gap-bytes G] [--populate-every K] [--populate-run R]\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);

  /* Reserve the whole span (PROT_NONE, no commit charge), map each region over it, unmap the gaps. */
  size_t region_bytes = region_pages * page;
  stride_bytes = region_bytes + gap;
  size_t span = stride_bytes * nregions;
  base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) die("mmap (reserve)");
  for (size_t r = 0; r < nregions; r++) {
    uint8_t *start = base + r * stride_bytes;
    if (mmap(start, region_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
             -1, 0) == MAP_FAILED)
      die("mmap (region)");
    if (madvise(start, region_bytes, MADV_NOHUGEPAGE) != 0) die("madvise");
    if (munmap(start + region_bytes, gap) != 0) die("munmap (gap)");
  }
  size_t populated = write_every(1);

  printf("{\"event\":\"ready\",\"pid\":%d,\"regions\":%zu,\"regionPages\":%zu,\"first\":\"%p\",\"spanEnd\":\"%p\","
         "\"mappedPages\":%zu,\"populatedPages\":%zu}\n",
         (int)getpid(), nregions, region_pages, (void *)base, (void *)(base + span), nregions * region_pages, populated);

  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    unsigned long long e;
    if (sscanf(line, "write %llu", &e) == 1 && e > 0) {
      printf("{\"event\":\"wrote\",\"pages\":%zu}\n", write_every((size_t)e));
    } else if (strncmp(line, "exit", 4) == 0) {
      break;
    } else {
      printf("{\"event\":\"error\",\"message\":\"unknown command\"}\n");
    }
  }
  printf("{\"event\":\"exit\"}\n");
  return 0;
}
