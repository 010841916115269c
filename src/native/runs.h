/* A growable list of page runs [start, end), kept between calls by the walks that fill it. */
#ifndef DIRTYTRACK_RUNS_H
#define DIRTYTRACK_RUNS_H

#include <stdbool.h>
#include <stdlib.h>

struct run {
  double start, end; /* page numbers, [start, end): exact below 2^53, and handed to JS as they are */
};

struct runs {
  struct run *v;
  size_t n, cap;
};

static inline bool runs_push(struct runs *r, double s, double e) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    struct run *v = realloc(r->v, cap * sizeof *v);
    if (!v) return false;
    r->v = v;
    r->cap = cap;
  }
  r->v[r->n++] = (struct run){s, e};
  return true;
}

/* Lists grown past this are let go after a call, so that one huge answer is not held for good. */
#define RUNS_KEEP_BYTES (8u << 20)

static inline void runs_trim(struct runs *r) {
  if (r->cap * sizeof *r->v <= RUNS_KEEP_BYTES) return;
  free(r->v);
  *r = (struct runs){0};
}

#endif
