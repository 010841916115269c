/* hot-loop: the tracked process of the bench's cost-to-target section. A writer thread rewrites a hot
 * set (default 64 MiB, 4 KiB pages) page after page, forever; the main thread answers commands.
 *
 *   hot-loop [--mib M]
 *
 * Commands on stdin, one JSON line each on stdout:
 *   stat   {"event":"stat","bytes":B,"ns":T}  bytes rewritten since start, at monotonic time T
 *   exit   {"event":"exit"}
 * Ready line: {"event":"ready","pid":..,"start":"0x..","bytes":..}
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint8_t *hot;
static size_t hot_bytes, page;
static _Atomic uint64_t pages_done;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *writer(void *arg) {
  (void)arg;
  for (uint64_t pass = 1;; pass++) {
    for (size_t off = 0; off < hot_bytes; off += page) {
      memset(hot + off, (int)(pass & 0xff), page);
      atomic_fetch_add_explicit(&pages_done, 1, memory_order_relaxed);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  size_t mib = 64;
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], "--mib") == 0) mib = strtoull(argv[i + 1], NULL, 0);
  page = (size_t)sysconf(_SC_PAGESIZE);
  hot_bytes = mib << 20;
  setvbuf(stdout, NULL, _IOLBF, 0);
  hot = mmap(NULL, hot_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (hot == MAP_FAILED || madvise(hot, hot_bytes, MADV_NOHUGEPAGE) != 0) {
    perror("hot-loop: mmap");
    return 1;
  }
  memset(hot, 1, hot_bytes); /* populated before ready: the loop measures rewrites, not first touches */
  pthread_t t;
  if (pthread_create(&t, NULL, writer, NULL) != 0) {
    perror("hot-loop: pthread_create");
    return 1;
  }
  printf("{\"event\":\"ready\",\"pid\":%d,\"start\":\"%p\",\"bytes\":%zu}\n", (int)getpid(), (void *)hot, hot_bytes);
  char line[128];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "stat", 4) == 0) {
      uint64_t n = atomic_load_explicit(&pages_done, memory_order_relaxed);
      printf("{\"event\":\"stat\",\"bytes\":%llu,\"ns\":%llu}\n", (unsigned long long)(n * page),
             (unsigned long long)now_ns());
    } else if (strncmp(line, "exit", 4) == 0) {
      break;
    }
  }
  printf("{\"event\":\"exit\"}\n");
  fflush(stdout);
  _exit(0);
}
