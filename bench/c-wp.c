/* c-wp: the C reference for userfaultfd async write-protection in one process: it maps an anonymous
 * region (4 KiB pages), touches one page in K, registers the region with its own userfaultfd
 * (UFFD_FEATURE_WP_ASYNC | WP_UNPOPULATED, as dirtytrack asks) and measures, R times:
 *   writeProtectNs  UFFDIO_WRITEPROTECT over the region after every touched page was written
 *   faultNsPerPage  the first store to a protected page: (time of the stores right after protecting −
 *                   time of the same stores again) / pages, median
 *
 *   c-wp --pages N [--populate-every K] [--populate-run R] [--reps R]
 *
 * Touched pages: page i when (i / R) % K == 0 (big-target's layout). Prints one JSON line.
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


static size_t page;
static uint8_t *region;
static size_t npages, populate_every, populate_run = 1;
static int uffd;

static void die(const char *what) {
  fprintf(stderr, "c-wp: %s: %s\n", what, strerror(errno));
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
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
  populate_every = 1;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) break;
    if (!strcmp(argv[i], "--pages")) npages = strtoull(v, NULL, 0), i++;
    else if (!strcmp(argv[i], "--populate-every")) populate_every = strtoull(v, NULL, 0), i++;
    else if (!strcmp(argv[i], "--populate-run")) populate_run = strtoull(v, NULL, 0), i++;
    else if (!strcmp(argv[i], "--reps")) reps = atoi(v), i++;
  }
  if (!npages || !populate_every || !populate_run || reps < 1) {
    fprintf(stderr, "usage: c-wp --pages N [--populate-every K] [--populate-run R] [--reps R]\n");
    return 2;
  }
  uint64_t *ns = calloc((size_t)reps, sizeof *ns), *fault = calloc((size_t)reps, sizeof *fault);
  if (!ns || !fault) die("alloc");

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

  printf("{\"pages\":%zu,\"populateEvery\":%zu,\"populateRun\":%zu,\"touched\":%zu", npages, populate_every,
         populate_run, touched);
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
  printf(",\"faultNsPerPage\":%.1f}\n", (double)fault[reps / 2] / (double)touched);
  return 0;
}
