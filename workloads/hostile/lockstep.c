#include "lockstep.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t hostile_value_base;
static struct region *main_region;
static uint64_t *expected; /* what each page of main holds, as this process stored it */
static int phase;
static struct pagelist written;

void hostile_init(int argc, char **argv, const char *usage, const char *const *values, const char *const *flags) {
  args_init(argc, argv, usage, values, flags);
  size_t pages = arg_u64("--pages", 64, false, 3, 1ULL << 24);
  uint8_t *p = map_pages(pages, false, false, NULL);
  if (!p) die_errno("mmap");
  main_region = region_add("main", p, pages, false);
  populate(main_region);
  expected = calloc(pages, sizeof *expected);
  if (!expected) die_errno("calloc");
}

size_t hostile_bad_pages(void) {
  size_t bad = 0;
  for (size_t i = 0; i < main_region->pages; i++)
    if (*(volatile uint64_t *)(main_region->start + i * page_size) != expected[i]) bad++;
  return bad;
}

bool hostile_handle(const char *cmd, char *args) {
  if (strcmp(cmd, "close-fd") == 0 || strcmp(cmd, "open-null") == 0) {
    /* The target's own descriptor work: close one (e.g. a tracker's), or open /dev/null into the lowest free number. */
    size_t fd = 0;
    char *tok = next_token(&args);
    int r = cmd[0] == 'c' ? (tok && parse_size(tok, &fd) ? close((int)fd) : -1) : open("/dev/null", O_RDONLY);
    if (r < 0) {
      emit_error("%s failed", cmd);
      return true;
    }
    out_begin("ok");
    out_str("cmd", cmd);
    out_raw(",\"fd\":%d", cmd[0] == 'c' ? (int)fd : r);
    out_end();
    return true;
  }
  if (strcmp(cmd, "check") == 0) {
    size_t bad = hostile_bad_pages();
    out_begin("ok");
    out_str("cmd", "check");
    out_raw(",\"intact\":%s,\"bad\":%zu", bad ? "false" : "true", bad);
    out_end();
    return true;
  }
  if (strcmp(cmd, "write") != 0) return false;
  phase++;
  pl_clear(&written);
  for (size_t i = (size_t)(phase - 1) % 3; i < main_region->pages; i += 3) {
    expected[i] = hostile_value_base + (uint64_t)phase;
    store_page(main_region, i, expected[i]);
    pl_add(&written, i);
  }
  emit_wrote(phase, main_region, &written, NULL);
  return true;
}
