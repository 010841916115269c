/* rate-writer: free-running writes at a set rate, for a tracker that watches rather than steps.
 * After "start" a writer thread stores to pages of "main" at R pages/s until "stop" (or
 * --duration-ms), printing nothing meanwhile. The truth lives in the target's own memory: a
 * counter (address in the ready line) and a ring log of page indices, one per write, so a tracker
 * that freezes the target and reads /proc/PID/mem can tell exactly which writes happened between
 * two of its scans. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>

#define COUNTER_MAGIC 0x6b72747974726964ULL /* "dirtytrk" in little-endian bytes */

/* Read by trackers from /proc/PID/mem: the layout is part of the protocol. */
struct counter {
  uint64_t magic;
  uint64_t writes_completed; /* log[0 .. writes_completed) are done; release-stored */
  uint64_t log_addr;         /* uint64_t log[log_capacity]; write n is at log[n % capacity] */
  uint64_t log_capacity;
};

enum pattern { UNIFORM, HOTCOLD, PHASE, GROW };

static struct region *main_region;
static struct counter *ctr;
static uint64_t *logv;
static enum pattern pattern;
static double rate, rate2, hot_frac, phase_at, duration; /* seconds for times */
static size_t hot;
static size_t *perm;      /* uniform/phase: a random permutation of the pages, cycled */
static uint64_t rng;      /* hotcold page choice */
static uint64_t n_done;   /* writes completed, the writer thread's private copy */
static pthread_t writer;
static bool running;
static atomic_bool stop_requested;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_until(double t) {
  struct timespec ts = {.tv_sec = (time_t)t, .tv_nsec = (long)((t - floor(t)) * 1e9)};
  if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

/* Page of write number n (0-based); false once grow has used every page. */
static bool pick(uint64_t n, size_t *page) {
  size_t w = main_region->pages;
  switch (pattern) {
  case GROW:
    if (n >= w) return false;
    *page = (size_t)n; /* each page exactly once, in address order, like a growing heap */
    return true;
  case HOTCOLD: {
    double u = (double)(splitmix64(&rng) >> 11) * 0x1.0p-53;
    uint64_t x = splitmix64(&rng);
    *page = (u < hot_frac || hot == w) ? (size_t)(x % hot) : hot + (size_t)(x % (w - hot));
    return true;
  }
  default:
    *page = perm[n % w];
    return true;
  }
}

/* One write: log it, store it, then publish it. Logging first means that at any freeze point the
 * pages stored are log[0 .. c) plus possibly log[c] (c = writes_completed): at most one write is
 * in flight, and its page is already in the log. */
static bool do_write(void) {
  size_t page;
  if (!pick(n_done, &page)) return false;
  logv[n_done % ctr->log_capacity] = page;
  store_page(main_region, page, n_done + 1); /* the 1-based write number marks the page */
  n_done++;
  atomic_store_explicit((_Atomic uint64_t *)&ctr->writes_completed, n_done, memory_order_release);
  return true;
}

static void *writer_main(void *arg) {
  (void)arg;
  /* Pacing: write k of a segment is due at seg_start + k / r. Writes that are due are done in a
   * burst, then the thread sleeps (absolute, so errors do not accumulate) until the next one is
   * due; at high rates each wake-up does a small batch. */
  double t0 = now(), seg_start = t0, r = rate;
  uint64_t k = 0;
  bool second = false;
  for (;;) {
    double t = now();
    if (duration > 0 && t >= t0 + duration) break;
    if (pattern == PHASE && !second && t >= t0 + phase_at) {
      second = true; /* the new rate applies from the switch time on */
      seg_start = t0 + phase_at, r = rate2, k = 0;
    }
    /* After a stall (e.g. the tracker froze us) skip the backlog instead of bursting it. */
    if (t - (seg_start + (double)k / r) > 0.1) seg_start = t, k = 0;
    int batch = 0;
    while (seg_start + (double)k / r <= t && batch < 4096) {
      if (!do_write()) return NULL; /* grow ran out of fresh pages */
      k++, batch++;
    }
    if (atomic_load(&stop_requested)) break;
    double next = seg_start + (double)k / r;
    if (duration > 0 && next > t0 + duration) next = t0 + duration;
    if (pattern == PHASE && !second && next > t0 + phase_at) next = t0 + phase_at;
    /* Cap each sleep so "stop" is noticed within 10 ms even at 10 pages/s. */
    if (next > t) sleep_until(next < t + 0.01 ? next : t + 0.01);
  }
  return NULL;
}

static void stop_writer(void) {
  if (!running) return;
  atomic_store(&stop_requested, true);
  pthread_join(writer, NULL);
  running = false;
}

static bool handle(const char *cmd, char *args) {
  (void)args;
  if (strcmp(cmd, "start") == 0) {
    if (running) {
      emit_error("already running");
      return true;
    }
    atomic_store(&stop_requested, false);
    int e = pthread_create(&writer, NULL, writer_main, NULL);
    if (e) {
      emit_error("pthread_create: %s", strerror(e));
      return true;
    }
    running = true;
    emit_ok("start");
  } else if (strcmp(cmd, "stop") == 0) {
    stop_writer();
    out_begin("stopped");
    out_raw(",\"writes\":%llu", (unsigned long long)n_done);
    out_end();
  } else if (strcmp(cmd, "status") == 0) {
    uint64_t c = atomic_load_explicit((_Atomic uint64_t *)&ctr->writes_completed,
                                      memory_order_acquire);
    out_begin("ok");
    out_str("cmd", "status");
    out_raw(",\"running\":%s,\"writes\":%llu", running ? "true" : "false", (unsigned long long)c);
    out_end();
  } else if (strcmp(cmd, "write") == 0) {
    emit_error("rate-writer is free-running: use start and stop");
  } else {
    return false;
  }
  return true;
}

int main(int argc, char **argv) {
  static const char *const values[] = {"--pages", "--rate", "--pattern", "--hot", "--hot-frac",
                                       "--phase-at-ms", "--rate2", "--duration-ms", "--seed",
                                       "--log-capacity", NULL};
  static const char *const flags[] = {"--thp", NULL};
  args_init(argc, argv,
            "rate-writer --pages W --rate R [--pattern uniform|hotcold|phase|grow] [--hot H "
            "--hot-frac F] [--phase-at-ms T --rate2 R2] [--duration-ms D] [--seed S] "
            "[--log-capacity N] [--thp]",
            values, flags);
  size_t pages = arg_u64("--pages", 0, true, 1, 1ULL << 36);
  rate = arg_double("--rate", 0, 1e-3, 1e8);
  if (!arg_value("--rate")) die_usage("--rate is required");
  const char *pat = arg_value("--pattern");
  if (!pat || strcmp(pat, "uniform") == 0) pattern = UNIFORM;
  else if (strcmp(pat, "hotcold") == 0) pattern = HOTCOLD;
  else if (strcmp(pat, "phase") == 0) pattern = PHASE;
  else if (strcmp(pat, "grow") == 0) pattern = GROW;
  else die_usage("--pattern must be uniform, hotcold, phase or grow");
  hot = arg_u64("--hot", pages / 10 ? pages / 10 : 1, false, 1, pages);
  hot_frac = arg_double("--hot-frac", 0.9, 0, 1);
  phase_at = arg_double("--phase-at-ms", 1000, 0, 1e12) / 1e3;
  rate2 = arg_double("--rate2", rate * 10, 1e-3, 1e8);
  duration = arg_double("--duration-ms", 0, 0, 1e12) / 1e3;
  rng = arg_u64("--seed", 1, false, 0, UINT64_MAX);
  uint64_t capacity = arg_u64("--log-capacity", 1ULL << 24, false, 1, 1ULL << 32);
  bool thp = arg_flag("--thp");

  /* grow may reserve far more than it will touch: NORESERVE keeps that cheap. */
  uint8_t *p = map_pages(pages, thp, pattern == GROW, NULL);
  if (!p) die_errno("mmap main");
  main_region = region_add("main", p, pages, thp);
  if (pattern != GROW) {
    perm = malloc(pages * sizeof *perm);
    if (!perm) die_errno("malloc");
    for (size_t i = 0; i < pages; i++) perm[i] = i;
    for (size_t i = pages - 1; i > 0; i--) {
      size_t j = (size_t)(splitmix64(&rng) % (i + 1));
      size_t t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    populate(main_region); /* grow alone writes pages for the first time */
  }

  /* Counter and log get mappings of their own, away from "main", so their constant dirtying is
   * easy to tell apart. The log is populated lazily as it fills. */
  ctr = (struct counter *)map_pages(1, false, false, NULL);
  logv = (uint64_t *)map_pages((capacity * 8 + page_size - 1) / page_size, false, true, NULL);
  if (!ctr || !logv) die_errno("mmap counter/log");
  ctr->magic = COUNTER_MAGIC;
  ctr->log_addr = (uint64_t)(uintptr_t)logv;
  ctr->log_capacity = capacity;

  /* Sleep as precisely as the timer allows; the default 50 us slack would distort low rates. */
  prctl(PR_SET_TIMERSLACK, 1000UL);

  emit_ready_begin();
  out_raw(",\"counter\":\"%#lx\"", (unsigned long)(uintptr_t)ctr);
  out_end();
  command_loop(handle, stop_writer);
}
