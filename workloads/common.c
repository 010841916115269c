#define _GNU_SOURCE
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define HUGE_SIZE (2UL << 20)

size_t page_size;
struct region regions[MAX_REGIONS];
int nregions;

/* ---------------------------------------------------------------- options */

#define MAX_ARGS 32
static struct {
  const char *name;
  const char *value; /* NULL for flags */
} parsed[MAX_ARGS];
static int nparsed;
static const char *usage_text;

static bool in_list(const char *const *list, const char *name, size_t len) {
  for (; list && *list; list++)
    if (strlen(*list) == len && strncmp(*list, name, len) == 0) return true;
  return false;
}

void args_init(int argc, char **argv, const char *usage, const char *const *value_opts,
               const char *const *flag_opts) {
  page_size = (size_t)sysconf(_SC_PAGESIZE);
  /* Every reply is one line; line buffering flushes it as soon as the newline is written. */
  setvbuf(stdout, NULL, _IOLBF, 0);
  usage_text = usage;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *eq = strchr(a, '=');
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    if (nparsed == MAX_ARGS) die_usage("too many arguments");
    if (in_list(value_opts, a, len)) {
      const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (!v) die_usage("%s needs a value", a);
      parsed[nparsed].name = strndup(a, len);
      parsed[nparsed++].value = v;
    } else if (!eq && in_list(flag_opts, a, len)) {
      parsed[nparsed].name = a;
      parsed[nparsed++].value = NULL;
    } else {
      die_usage("unknown argument '%s'", a);
    }
  }
}

const char *arg_value(const char *name) {
  const char *v = NULL; /* the last occurrence wins */
  for (int i = 0; i < nparsed; i++)
    if (parsed[i].value && strcmp(parsed[i].name, name) == 0) v = parsed[i].value;
  return v;
}

bool arg_flag(const char *name) {
  for (int i = 0; i < nparsed; i++)
    if (!parsed[i].value && strcmp(parsed[i].name, name) == 0) return true;
  return false;
}

uint64_t arg_u64(const char *name, uint64_t def, bool required, uint64_t min, uint64_t max) {
  const char *v = arg_value(name);
  if (!v) {
    if (required) die_usage("%s is required", name);
    return def;
  }
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 0);
  if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
    die_usage("%s must be an integer in [%llu, %llu], got '%s'", name, (unsigned long long)min,
              (unsigned long long)max, v);
  return x;
}

double arg_double(const char *name, double def, double min, double max) {
  const char *v = arg_value(name);
  if (!v) return def;
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || !(x >= min && x <= max))
    die_usage("%s must be a number in [%g, %g], got '%s'", name, min, max, v);
  return x;
}

_Noreturn void die_usage(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* A driver waits for a line, so say it on stdout too rather than leaving it at EOF. */
  emit_error("%s", msg);
  fprintf(stderr, "error: %s\nusage: %s\n", msg, usage_text ? usage_text : "");
  exit(2);
}

_Noreturn void die_errno(const char *what) {
  die_usage("%s: %s", what, strerror(errno));
}

/* ---------------------------------------------------------------- regions */

bool valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > NAME_MAX_LEN) return false;
  for (const char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') return false;
  return true;
}

int advise_thp(uint8_t *start, size_t pages, bool thp) {
  return madvise(start, pages * page_size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

uint8_t *map_pages(size_t pages, bool thp, bool noreserve, void *at) {
  size_t size = pages * page_size;
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
  uint8_t *p;
  if (at) {
    p = mmap(at, size, PROT_READ | PROT_WRITE, flags | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (p != at) { /* kernels before 4.17 take the flag as a mere hint */
      munmap(p, size);
      errno = EEXIST;
      return NULL;
    }
  } else if (thp) {
    /* Over-reserve by 2 MiB and trim, so the region starts on a huge-page boundary. */
    uint8_t *raw = mmap(NULL, size + HUGE_SIZE, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    p = (uint8_t *)(((uintptr_t)raw + HUGE_SIZE - 1) & ~(uintptr_t)(HUGE_SIZE - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    size_t tail = (size_t)(raw + size + HUGE_SIZE - (p + size));
    if (tail) munmap(p + size, tail);
  } else {
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) return NULL;
  }
  if (advise_thp(p, pages, thp) != 0) {
    int e = errno;
    munmap(p, size);
    errno = e;
    return NULL;
  }
  return p;
}

struct region *region_add(const char *name, uint8_t *start, size_t pages, bool thp) {
  if (nregions == MAX_REGIONS) return NULL;
  struct region *r = &regions[nregions++];
  snprintf(r->name, sizeof r->name, "%s", name);
  r->start = start;
  r->pages = pages;
  r->thp = thp;
  return r;
}

struct region *region_find(const char *name) {
  for (int i = 0; i < nregions; i++)
    if (strcmp(regions[i].name, name) == 0) return &regions[i];
  return NULL;
}

void populate(struct region *r) {
  for (size_t i = 0; i < r->pages; i++) store_page(r, i, 0);
}

/* ---------------------------------------------------------------- page lists */

void pl_add(struct pagelist *pl, size_t page) {
  if (pl->n == pl->cap) {
    pl->cap = pl->cap ? pl->cap * 2 : 64;
    pl->v = realloc(pl->v, pl->cap * sizeof *pl->v);
    if (!pl->v) abort();
  }
  pl->v[pl->n++] = page;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

void pl_sort_unique(struct pagelist *pl) {
  if (pl->n < 2) return;
  qsort(pl->v, pl->n, sizeof *pl->v, cmp_size);
  size_t k = 1;
  for (size_t i = 1; i < pl->n; i++)
    if (pl->v[i] != pl->v[k - 1]) pl->v[k++] = pl->v[i];
  pl->n = k;
}

void pl_clear(struct pagelist *pl) { pl->n = 0; }

/* ---------------------------------------------------------------- JSON output */

void out_begin(const char *event) { printf("{\"event\":\"%s\"", event); }

void out_raw(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
}

void out_str(const char *key, const char *value) {
  printf(",\"%s\":\"", key);
  for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

void out_regions(void) {
  printf(",\"regions\":[");
  for (int i = 0; i < nregions; i++)
    printf("%s{\"name\":\"%s\",\"start\":\"%#lx\",\"size\":%zu}", i ? "," : "", regions[i].name,
           (unsigned long)(uintptr_t)regions[i].start, regions[i].pages * page_size);
  putchar(']');
}

void out_end(void) {
  fputs("}\n", stdout); /* line-buffered: this flushes */
  fflush(stdout);
}

void emit_ready_begin(void) {
  out_begin("ready");
  printf(",\"pid\":%d,\"pageSize\":%zu", (int)getpid(), page_size);
  out_regions();
}

void emit_wrote(int phase, const struct region *r, struct pagelist *pl, const char *extra) {
  pl_sort_unique(pl);
  out_begin("wrote");
  printf(",\"phase\":%d,\"writes\":[{\"region\":\"%s\",\"pages\":[", phase, r->name);
  for (size_t i = 0; i < pl->n; i++) printf(i ? ",%zu" : "%zu", pl->v[i]);
  fputs("]}]", stdout);
  if (extra) fputs(extra, stdout);
  out_end();
}

void emit_ok(const char *cmd) {
  out_begin("ok");
  out_str("cmd", cmd);
  out_end();
}

void emit_error(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  out_begin("error");
  out_str("message", msg);
  out_end();
}

/* ---------------------------------------------------------------- command loop */

char *next_token(char **args) {
  char *s = *args;
  while (*s == ' ' || *s == '\t') s++;
  if (!*s) {
    *args = s;
    return NULL;
  }
  char *t = s;
  while (*s && *s != ' ' && *s != '\t') s++;
  if (*s) *s++ = '\0';
  *args = s;
  return t;
}

bool parse_size(const char *s, size_t *out) {
  if (!s || !isdigit((unsigned char)*s)) return false;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 10);
  if (errno || *end) return false;
  *out = (size_t)x;
  return true;
}

_Noreturn void command_loop(command_fn handle, void (*on_exit)(void)) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) >= 0) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    char *args = line;
    char *cmd = next_token(&args);
    if (!cmd) {
      emit_error("empty command");
      continue;
    }
    if (strcmp(cmd, "exit") == 0) break;
    if (strcmp(cmd, "regions") == 0) {
      out_begin("ok");
      out_str("cmd", "regions");
      out_regions();
      out_end();
      continue;
    }
    if (!handle(cmd, args)) emit_error("unknown command '%s'", cmd);
  }
  free(line);
  if (on_exit) on_exit();
  out_begin("exit");
  out_end();
  exit(0);
}

/* ---------------------------------------------------------------- PRNG */

uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
