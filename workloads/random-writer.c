/* random-writer: phase p stores to M distinct pages drawn by a PRNG seeded from (seed, p), so a
 * phase's pages depend only on the seed and the phase number. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

static struct region *main_region;
static uint64_t count, seed;
static int phase;
static size_t *perm;
static struct pagelist written;

static bool handle(const char *cmd, char *args) {
  (void)args;
  if (strcmp(cmd, "write") != 0) return false;
  phase++;
  pl_clear(&written);
  uint64_t state = seed ^ ((uint64_t)phase * 0xd1b54a32d192ed03ULL);
  size_t n = main_region->pages;
  for (size_t i = 0; i < n; i++) perm[i] = i;
  /* Partial Fisher-Yates: the first `count` entries become a uniform random sample. The modulo
   * bias is below 2^-32 for any region that fits in memory. */
  for (size_t i = 0; i < count; i++) {
    size_t j = i + (size_t)(splitmix64(&state) % (n - i));
    size_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    store_page(main_region, perm[i], (uint64_t)phase); /* stores in random order */
    pl_add(&written, perm[i]);
  }
  emit_wrote(phase, main_region, &written, NULL);
  return true;
}

int main(int argc, char **argv) {
  static const char *const values[] = {"--pages", "--count", "--seed", NULL};
  static const char *const flags[] = {"--thp", "--no-populate", NULL};
  args_init(argc, argv,
            "random-writer --pages N --count M --seed S [--thp] [--no-populate]", values, flags);
  size_t pages = arg_u64("--pages", 0, true, 1, 1ULL << 32);
  count = arg_u64("--count", 0, true, 0, pages);
  seed = arg_u64("--seed", 0, true, 0, UINT64_MAX);
  bool thp = arg_flag("--thp");

  perm = malloc(pages * sizeof *perm);
  if (!perm) die_errno("malloc");
  uint8_t *p = map_pages(pages, thp, false, NULL);
  if (!p) die_errno("mmap");
  main_region = region_add("main", p, pages, thp);
  if (!arg_flag("--no-populate")) populate(main_region);

  emit_ready_begin();
  out_end();
  command_loop(handle, NULL);
}
