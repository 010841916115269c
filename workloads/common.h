/* Shared code for the dirtytrack workloads: option parsing, regions, JSON-lines output and the
 * lockstep command loop. See README.md for the protocol. */
#ifndef WORKLOADS_COMMON_H
#define WORKLOADS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_REGIONS 16
#define NAME_MAX_LEN 31

struct region {
  char name[NAME_MAX_LEN + 1];
  uint8_t *start;
  size_t pages;
  bool thp;
};

extern size_t page_size;
extern struct region regions[MAX_REGIONS];
extern int nregions;

/* ---- options: "--name value", "--name=value" or "--flag" ---- */
/* Parses argv against the known options; on anything else prints usage and exits 2. */
void args_init(int argc, char **argv, const char *usage, const char *const *value_opts,
               const char *const *flag_opts);
const char *arg_value(const char *name); /* NULL when absent */
uint64_t arg_u64(const char *name, uint64_t def, bool required, uint64_t min, uint64_t max);
double arg_double(const char *name, double def, double min, double max);
bool arg_flag(const char *name);
_Noreturn void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void die_errno(const char *what);

/* ---- regions ---- */
bool valid_name(const char *name);
/* Anonymous private PROT_READ|WRITE mapping of `pages` pages, NOHUGEPAGE, or with thp 2 MiB-aligned
 * and HUGEPAGE. `at` != NULL maps exactly there (MAP_FIXED_NOREPLACE). Returns NULL with errno set. */
uint8_t *map_pages(size_t pages, bool thp, bool noreserve, void *at);
/* Marks [start, start+pages) NOHUGEPAGE or HUGEPAGE; 0 or -1 with errno. */
int advise_thp(uint8_t *start, size_t pages, bool thp);
struct region *region_add(const char *name, uint8_t *start, size_t pages, bool thp);
struct region *region_find(const char *name);
/* One store per page (value 0 at offset 0) so every page is present and private before ready. */
void populate(struct region *r);

/* The only way the workloads write to a region: one aligned 8-byte store at the page's offset 0,
 * volatile so the compiler can neither drop nor merge it. */
static inline void store_page(const struct region *r, size_t page, uint64_t value) {
  *(volatile uint64_t *)(r->start + page * page_size) = value;
}

/* ---- page lists ---- */
struct pagelist {
  size_t *v;
  size_t n, cap;
};
void pl_add(struct pagelist *pl, size_t page);
void pl_sort_unique(struct pagelist *pl);
void pl_clear(struct pagelist *pl);

/* ---- JSON lines on stdout, one flushed line per event ---- */
void out_begin(const char *event); /* writes {"event":"<event>" */
void out_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void out_str(const char *key, const char *value); /* ,"key":"escaped value" */
void out_regions(void);                           /* ,"regions":[...] */
void out_end(void);                               /* } newline, flush */
void emit_ready_begin(void); /* ready line up to and including "regions"; caller may add, then out_end */
/* Sorts pl; extra (NULL or ',"key":value...') is appended to the event. */
void emit_wrote(int phase, const struct region *r, struct pagelist *pl, const char *extra);
void emit_ok(const char *cmd);
void emit_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- command loop ---- */
/* Handles one command (args may be ""); must print exactly one reply line; returns false if the
 * command is unknown (the loop then replies with an error). */
typedef bool (*command_fn)(const char *cmd, char *args);
/* Reads stdin line by line until "exit" or EOF, then calls on_exit (may be NULL), prints
 * {"event":"exit"} and exits 0. "regions" is answered here for every target. */
_Noreturn void command_loop(command_fn handle, void (*on_exit)(void));

/* ---- small parsing helpers for command arguments ---- */
char *next_token(char **args);                       /* whitespace-separated; NULL at end */
bool parse_size(const char *s, size_t *out);         /* whole decimal number */

/* ---- deterministic PRNG ---- */
uint64_t splitmix64(uint64_t *state);

#endif
