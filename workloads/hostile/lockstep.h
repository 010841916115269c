/* Shared by the hostile targets: one populated region "main", stride writes whose truth is reported,
 * and a self-check of the target's own memory. See ../README.md (hostile targets). */
#ifndef HOSTILE_LOCKSTEP_H
#define HOSTILE_LOCKSTEP_H

#include "../common.h"

/* Maps and populates region "main" of `pages` pages (--pages, default 64). */
void hostile_init(int argc, char **argv, const char *usage, const char *const *values, const char *const *flags);

/* Handles `write` (phase p stores value base + p to every page i with i % 3 == (p - 1) % 3),
 * `check` (every page still holds the last value this process stored there), `close-fd N` and
 * `open-null` (the target's own descriptor work); false otherwise. */
bool hostile_handle(const char *cmd, char *args);

/* Value added to the phase number in stored values (a forked child uses its own). */
extern uint64_t hostile_value_base;

/* Number of pages of "main" whose content differs from what this process last stored. */
size_t hostile_bad_pages(void);

#endif
