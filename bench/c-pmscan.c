/* c-pmscan: the C reference for "PAGEMAP_SCAN versus reading entries" with userfaultfd async
 * write-protection, all in this one process: it maps an anonymous region, touches one page in K,
 * registers the region with its own userfaultfd (UFFD_FEATURE_WP_ASYNC), write-protects it, writes
 * every E-th touched page, and then times, on /proc/self/pagemap:
 *   pmscan  PAGEMAP_SCAN with category PAGE_IS_WRITTEN over the region (resuming at walk_end while
 *           the vector fills), ranges coalesced as they come; return mask PAGE_IS_WRITTEN alone
 *   pmscanPop  the same with return mask WRITTEN|PRESENT|SWAPPED, keeping regions that are present or
 *           swapped (what dirtytrack's uffd-wp backend asks by default: written and populated)
 *   pread   pread of every entry in chunks of 64K entries, decoding the high half (present|swapped
 *           and uffd-wp bit 57 clear = written), coalesced into ranges: the same work per entry as
 *           dirtytrack's pread reader (which tests bit 55 instead)
 * It also measures the write-protect fault (first store to a protected page, per page) and the time
 * of UFFDIO_WRITEPROTECT over the region after every touched page was written.
 *
 *   c-pmscan --pages N [--populate-every K] [--populate-run R] [--write-every E1,E2,...|none] [--reps R]
 *            [--vec V] [--chunk C]
 *
 * Touched pages: page i when (i / R) % K == 0 (big-target's layout). --write-every none: only the
 * write-protect and fault measurements.
 *
 * Prints one JSON object on one line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Linux 6.7+ ABI that Debian 12's headers lack: the addon's own definitions, so both sides agree. */
#include "../src/native/kernel-abi.h"

#define HI_UFFD_WP (1u << (57 - 32))
#define HI_PRESENT_OR_SWAPPED ((1u << (63 - 32)) | (1u << (62 - 32)))
#define MAX_CASES 16

static size_t page;
static uint8_t *region;
static size_t npages, populate_every, populate_run = 1;
static int uffd, pagemap_fd;

static void die(const char *what) {
  fprintf(stderr, "c-pmscan: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- ranges, coalesced as found (as dirtytrack's RangeBuilder does) ---- */
struct range {
  uint64_t start, end;
};
static struct range *ranges;
static size_t nranges, cap_ranges;
static uint64_t found_pages;

static void add_range(uint64_t s, uint64_t e) {
  if (nranges && s <= ranges[nranges - 1].end) {
    if (e > ranges[nranges - 1].end) {
      found_pages += e - ranges[nranges - 1].end;
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
  found_pages += e - s;
}

static void reset_ranges(void) {
  nranges = 0;
  found_pages = 0;
}

/* ---- the two methods ---- */
static struct page_region *vec;
static size_t vec_len;

static void scan_pmscan_mask(uint64_t return_mask, uint64_t keep_any) {
  reset_ranges();
  uint64_t start = (uint64_t)(uintptr_t)region, end = start + npages * page;
  while (start < end) {
    struct pm_scan_arg arg = {
        .size = sizeof arg,
        .start = start,
        .end = end,
        .vec = (uint64_t)(uintptr_t)vec,
        .vec_len = vec_len,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = return_mask,
    };
    long n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
    if (n < 0) die("ioctl(PAGEMAP_SCAN)");
    for (long i = 0; i < n; i++)
      if (!keep_any || (vec[i].categories & keep_any)) add_range(vec[i].start / page, vec[i].end / page);
    start = arg.walk_end;
  }
}

static void scan_pmscan(void) { scan_pmscan_mask(PAGE_IS_WRITTEN, 0); }
static void scan_pmscan_pop(void) {
  scan_pmscan_mask(PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_SWAPPED, PAGE_IS_PRESENT | PAGE_IS_SWAPPED);
}

static uint32_t *chunk_buf;
static size_t chunk;

static void scan_pread(void) {
  reset_ranges();
  uint64_t first = (uint64_t)(uintptr_t)region / page, last = first + npages;
  for (uint64_t b = first; b < last; b += chunk) {
    size_t n = last - b < chunk ? (size_t)(last - b) : chunk;
    if (pread(pagemap_fd, chunk_buf, n * 8, (off_t)(b * 8)) != (ssize_t)(n * 8)) die("pread");
    long run = -1;
    for (size_t i = 0; i < n; i++) {
      uint32_t h = chunk_buf[2 * i + 1];
      if ((h & HI_PRESENT_OR_SWAPPED) && !(h & HI_UFFD_WP)) {
        if (run < 0) run = (long)i;
      } else if (run >= 0) {
        add_range(b + (uint64_t)run, b + i);
        run = -1;
      }
    }
    if (run >= 0) add_range(b + (uint64_t)run, b + n);
  }
}

/* ---- setup helpers ---- */
static void write_protect(int wp) {
  struct uffdio_writeprotect w = {
      .range = {.start = (uint64_t)(uintptr_t)region, .len = npages * page},
      .mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
  };
  if (ioctl(uffd, UFFDIO_WRITEPROTECT, &w) != 0) die("UFFDIO_WRITEPROTECT");
}

static uint64_t stamp;

/* Store once to every `every`-th touched page; returns how many. */
static size_t write_every(size_t every) {
  size_t n = 0, k = 0;
  stamp++;
  for (size_t i = 0; i < npages; i++) {
    if ((i / populate_run) % populate_every != 0) continue;
    if (k++ % every != 0) continue;
    *(volatile uint64_t *)(region + i * page) = stamp;
    n++;
  }
  return n;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void print_ns(const char *key, uint64_t *v, int n) {
  printf(",\"%s\":[", key);
  for (int i = 0; i < n; i++) printf("%s%" PRIu64, i ? "," : "", v[i]);
  printf("]");
}

int main(int argc, char **argv) {
  page = (size_t)sysconf(_SC_PAGESIZE);
  int reps = 7;
  size_t cases[MAX_CASES] = {1000, 100, 10, 1};
  int ncases = 4;
  vec_len = 1024;
  chunk = 65536;
  populate_every = 1;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) break;
    if (!strcmp(argv[i], "--pages")) npages = strtoull(v, NULL, 0), i++;
    else if (!strcmp(argv[i], "--populate-every")) populate_every = strtoull(v, NULL, 0), i++;
    else if (!strcmp(argv[i], "--populate-run")) populate_run = strtoull(v, NULL, 0), i++;
    else if (!strcmp(argv[i], "--reps")) reps = atoi(v), i++;
    else if (!strcmp(argv[i], "--vec")) vec_len = strtoull(v, NULL, 0), i++;
    else if (!strcmp(argv[i], "--chunk")) chunk = strtoull(v, NULL, 0), i++;
    else if (!strcmp(argv[i], "--write-every")) {
      ncases = 0;
      if (!strcmp(v, "none")) {
        i++;
        continue;
      }
      for (char *s = argv[++i], *tok; (tok = strsep(&s, ",")) && ncases < MAX_CASES;)
        cases[ncases++] = strtoull(tok, NULL, 0);
    }
  }
  if (!npages || !populate_every || !populate_run || reps < 1 || !vec_len || !chunk) {
    fprintf(stderr, "usage: c-pmscan --pages N [--populate-every K] [--populate-run R] [--write-every E1,E2,...|none] [--reps R] [--vec V] [--chunk C]\n");
    return 2;
  }
  uint64_t *ns = calloc((size_t)reps, sizeof *ns);
  vec = calloc(vec_len, sizeof *vec);
  chunk_buf = malloc(chunk * 8);
  if (!ns || !vec || !chunk_buf) die("alloc");

  region = mmap(NULL, npages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) die("mmap");
  if (madvise(region, npages * page, MADV_NOHUGEPAGE) != 0) die("madvise");
  size_t touched = write_every(1);

  uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (uffd < 0) die("userfaultfd");
  struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
  if (ioctl(uffd, UFFDIO_API, &api) != 0) die("UFFDIO_API (WP_ASYNC)");
  struct uffdio_register reg = {.range = {.start = (uint64_t)(uintptr_t)region, .len = npages * page},
                                .mode = UFFDIO_REGISTER_MODE_WP};
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) die("UFFDIO_REGISTER");
  pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
  if (pagemap_fd < 0) die("/proc/self/pagemap");

  printf("{\"pages\":%zu,\"populateEvery\":%zu,\"populateRun\":%zu,\"touched\":%zu,\"vec\":%zu,\"chunk\":%zu", npages,
         populate_every, populate_run, touched, vec_len, chunk);

  /* Write-protect after every touched page was written, and the fault of the first store after it:
   * (time of the stores right after protecting − time of the same stores again) / pages. */
  uint64_t *fault = calloc((size_t)reps, sizeof *fault);
  if (!fault) die("alloc");
  for (int r = 0; r < reps; r++) {
    write_every(1);
    uint64_t t0 = now_ns();
    write_protect(1);
    ns[r] = now_ns() - t0;
    t0 = now_ns();
    write_every(1);
    uint64_t first = now_ns() - t0;
    t0 = now_ns();
    write_every(1);
    uint64_t again = now_ns() - t0;
    fault[r] = first > again ? (first - again) : 0;
  }
  print_ns("writeProtectNs", ns, reps);
  qsort(fault, (size_t)reps, sizeof *fault, cmp_u64);
  printf(",\"faultNsPerPage\":%.1f", (double)fault[reps / 2] / (double)touched);

  printf(",\"cases\":[");
  for (int c = 0; c < ncases; c++) {
    write_protect(1);
    size_t written = write_every(cases[c]);
    printf("%s{\"writeEvery\":%zu,\"written\":%zu", c ? "," : "", cases[c], written);
    scan_pmscan(); /* warm-up */
    for (int r = 0; r < reps; r++) {
      uint64_t t0 = now_ns();
      scan_pmscan();
      ns[r] = now_ns() - t0;
    }
    print_ns("pmscanNs", ns, reps);
    printf(",\"pmscanPages\":%" PRIu64 ",\"ranges\":%zu", found_pages, nranges);
    scan_pmscan_pop();
    for (int r = 0; r < reps; r++) {
      uint64_t t0 = now_ns();
      scan_pmscan_pop();
      ns[r] = now_ns() - t0;
    }
    print_ns("pmscanPopNs", ns, reps);
    printf(",\"pmscanPopPages\":%" PRIu64, found_pages);
    scan_pread();
    for (int r = 0; r < reps; r++) {
      uint64_t t0 = now_ns();
      scan_pread();
      ns[r] = now_ns() - t0;
    }
    print_ns("preadNs", ns, reps);
    printf(",\"preadPages\":%" PRIu64 "}", found_pages);
  }
  printf("]}\n");
  return 0;
}
