/* family: a group of processes that know their truth — a root and forked children writing private
 * copy-on-write pages of `main` and, for the first --shared-writers of them, pages of one shared
 * memfd `shm`. The driver talks to the root only (README.md, "family"); the root relays to each child
 * over a pipe pair (the child's stdin and stdout) and answers with every process's writes. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCS 64

static const char *const VALUE_OPTS[] = {"--pages", "--count", "--shared-pages", "--shared-count", "--shared-writers",
                                         "--children", "--seed", "--index", "--memfd", "--shared-file", NULL};
static const char *const FLAG_OPTS[] = {NULL};
static const char USAGE[] =
    "family --pages N --count M --shared-pages S --shared-count C [--shared-writers W] [--children K] [--seed X]\n"
    "       [--shared-file PATH]";

static size_t count, shared_count, shared_writers;
static uint64_t seed;
static int my_index; /* 0: the root */
static int memfd = -1;

struct child {
  pid_t pid;
  int index;
  FILE *to, *from;
};
static struct child kids[MAX_PROCS];
static int nkids, next_index = 1;

/* M distinct pages of n drawn by splitmix64 from (seed, process index, phase, salt). */
static void choose(struct pagelist *pl, size_t n, size_t m, int phase, uint64_t salt) {
  uint64_t st = seed;
  st ^= splitmix64(&st) ^ (uint64_t)my_index * 0xd1b54a32d192ed03ULL;
  st ^= splitmix64(&st) ^ (uint64_t)phase * 0x8cb92ba72f3d8dd7ULL ^ salt;
  if (m > n) m = n;
  pl_clear(pl);
  while (pl->n < m) {
    pl_add(pl, splitmix64(&st) % n);
    pl_sort_unique(pl);
  }
}

/* One phase of this process: stores, then its entry {"pid":…,"regions":[…],"writes":[…]} without newline. */
static void write_phase(int phase) {
  static struct pagelist priv, shared;
  struct region *m = region_find("main"), *s = region_find("shm");
  choose(&priv, m->pages, count, phase, 1);
  for (size_t i = 0; i < priv.n; i++) store_page(m, priv.v[i], (uint64_t)phase);
  pl_clear(&shared);
  if ((size_t)my_index < shared_writers) {
    choose(&shared, s->pages, shared_count, phase, 2);
    for (size_t i = 0; i < shared.n; i++) store_page(s, shared.v[i], (uint64_t)phase);
  }
  printf("{\"pid\":%d", (int)getpid());
  out_regions();
  printf(",\"writes\":[{\"region\":\"main\",\"pages\":[");
  for (size_t i = 0; i < priv.n; i++) printf(i ? ",%zu" : "%zu", priv.v[i]);
  printf("]},{\"region\":\"shm\",\"pages\":[");
  for (size_t i = 0; i < shared.n; i++) printf(i ? ",%zu" : "%zu", shared.v[i]);
  printf("]}]}");
}

static void map_regions(size_t pages, size_t shared_pages) {
  uint8_t *p = map_pages(pages, false, false, NULL);
  if (!p) die_errno("mmap main");
  populate(region_add("main", p, pages, false));
  if (memfd < 0) {
    /* inherited across fork and exec: one object for all; a regular file with --shared-file */
    const char *path = arg_value("--shared-file");
    memfd = path ? open(path, O_RDWR | O_CREAT | O_TRUNC, 0600) : memfd_create("family-shm", 0);
    if (memfd < 0) die_errno(path ? "open --shared-file" : "memfd_create");
    if (ftruncate(memfd, (off_t)(shared_pages * page_size)) != 0) die_errno("ftruncate");
  }
  uint8_t *s = mmap(NULL, shared_pages * page_size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (s == MAP_FAILED) die_errno("mmap shm");
  if (advise_thp(s, shared_pages, false) != 0) die_errno("madvise shm");
  struct region *r = region_add("shm", s, shared_pages, false);
  if (my_index == 0) populate(r); /* children find the object's pages already there */
}

/* ---- a child: commands on stdin from the root, one line back on stdout ---- */

static bool child_command(const char *cmd, char *args) {
  if (strcmp(cmd, "write") == 0) {
    size_t phase;
    if (!parse_size(next_token(&args), &phase)) {
      emit_error("write: need the phase");
      return true;
    }
    write_phase((int)phase);
    putchar('\n');
    fflush(stdout);
    return true;
  }
  if (strcmp(cmd, "exec") == 0) {
    /* A new program image in this process: same pipes (stdin/stdout), same memfd, new private memory. */
    char idx[16], fd[16], pages[32], cnt[32], sp[32], sc[32], sw[32], sd[32];
    snprintf(idx, sizeof idx, "%d", my_index);
    snprintf(fd, sizeof fd, "%d", memfd);
    snprintf(pages, sizeof pages, "%zu", region_find("main")->pages);
    snprintf(sp, sizeof sp, "%zu", region_find("shm")->pages);
    snprintf(cnt, sizeof cnt, "%zu", count);
    snprintf(sc, sizeof sc, "%zu", shared_count);
    snprintf(sw, sizeof sw, "%zu", shared_writers);
    snprintf(sd, sizeof sd, "%llu", (unsigned long long)seed);
    fflush(stdout);
    execl("/proc/self/exe", "family", "--index", idx, "--memfd", fd, "--pages", pages, "--count", cnt, "--shared-pages", sp,
          "--shared-count", sc, "--shared-writers", sw, "--seed", sd, (char *)NULL);
    emit_error("exec: %s", strerror(errno));
    return true;
  }
  return false;
}

static _Noreturn void child_main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the root */
  command_loop(child_command, NULL);
}

/* ---- the root ---- */

static bool fork_child(void) {
  if (nkids == MAX_PROCS) return false;
  int down[2], up[2];
  if (pipe(down) || pipe(up)) return false;
  fflush(stdout); /* the child must never re-emit buffered output */
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    dup2(down[0], 0);
    dup2(up[1], 1);
    __fpurge(stdin); /* what the root had read ahead is the root's */
    close(down[0]), close(down[1]), close(up[0]), close(up[1]);
    for (int i = 0; i < nkids; i++) fclose(kids[i].to), fclose(kids[i].from);
    my_index = next_index;
    child_main();
  }
  close(down[0]);
  close(up[1]);
  kids[nkids++] = (struct child){pid, next_index++, fdopen(down[1], "w"), fdopen(up[0], "r")};
  setvbuf(kids[nkids - 1].to, NULL, _IOLBF, 0);
  return true;
}

static struct child *kid(char *args) {
  size_t pid;
  if (!parse_size(next_token(&args), &pid)) return NULL;
  for (int i = 0; i < nkids; i++)
    if (kids[i].pid == (pid_t)pid) return &kids[i];
  return NULL;
}

/* Send one line to a child and read its one reply (no newline); false when it is gone. */
static bool ask(struct child *c, const char *line, char **reply, size_t *cap) {
  if (fprintf(c->to, "%s\n", line) < 0 || fflush(c->to) != 0) return false;
  ssize_t n = getline(reply, cap, c->from);
  if (n <= 0) return false;
  if ((*reply)[n - 1] == '\n') (*reply)[n - 1] = '\0';
  return true;
}

static void forget(struct child *c) {
  fclose(c->to);
  fclose(c->from);
  waitpid(c->pid, NULL, 0);
  *c = kids[--nkids];
}

static int phase;

static bool root_command(const char *cmd, char *args) {
  static char *reply;
  static size_t cap;
  if (strcmp(cmd, "write") == 0) {
    phase++;
    out_begin("wrote");
    printf(",\"phase\":%d,\"procs\":[", phase);
    write_phase(phase);
    char line[32];
    snprintf(line, sizeof line, "write %d", phase);
    for (int i = 0; i < nkids; i++) {
      if (!ask(&kids[i], line, &reply, &cap)) reply = strdup("{\"error\":\"child gone\"}");
      printf(",%s", reply);
    }
    printf("]");
    out_end();
  } else if (strcmp(cmd, "fork") == 0) {
    if (!fork_child()) emit_error("fork: %s", strerror(errno));
    else {
      out_begin("ok");
      out_str("cmd", "fork");
      out_raw(",\"pid\":%d", (int)kids[nkids - 1].pid);
      out_end();
    }
  } else if (strcmp(cmd, "exit-child") == 0 || strcmp(cmd, "exec-child") == 0) {
    bool exec = strcmp(cmd, "exec-child") == 0;
    struct child *c = kid(args);
    if (!c) emit_error("%s: no such child", cmd);
    else if (!ask(c, exec ? "exec" : "exit", &reply, &cap)) emit_error("%s: the child is gone", cmd);
    else {
      pid_t pid = c->pid;
      if (!exec) forget(c);
      out_begin("ok");
      out_str("cmd", cmd);
      out_raw(",\"pid\":%d", (int)pid);
      if (exec) out_raw(",\"ready\":%s", reply);
      out_end();
    }
  } else {
    return false;
  }
  return true;
}

static void on_exit_root(void) {
  static char *reply;
  static size_t cap;
  while (nkids > 0) {
    ask(&kids[0], "exit", &reply, &cap);
    forget(&kids[0]);
  }
}

int main(int argc, char **argv) {
  args_init(argc, argv, USAGE, VALUE_OPTS, FLAG_OPTS);
  size_t pages = arg_u64("--pages", 0, true, 1, 1 << 24);
  size_t shared_pages = arg_u64("--shared-pages", 0, true, 1, 1 << 24);
  count = arg_u64("--count", 0, true, 0, pages);
  shared_count = arg_u64("--shared-count", 0, true, 0, shared_pages);
  shared_writers = arg_u64("--shared-writers", 2, false, 0, MAX_PROCS);
  seed = arg_u64("--seed", 1, false, 0, UINT64_MAX);
  my_index = (int)arg_u64("--index", 0, false, 0, 1 << 20);
  memfd = (int)arg_u64("--memfd", (uint64_t)-1, false, 0, 1 << 20);
  size_t children = arg_u64("--children", 0, false, 0, MAX_PROCS - 1);
  map_regions(pages, shared_pages);
  if (my_index > 0) { /* after exec in a child: say ready to the root, then serve it */
    emit_ready_begin();
    out_end();
    child_main();
  }
  for (size_t i = 0; i < children; i++)
    if (!fork_child()) die_errno("fork");
  emit_ready_begin();
  out_raw(",\"procs\":[%d", (int)getpid());
  for (int i = 0; i < nkids; i++) out_raw(",%d", (int)kids[i].pid);
  out_raw("]");
  out_end();
  command_loop(root_command, on_exit_root);
}
