/* readonly: populates its region, then every phase only reads it. A tracker must report nothing. */
#include "common.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static struct region *main_region;
static int phase;
static struct pagelist none;

static bool handle(const char *cmd, char *args) {
  (void)args;
  if (strcmp(cmd, "write") != 0) return false;
  phase++;
  uint64_t sum = 0;
  for (size_t i = 0; i < main_region->pages; i++)
    sum += *(volatile const uint64_t *)(main_region->start + i * page_size);
  /* Printing the sum keeps the reads observable, so they cannot be optimised away. */
  fprintf(stderr, "readonly: phase %d sum %" PRIu64 "\n", phase, sum);
  emit_wrote(phase, main_region, &none, NULL);
  return true;
}

int main(int argc, char **argv) {
  static const char *const values[] = {"--pages", NULL};
  static const char *const flags[] = {"--thp", NULL};
  args_init(argc, argv, "readonly --pages N [--thp]", values, flags);
  size_t pages = arg_u64("--pages", 0, true, 1, 1ULL << 32);
  bool thp = arg_flag("--thp");

  uint8_t *p = map_pages(pages, thp, false, NULL);
  if (!p) die_errno("mmap");
  main_region = region_add("main", p, pages, thp);
  populate(main_region);

  emit_ready_begin();
  out_end();
  command_loop(handle, NULL);
}
