/* stride-writer: phase p stores to every page i with i % K == (O + p - 1) % K. */
#include "common.h"

#include <string.h>

static struct region *main_region;
static uint64_t stride, offset;
static int phase;
static struct pagelist written;

static bool handle(const char *cmd, char *args) {
  (void)args;
  if (strcmp(cmd, "write") != 0) return false;
  phase++;
  pl_clear(&written);
  for (size_t i = (offset + (uint64_t)phase - 1) % stride; i < main_region->pages; i += stride) {
    store_page(main_region, i, (uint64_t)phase); /* the phase number marks the page for checkers */
    pl_add(&written, i);
  }
  emit_wrote(phase, main_region, &written, NULL);
  return true;
}

int main(int argc, char **argv) {
  static const char *const values[] = {"--pages", "--stride", "--offset", NULL};
  static const char *const flags[] = {"--thp", "--no-populate", NULL};
  args_init(argc, argv, "stride-writer --pages N --stride K [--offset O] [--thp] [--no-populate]",
            values, flags);
  size_t pages = arg_u64("--pages", 0, true, 1, 1ULL << 32);
  stride = arg_u64("--stride", 0, true, 1, 1ULL << 32);
  offset = arg_u64("--offset", 0, false, 0, 1ULL << 32);
  bool thp = arg_flag("--thp");

  uint8_t *p = map_pages(pages, thp, false, NULL);
  if (!p) die_errno("mmap");
  main_region = region_add("main", p, pages, thp);
  /* Populated pages make later phases measure re-dirtying, not first-touch faults. */
  if (!arg_flag("--no-populate")) populate(main_region);

  emit_ready_begin();
  out_end();
  command_loop(handle, NULL);
}
