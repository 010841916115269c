/* scenario: a command-driven target for kernel-behaviour scenarios (populate, mprotect, DONTNEED,
 * remap, mremap, extra mappings, fork/COW). Each command replies with one line; commands that
 * store reply "wrote" with exactly the pages stored to, the others "ok" (or "error"). Page
 * arguments refer to "main" unless the first argument names another region. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum { P_RW = 0, P_RO = 1, P_NONE = 2 };

/* Protection per page, parallel to regions[], so a store to a read-only page is refused with an
 * error reply instead of killing the target with SIGSEGV. */
static uint8_t *prot[MAX_REGIONS];
static int phase;
static struct pagelist pl;
static pid_t children[64];
static int nchildren;

static int region_index(const struct region *r) { return (int)(r - regions); }

/* Takes the optional leading region name off args; "main" when the next token is a number. */
static struct region *take_region(char **args) {
  char *s = *args;
  while (*s == ' ' || *s == '\t') s++;
  if (*s && (*s < '0' || *s > '9')) {
    char *name = next_token(args);
    struct region *r = region_find(name);
    if (!r) emit_error("no region named '%s'", name);
    return r;
  }
  return region_find("main");
}

/* Page list "I,J,K" (commas and/or spaces) into pl; false after replying with an error. */
static bool take_pages(char *args, const struct region *r) {
  pl_clear(&pl);
  for (char *tok; (tok = next_token(&args));) {
    for (char *item = strtok(tok, ","); item; item = strtok(NULL, ",")) {
      size_t page;
      if (!parse_size(item, &page) || page >= r->pages) {
        emit_error("bad page '%s' (region %s has %zu pages)", item, r->name, r->pages);
        return false;
      }
      pl_add(&pl, page);
    }
  }
  return true;
}

/* "A B": half-open page range [A, B) inside r, A < B; false after replying with an error. */
static bool take_range(char **args, const struct region *r, size_t *a, size_t *b) {
  char *x = next_token(args), *y = next_token(args);
  if (!parse_size(x, a) || !parse_size(y, b) || *a >= *b || *b > r->pages) {
    emit_error("bad range [%s, %s) (region %s has %zu pages)", x ? x : "", y ? y : "", r->name,
               r->pages);
    return false;
  }
  return true;
}

static bool check_prot(const struct region *r, int worst, const char *what) {
  uint8_t *p = prot[region_index(r)];
  for (size_t i = 0; i < pl.n; i++)
    if (p[pl.v[i]] > worst) {
      emit_error("cannot %s page %zu of %s: it is %s", what, pl.v[i], r->name,
                 p[pl.v[i]] == P_RO ? "read-only" : "PROT_NONE");
      return false;
    }
  return true;
}

static void reply_regions(const char *cmd) {
  out_begin("ok");
  out_str("cmd", cmd);
  out_regions();
  out_end();
}

static uint8_t *range_addr(const struct region *r, size_t a) { return r->start + a * page_size; }

static void madvise_cmd(const char *cmd, char *args, int advice) {
  struct region *r = take_region(&args);
  size_t a, b;
  if (!r || !take_range(&args, r, &a, &b)) return;
  if (madvise(range_addr(r, a), (b - a) * page_size, advice) != 0) {
    emit_error("%s: madvise: %s", cmd, strerror(errno));
    return;
  }
  if (advice == MADV_POPULATE_WRITE) {
    /* The kernel write-faults every page in the range: count them as written, although their
     * contents do not change. */
    pl_clear(&pl);
    for (size_t i = a; i < b; i++) pl_add(&pl, i);
    emit_wrote(++phase, r, &pl, NULL);
  } else {
    emit_ok(cmd);
  }
}

static void cmd_write(char *args) {
  struct region *r = take_region(&args);
  if (!r || !take_pages(args, r) || !check_prot(r, P_RW, "write")) return;
  phase++;
  for (size_t i = 0; i < pl.n; i++) store_page(r, pl.v[i], (uint64_t)phase);
  emit_wrote(phase, r, &pl, NULL);
}

static void cmd_read(char *args) {
  struct region *r = take_region(&args);
  if (!r || !take_pages(args, r) || !check_prot(r, P_RO, "read")) return;
  uint64_t sum = 0;
  for (size_t i = 0; i < pl.n; i++)
    sum += *(volatile const uint64_t *)(r->start + pl.v[i] * page_size);
  fprintf(stderr, "scenario: read sum %llu\n", (unsigned long long)sum);
  emit_ok("read");
}

static void cmd_mprotect(char *args) {
  struct region *r = take_region(&args);
  size_t a, b;
  if (!r || !take_range(&args, r, &a, &b)) return;
  char *mode = next_token(&args);
  int p, flags;
  if (mode && strcmp(mode, "rw") == 0) p = P_RW, flags = PROT_READ | PROT_WRITE;
  else if (mode && strcmp(mode, "ro") == 0) p = P_RO, flags = PROT_READ;
  else if (mode && strcmp(mode, "none") == 0) p = P_NONE, flags = PROT_NONE;
  else {
    emit_error("mprotect: mode must be ro, rw or none");
    return;
  }
  if (mprotect(range_addr(r, a), (b - a) * page_size, flags) != 0) {
    emit_error("mprotect: %s", strerror(errno));
    return;
  }
  memset(prot[region_index(r)] + a, p, b - a);
  emit_ok("mprotect");
}

static void cmd_remap(char *args) {
  struct region *r = take_region(&args);
  if (!r) return;
  uint8_t *at = r->start;
  if (munmap(at, r->pages * page_size) != 0) {
    emit_error("remap: munmap: %s", strerror(errno));
    return;
  }
  /* Same address, fresh VMA: what a tracker sees when a mapping is replaced under it. */
  if (!map_pages(r->pages, r->thp, false, at)) {
    emit_error("remap: mmap at %p: %s (region is now unmapped)", (void *)at, strerror(errno));
    return;
  }
  memset(prot[region_index(r)], P_RW, r->pages);
  reply_regions("remap");
}

static void cmd_mremap(char *args) {
  struct region *r = take_region(&args);
  size_t pages;
  if (!r) return;
  if (!parse_size(next_token(&args), &pages) || pages == 0) {
    emit_error("mremap: need a page count > 0");
    return;
  }
  uint8_t *p = mremap(r->start, r->pages * page_size, pages * page_size, MREMAP_MAYMOVE);
  if (p == MAP_FAILED) {
    emit_error("mremap: %s", strerror(errno));
    return;
  }
  int k = region_index(r);
  uint8_t *np = realloc(prot[k], pages);
  if (!np) abort();
  /* Growth extends the last VMA, so new pages take the protection of the old last page. */
  if (pages > r->pages) memset(np + r->pages, np[r->pages - 1], pages - r->pages);
  prot[k] = np;
  r->start = p;
  r->pages = pages;
  reply_regions("mremap");
}

static void cmd_mmap(char *args) {
  char *name = next_token(&args);
  size_t pages;
  if (!name || !valid_name(name) || (name[0] >= '0' && name[0] <= '9') || region_find(name)) {
    emit_error("mmap: need a new region name ([A-Za-z_.-][A-Za-z0-9_.-]*)");
    return;
  }
  if (!parse_size(next_token(&args), &pages) || pages == 0) {
    emit_error("mmap: need a page count > 0");
    return;
  }
  if (nregions == MAX_REGIONS) {
    emit_error("mmap: at most %d regions", MAX_REGIONS);
    return;
  }
  uint8_t *p = map_pages(pages, regions[0].thp, false, NULL);
  if (!p) {
    emit_error("mmap: %s", strerror(errno));
    return;
  }
  struct region *r = region_add(name, p, pages, regions[0].thp);
  prot[region_index(r)] = calloc(pages, 1);
  reply_regions("mmap");
}

static void cmd_fork_write(char *args) {
  struct region *r = take_region(&args);
  if (!r || !take_pages(args, r) || !check_prot(r, P_RW, "write")) return;
  if (pl.n != 1) {
    emit_error("fork-write: need exactly one page");
    return;
  }
  if (nchildren == (int)(sizeof children / sizeof children[0])) {
    emit_error("fork-write: too many children");
    return;
  }
  pid_t parent = getpid();
  fflush(stdout); /* the child must never re-emit buffered output */
  pid_t child = fork();
  if (child < 0) {
    emit_error("fork-write: fork: %s", strerror(errno));
    return;
  }
  if (child == 0) {
    /* Hold the shared pages so the parent's store is a copy-on-write break; die with the parent. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    for (;;) pause();
  }
  children[nchildren++] = child;
  phase++;
  store_page(r, pl.v[0], (uint64_t)phase);
  char extra[48];
  snprintf(extra, sizeof extra, ",\"child\":%d", (int)child);
  emit_wrote(phase, r, &pl, extra);
}

static bool handle(const char *cmd, char *args) {
  if (strcmp(cmd, "write") == 0) cmd_write(args);
  else if (strcmp(cmd, "read") == 0) cmd_read(args);
  else if (strcmp(cmd, "populate-read") == 0) madvise_cmd(cmd, args, MADV_POPULATE_READ);
  else if (strcmp(cmd, "populate-write") == 0) madvise_cmd(cmd, args, MADV_POPULATE_WRITE);
  else if (strcmp(cmd, "dontneed") == 0) madvise_cmd(cmd, args, MADV_DONTNEED);
  else if (strcmp(cmd, "mprotect") == 0) cmd_mprotect(args);
  else if (strcmp(cmd, "remap") == 0) cmd_remap(args);
  else if (strcmp(cmd, "mremap") == 0) cmd_mremap(args);
  else if (strcmp(cmd, "mmap") == 0) cmd_mmap(args);
  else if (strcmp(cmd, "fork-write") == 0) cmd_fork_write(args);
  else return false;
  return true;
}

static void kill_children(void) {
  for (int i = 0; i < nchildren; i++) {
    kill(children[i], SIGKILL);
    waitpid(children[i], NULL, 0);
  }
}

int main(int argc, char **argv) {
  static const char *const values[] = {"--pages", NULL};
  static const char *const flags[] = {"--thp", "--populate", NULL};
  args_init(argc, argv, "scenario --pages N [--thp] [--populate]", values, flags);
  size_t pages = arg_u64("--pages", 0, true, 1, 1ULL << 32);
  bool thp = arg_flag("--thp");

  uint8_t *p = map_pages(pages, thp, false, NULL);
  if (!p) die_errno("mmap");
  struct region *r = region_add("main", p, pages, thp);
  prot[0] = calloc(pages, 1);
  if (!prot[0]) die_errno("calloc");
  /* Unpopulated by default: scenarios decide how pages first appear. */
  if (arg_flag("--populate")) populate(r);

  emit_ready_begin();
  out_end();
  command_loop(handle, kill_children);
}
