/* The maps walk the C references share: every mapping of /proc/PID/maps that pagemap can describe
 * (not [vsyscall], nothing above the 57-bit user space), in order, as dirtytrack's readMaps and
 * unscannableReason select them. The including file defines die(). */
#ifndef BENCH_PROC_MAPS_H
#define BENCH_PROC_MAPS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define USER_ADDR_LIMIT (1ULL << 56)

static void die(const char *what);

/* Calls fn(ctx, start, end) per mapping (byte addresses). */
static void for_each_mapping(int pid, void (*fn)(void *ctx, uint64_t start, uint64_t end), void *ctx) {
  char path[64], line[4096];
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  FILE *maps = fopen(path, "r");
  if (!maps) die(path);
  while (fgets(line, sizeof line, maps)) {
    unsigned long long s, e;
    if (sscanf(line, "%llx-%llx", &s, &e) != 2) continue;
    size_t len = strlen(line);
    if (len && line[len - 1] != '\n' && !feof(maps)) /* a path longer than the line buffer */
      for (int c; (c = fgetc(maps)) != EOF && c != '\n';) {}
    if (s >= USER_ADDR_LIMIT || strstr(line, "[vsyscall]")) continue;
    fn(ctx, s, e);
  }
  fclose(maps);
}

#endif
